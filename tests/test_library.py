"""The library's own behaviour seen from outside: what it exports, its memory protections, the
report at each verbosity, the kernel dump, and the settings that change routing.

Each case runs a small Python program in a subprocess that loads libxsmmwrap.so with ctypes
and calls its dgemm_ directly on shapes the kernel path serves (no original BLAS needed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_env

# Every exported GEMM name: the real and complex names in each form (Fortran, CBLAS; LP64,
# ILP64; plain and scipy_), as src/wrap/entry_list.h lists them.
ENTRY_POINTS = {
    f"{prefix}{name}"
    for prefix in ("", "scipy_")
    for p in "dszc"
    for name in (f"{p}gemm_", f"{p}gemm_64_", f"cblas_{p}gemm", f"cblas_{p}gemm64_")
}

# Calls dgemm_ on the shapes given as argv[2:] ("MxNxK", alpha 1, beta 0 or "MxNxK:1" for beta
# 1; K = 0 is C = beta*C), checks each result against numpy, then prints the process's
# writable+executable mappings.
PROGRAM = r"""
import ctypes as ct, sys
import numpy as np
lib = ct.CDLL(sys.argv[1])
I, D = ct.c_int32, ct.c_double
rng = np.random.default_rng(1)
for spec in sys.argv[2:]:
    shape, _, beta = spec.partition(":")
    m, n, k = (int(x) for x in shape.split("x"))
    a = np.asfortranarray(rng.standard_normal((m, k)))
    b = np.asfortranarray(rng.standard_normal((k, n)))
    c = np.asfortranarray(rng.standard_normal((m, n)))
    bv = float(beta or 0.0)
    want = a @ b + bv * c
    ldb = max(k, 1)
    lib.dgemm_(b"N", b"N", ct.byref(I(m)), ct.byref(I(n)), ct.byref(I(k)), ct.byref(D(1.0)),
               a.ctypes.data_as(ct.c_void_p), ct.byref(I(m)), b.ctypes.data_as(ct.c_void_p),
               ct.byref(I(ldb)), ct.byref(D(bv)), c.ctypes.data_as(ct.c_void_p), ct.byref(I(m)),
               ct.c_size_t(1), ct.c_size_t(1))
    assert np.allclose(c, want, rtol=1e-12, atol=1e-12), spec
with open("/proc/self/maps") as f:
    wx = [line for line in f if line.split()[1].startswith("rw") and line.split()[1][2] == "x"]
    f.seek(0)
    memfd = [line for line in f if "xsmmwrap-code" in line]
print("WX", len(wx))
for line in wx:
    print(line, end="")
print("MEMFD", len(memfd))
"""


def run(libpath: Path, shapes: list[str], tmp_path: Path, **env: str) -> tuple[str, str, dict]:
    stats = tmp_path / "stats.json"
    r = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(libpath), *shapes],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(XSMMWRAP_STATS_JSON=str(stats), **env),
    )
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr, json.loads(stats.read_text())


def test_entry_list_is_the_exported_names() -> None:
    """entry_list.h (which the adapters, the archive's members and the statistics expand) and
    exports.map (what the linker exports) name the same GEMM entry points."""
    wrap = Path(__file__).resolve().parent.parent / "src" / "wrap"
    listed = re.findall(r"^\s*X\((\w+),", (wrap / "entry_list.h").read_text(), re.M)
    assert len(listed) == len(set(listed)) == 32
    assert set(listed) == ENTRY_POINTS
    exported = set(re.findall(r"\b(\w+);", (wrap / "exports.map").read_text()))  # not xsmmwrap_*
    assert exported == ENTRY_POINTS


def test_exports_only_entry_points_and_api(libpath: Path) -> None:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(libpath)], capture_output=True, text=True, check=True
    ).stdout
    names = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert ENTRY_POINTS <= names
    others = {n for n in names - ENTRY_POINTS if not n.startswith("xsmmwrap_")}
    assert others == set(), f"unexpected exports: {sorted(others)}"


def test_no_mapping_writable_and_executable(libpath: Path, tmp_path: Path) -> None:
    # Enough distinct shapes to fill more than one page of code.
    shapes = [f"{m}x{n}x{k}" for m in (3, 8, 13) for n in (4, 9, 23) for k in (5, 16, 40)]
    out, _, stats = run(libpath, shapes, tmp_path)
    assert stats["routes"]["jit"] + stats["routes"]["portable"] == len(shapes)
    assert out.startswith("WX 0"), out
    if stats["target"] != "generic":
        assert stats["memory"]["code_bytes"] > 4096


# dlopen, a GEMM call from a thread that stays alive, dlclose, then that thread exits (the
# library's per-thread statistics destructor runs then) and the main thread calls again.
UNLOAD = r"""
import ctypes as ct, sys, threading, _ctypes
import numpy as np
lib = ct.CDLL(sys.argv[1])
I, D = ct.c_int32, ct.c_double

def gemm(lib):
    n = 8
    a = np.asfortranarray(np.ones((n, n))); c = np.asfortranarray(np.zeros((n, n)))
    lib.dgemm_(b"N", b"N", ct.byref(I(n)), ct.byref(I(n)), ct.byref(I(n)), ct.byref(D(1.0)),
               a.ctypes.data_as(ct.c_void_p), ct.byref(I(n)), a.ctypes.data_as(ct.c_void_p),
               ct.byref(I(n)), ct.byref(D(0.0)), c.ctypes.data_as(ct.c_void_p), ct.byref(I(n)),
               ct.c_size_t(1), ct.c_size_t(1))
    assert (c == n).all()

called, leave = threading.Event(), threading.Event()
def worker():
    gemm(lib)
    called.set()
    leave.wait()
t = threading.Thread(target=worker)
t.start()
called.wait()
_ctypes.dlclose(lib._handle)
leave.set()
t.join()
with open("/proc/self/maps") as f:
    print("MAPPED", sum("libxsmmwrap" in line for line in f))
gemm(ct.CDLL(sys.argv[1]))
print("OK")
"""


def test_dlclose_leaves_the_library_loaded(libpath: Path) -> None:
    """dlclose() does not unload the library (-z nodelete): threads that called it keep a
    statistics destructor in it, and enable() may have pointed other objects' slots at it."""
    r = subprocess.run([sys.executable, "-c", UNLOAD, str(libpath)], capture_output=True,
                       text=True, timeout=120, env=clean_env())  # fmt: skip
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert "OK" in r.stdout and "MAPPED 0" not in r.stdout, r.stdout


@pytest.mark.parametrize("env", [{}, {"XSMMWRAP_JIT": "0"}], ids=["jit", "portable"])
def test_code_memory_resident_once(cbuild: Path, env: dict[str, str]) -> None:
    """tests/c/test_code_mem.c: 1000 kernels (several code regions) run right when made and
    again after their pages left the writable view; the memory the library reports grows as
    VmRSS does; one writable code view is left, holding at most two 64 KiB chunks, the
    executable views hold all the code (so VmRSS counts each page once); after fork() the child
    runs the parent's kernels and makes its own, with the same mappings, and the parent goes
    on."""
    exe = cbuild / "tests" / "c" / "test_code_mem"
    assert exe.exists(), f"not built: {exe}"
    r = subprocess.run([str(exe)], env=clean_env(OPENBLAS_NUM_THREADS="1", **env),
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"exit {r.returncode}:\n{out[-4000:]}"
    generated = re.search(r"^generated (\d+) of 1001 kernels$", r.stdout, re.M)
    assert generated, out[-4000:]
    jit = int(generated[1]) > 0
    assert jit == (not env and "avx2" in Path("/proc/cpuinfo").read_text()), out[-4000:]
    passed = 19 if jit else 11  # the mapping checks need generated code
    assert re.search(rf"^{passed} passed, 0 failed$", r.stdout, re.M), out[-4000:]


# Makes memfd_create fail as on a kernel or sandbox without it (seccomp, gVisor, Linux < 3.17).
NO_MEMFD = r"""
#include <errno.h>
int memfd_create(const char *name, unsigned flags)
{
    (void)name;
    (void)flags;
    errno = ENOSYS;
    return -1;
}
"""


def test_code_memory_without_memfd(libpath: Path, tmp_path: Path) -> None:
    """Without memfd_create, kernels go to private pages written, then made read+execute:
    still generated, right, and never writable and executable."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed (tools/setup.sh installs gcc)"
    shim = tmp_path / "no_memfd.so"
    src = tmp_path / "no_memfd.c"
    src.write_text(NO_MEMFD)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(shim), str(src)], check=True)
    shapes = [f"{m}x{n}x{k}" for m in (3, 8, 13) for n in (4, 9) for k in (5, 16)]
    out, _, stats = run(libpath, shapes, tmp_path, LD_PRELOAD=str(shim))
    assert out.startswith("WX 0"), out
    assert "MEMFD 0" in out, out  # the memfd path was really not taken
    if stats["target"] != "generic":
        assert stats["routes"]["jit"] == len(shapes) and stats["jit_failures"] == 0
    out, _, _ = run(libpath, shapes, tmp_path)  # and without the shim it is taken
    if stats["target"] != "generic":
        assert "MEMFD 0" not in out, out


@pytest.mark.parametrize(
    "name, value",
    [("XSMMWRAP_TARGET", "avx-512"), ("LIBXSMM_TARGET", "zen9"), ("XSMMWRAP_MAX_MNK", "12k"),
     ("LIBXSMM_VERBOSE", "loud")],
)  # fmt: skip
def test_setting_not_understood_is_reported(
    libpath: Path, tmp_path: Path, name: str, value: str
) -> None:
    """A value the library cannot read is named on stderr once, and its default used."""
    _, err, stats = run(libpath, ["8x8x8", "5x5x5"], tmp_path, **{name: value})
    assert err == f"xsmmwrap: {name}={value} not understood, its default is used (see the README)\n"
    assert stats["routes"]["jit"] + stats["routes"]["portable"] == 2
    _, err, _ = run(libpath, ["8x8x8"], tmp_path, XSMMWRAP_TARGET="AVX2", XSMMWRAP_MAX_MNK="4096 ")
    assert err == ""


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_verbosity_levels(libpath: Path, tmp_path: Path, level: int) -> None:
    shapes = ["8x8x8", "8x8x8", "5x5x5:1", "6x7x0:1"]
    _, err, _ = run(libpath, shapes, tmp_path, LIBXSMM_VERBOSE=str(level))
    summary = re.search(r"calls intercepted: (\d+)", err)
    table = re.findall(r"^\s+(dgemm_\w+)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)$", err, re.M)
    created = re.findall(r"^xsmmwrap: kernel (\d+) (dgemm_\w+) \((\d+) bytes\)$", err, re.M)
    if level == 0:
        assert err == ""
        return
    assert summary and int(summary.group(1)) == 4
    assert re.search(r"^  kernel path:       3 \(75\.0%\): jit \d+, portable \d+$", err, re.M)
    assert re.search(r"^  scale \(no kernel\): 1 \(25\.0%\)$", err, re.M)  # K = 0: no kernel
    assert re.search(r"^  original BLAS:     0 \(0\.0%\)$", err, re.M)
    if level >= 2:
        calls = {name: int(c) for name, c, _, _ in table}
        assert len(calls) == 2 and sorted(calls.values()) == [1, 2]
        assert any("_8x8x8_" in name and "_b0" in name for name in calls)
        assert any("_5x5x5_" in name and "_b1" in name for name in calls)
    else:
        assert table == []
    assert len(created) == (2 if level >= 3 else 0)


def test_verbosity_settable_at_run_time(libpath: Path, tmp_path: Path) -> None:
    program = PROGRAM.replace(
        "lib = ct.CDLL(sys.argv[1])", "lib = ct.CDLL(sys.argv[1]); lib.xsmmwrap_set_verbosity(1)"
    )
    r = subprocess.run(
        [sys.executable, "-c", program, str(libpath), "4x4x4"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "calls intercepted: 1" in r.stderr


def test_dump_writes_disassemblable_kernels(libpath: Path, tmp_path: Path) -> None:
    assert shutil.which("objdump"), "binutils (objdump) is needed: tools/setup.sh installs it"
    dump = tmp_path / "dump"
    dump.mkdir()
    _, _, stats = run(libpath, ["8x8x8", "7x3x5:1"], tmp_path, XSMMWRAP_DUMP=str(dump))
    files = sorted(p.name for p in dump.iterdir())
    if stats["target"] == "generic":
        assert files == []
        return
    assert len(files) == 2 and all(f.startswith("dgemm_") and f.endswith(".bin") for f in files)
    for f in files:
        text = subprocess.run(
            ["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", str(dump / f)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "(bad)" not in text
        assert re.search(r"\bret\b", text) and re.search(r"vfmadd231p[ds]", text)
    sizes = {k["code_bytes"] for k in stats["kernels"]}
    assert sizes == {(dump / f).stat().st_size for f in files}


def test_negative_verbosity_dumps_to_current_directory(libpath: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(libpath), "6x6x6"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(LIBXSMM_VERBOSE="-1"),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "calls intercepted: 1" in r.stderr
    bins = list(tmp_path.glob("dgemm_*_6x6x6_*.bin"))
    jit = "jit 1" in r.stderr
    assert len(bins) == (1 if jit else 0)


def test_disable_sends_everything_to_the_original(libpath: Path, tmp_path: Path) -> None:
    # With the wrapper disabled dgemm_ needs an original: OpenBLAS, named explicitly.
    blas = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"
    if not os.path.exists(blas):
        pytest.fail("system OpenBLAS missing: tools/setup.sh installs libopenblas-dev")
    _, _, stats = run(
        libpath, ["8x8x8", "4x4x4"], tmp_path, XSMMWRAP_DISABLE="1", XSMMWRAP_BLAS=blas
    )
    assert stats["routes"]["disabled"] == 2 and stats["kernels"] == []


def test_registry_full_goes_to_the_original(libpath: Path, tmp_path: Path) -> None:
    blas = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"
    _, _, stats = run(
        libpath,
        ["8x8x8", "4x4x4", "8x8x8", "5x5x5"],
        tmp_path,
        XSMMWRAP_MAX_KERNELS="1",
        XSMMWRAP_BLAS=blas,
    )
    assert stats["routes"]["registry_full"] == 2
    assert stats["routes"]["jit"] + stats["routes"]["portable"] == 2
    assert len(stats["kernels"]) == 1


def test_threshold_is_configurable(libpath: Path, tmp_path: Path) -> None:
    blas = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"
    _, _, stats = run(
        libpath, ["8x8x8", "4x4x4"], tmp_path, XSMMWRAP_MAX_MNK="100", XSMMWRAP_BLAS=blas
    )
    assert stats["routes"]["too_large"] == 1
    assert [k["m"] for k in stats["kernels"]] == [4]


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("generic", "generic"),
        ("avx2", "avx2"),
        ("avx512", "avx512"),
        ("hsw", "avx2"),
        ("skx", "avx512"),
        ("snb", "generic"),
    ],
)
def test_forced_target(libpath: Path, tmp_path: Path, value: str, target: str) -> None:
    shapes = ["8x8x8", "13x5x7:1", "3x3x3"]
    _, _, stats = run(libpath, shapes, tmp_path, LIBXSMM_TARGET=value)
    cpu = stats["cpu_target"]
    order = ["generic", "avx2", "avx512"]
    expect = order[min(order.index(target), order.index(cpu))]
    assert stats["target"] == expect
    kinds = {k["target"] for k in stats["kernels"]}
    assert kinds == ({"portable"} if expect == "generic" else {expect})
    route = "portable" if expect == "generic" else "jit"
    assert stats["routes"][route] == len(shapes)


def test_jit_off_uses_the_portable_kernel(libpath: Path, tmp_path: Path) -> None:
    _, _, stats = run(libpath, ["8x8x8", "9x2x4:1"], tmp_path, XSMMWRAP_JIT="0")
    assert stats["target"] == "generic"
    assert stats["routes"]["portable"] == 2 and stats["jit_failures"] == 0


def test_shapes_taken_in_turns(libpath: Path, tmp_path: Path) -> None:
    """Calls that take turns among a few shapes are served from the thread's recent calls (the
    miss path skips the route); among more shapes than it remembers, some are evicted. Either
    way every result is right (PROGRAM checks each against numpy) and every call is counted on
    its own kernel."""
    few = ["5x25x5", "5x5x5", "25x5x5:1", "5x5x5:1"] * 60
    many = [f"{3 + i % 7}x{2 + i % 11}x{4 + i}" for i in range(40)] * 6
    shapes = few + many
    _, _, stats = run(libpath, shapes, tmp_path)
    assert stats["intercepted"] == len(shapes) == stats["routes"]["jit"]
    calls: dict[tuple[int, int, int, int], int] = {}
    for s in shapes:
        dims, _, beta = s.partition(":")
        m, n, k = (int(x) for x in dims.split("x"))
        key = (m, n, k, beta or "0")
        calls[key] = calls.get(key, 0) + 1
    got = {(kn["m"], kn["n"], kn["k"], kn["beta"]): kn["calls"] for kn in stats["kernels"]}
    assert got == calls
