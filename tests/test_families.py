"""GEMV, SYRK and the batch interfaces (issue 15): every exported name against numpy, one process
per name and provider, with the statistics checked call for call.

tests/_family_driver.py calls the name through ctypes; declined calls go to XSMMWRAP_BLAS:

  dgemv_ sgemv_ dsyrk_ ssyrk_ cblas_*           system OpenBLAS (LP64) and reference BLAS
  scipy_*gemv_ scipy_*syrk_ scipy_cblas_*       scipy.libs' OpenBLAS; ILP64 ones numpy.libs'
  scipy_[ds]gemm_batch*_ scipy_cblas_*batch*    scipy-openblas32 (OpenBLAS 0.3.34: the wheels'
                                                 own are 0.3.30/0.3.31, whose batches crash on
                                                 products below 100^3)
  the other batch names, dgemv_64_ and friends  none: kernel path only, and a call that needs
                                                 the original aborts with the one-line message

Served GEMV and SYRK results are checked bit for bit against the same product through the
library's own gemm_ (the arithmetic contract), real transposed GEMV against the dot form's
contract (tests/_contracts.py); SYRK's other triangle bit for bit untouched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import _driver_runs as runs
import pytest
from _driver_common import entry_points
from _driver_runs import HERE, NUMPY_OPENBLAS64, OPENBLAS, REFBLAS, SCIPY_OPENBLAS
from conftest import clean_env

DRIVER = HERE / "_family_driver.py"


def _openblas32() -> Path:
    import scipy_openblas32  # type: ignore[import-untyped]

    return Path(scipy_openblas32.get_lib_dir()) / f"lib{scipy_openblas32.get_library()}.so"


OPENBLAS32 = _openblas32()


# The names of entry_list.h but GEMM's, by base ("dgemv") and by form (Fortran, then CBLAS).
_FORM = {
    (False, "int32_t"): "lp64",
    (False, "int64_t"): "ilp64",
    (True, "int32_t"): "scipy",
    (True, "int64_t"): "scipy64",
}
NAMES: dict[str, dict[str, list[str]]] = {}
for e in entry_points().values():
    if e.family != "gemm":
        base = ("d" if e.precision == "XW_F64" else "s") + e.family
        form = _FORM[e.name.startswith("scipy_"), e.integer]
        NAMES.setdefault(base, {}).setdefault(form, []).append(e.name)
BLAS2 = [b for b in NAMES if "batch" not in b]
BATCH = [b for b in NAMES if "batch" in b]

PROVIDED: list[runs.Provided] = []
KERNEL_ONLY: list[str] = []
for base in BLAS2:
    n = NAMES[base]
    PROVIDED += [(s, "openblas", OPENBLAS, True) for s in n["lp64"]]
    PROVIDED += [(s, "refblas", REFBLAS, False) for s in n["lp64"]]
    PROVIDED += [(s, "scipy_openblas", SCIPY_OPENBLAS, True) for s in n["scipy"]]
    PROVIDED += [(s, "numpy_openblas64", NUMPY_OPENBLAS64, True) for s in n["scipy64"]]
    KERNEL_ONLY += n["ilp64"]
for base in BATCH:
    n = NAMES[base]
    PROVIDED += [(s, "openblas32_0.3.34", OPENBLAS32, True) for s in n["scipy"]]
    KERNEL_ONLY += n["lp64"] + n["ilp64"] + n["scipy64"]

FAMILY = {"gemv": "gemv", "syrk": "syrk", "gemm_batch": "batch", "gemm_batch_strided": "batch"}


def _run(libpath: Path, tmp_path: Path, symbol: str, *args: str, **env: str) -> Any:
    summary, stats, _ = runs.run_driver(DRIVER, libpath, tmp_path, symbol, *args, **env)
    return summary, stats


def _check_stats(summary: dict[str, Any], stats: dict[str, Any]) -> None:
    """The statistics agree with what the driver did: calls per symbol, products per route
    (the driver's own gemm_ calls on the kernel path besides), calls and products per family."""
    symbol, calls, want = summary["symbol"], summary["calls"], summary["products"]
    gemm = summary["gemm_calls"]
    family = FAMILY[summary["family"]]
    got_symbols = dict(stats["symbols"])
    assert got_symbols.pop(symbol) == calls
    assert got_symbols == ({summary["gemm_symbol"]: gemm} if gemm else {}), stats["symbols"]
    routes = stats["routes"]
    assert routes["jit"] + routes["portable"] == want.get("kernel", 0) + gemm, (routes, want)
    for r in ("scale", "too_large", "unsupported", "invalid", "disabled", "tuned_blas"):
        assert routes[r] == want.get(r, 0), (r, routes, want)
    products = sum(want.values())
    assert stats["intercepted"] == products + gemm
    assert stats["calls"] == calls + gemm
    fams = stats["families"]
    assert fams[family] == {"calls": calls, "products": products}, fams
    assert fams["gemm"] == {"calls": gemm, "products": gemm}, fams


@runs.with_providers(PROVIDED)
def test_with_provider(
    libpath: Path, tmp_path: Path, provided: runs.Provided, max_mnk: str | None
) -> None:
    symbol, _, _, invalid = provided
    env = runs.provider_env(provided, max_mnk)
    args = [] if invalid else ["--no-invalid"]
    summary, stats = _run(libpath, tmp_path, symbol, *args, **env)
    want = summary["products"]
    assert want.get("kernel", 0) > (3 if max_mnk else 10) and want.get("scale", 0) > 0, want
    if "batch" not in symbol:
        assert want.get("too_large", 0) > 0, want
    if invalid:
        assert want.get("invalid", 0) > 0, want
    _check_stats(summary, stats)


@pytest.mark.parametrize("mode", ["default", "jit0", "avx2"])
@pytest.mark.parametrize("symbol", KERNEL_ONLY)
def test_kernel_path_without_provider(
    libpath: Path, tmp_path: Path, symbol: str, mode: str
) -> None:
    """Names nothing here provides (numpy's wheel exports unsuffixed ?gemm_batch* with 64-bit
    integers, which the wrapper must not take for LP64 ones): every call is one the wrapper
    serves, on generated code, AVX2 code or the portable kernel."""
    env = {"XSMMWRAP_JIT": "0"} if mode == "jit0" else {}
    if mode == "avx2":
        env["XSMMWRAP_TARGET"] = "avx2"
    summary, stats = _run(libpath, tmp_path, symbol, "--kernel-only", **env)
    want = summary["products"]
    assert set(want) <= {"kernel", "scale"} and want.get("kernel", 0) > 10, want
    _check_stats(summary, stats)
    if mode == "jit0":
        assert stats["routes"]["jit"] == 0


@pytest.mark.parametrize(
    "symbol",
    [
        "dgemv_64_",
        "cblas_ssyrk64_",
        "dgemm_batch_strided_",
        "cblas_sgemm_batch",
        "scipy_dgemm_batch_64_",
    ],
)
def test_declined_without_provider_aborts(libpath: Path, symbol: str) -> None:
    """A call the route declines with no original anywhere (numpy's ILP64 library loaded, whose
    unsuffixed batches are not LP64 originals): one line naming the symbol, then SIGABRT."""
    runs.check_aborts(DRIVER, libpath, symbol)


@pytest.mark.parametrize("symbol", ["dgemv_", "cblas_ssyrk", "scipy_dgemm_batch_strided_"])
def test_disabled_forwards_everything(libpath: Path, tmp_path: Path, symbol: str) -> None:
    """XSMMWRAP_DISABLE=1: every call reaches the original, no kernel is made."""
    path = OPENBLAS32 if "batch" in symbol else OPENBLAS
    env = {"XSMMWRAP_BLAS": str(path), "XSMMWRAP_DISABLE": "1"}
    summary = tmp_path / "summary.json"
    stats = tmp_path / "stats.json"
    r = subprocess.run(
        [
            sys.executable,
            str(DRIVER),
            str(libpath),
            symbol,
            "--out",
            str(summary),
            "--random",
            "30",
            "--no-invalid",
        ],
        env=clean_env(XSMMWRAP_STATS_JSON=str(stats), OPENBLAS_NUM_THREADS="1", **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    st = json.loads(stats.read_text())
    calls = json.loads(summary.read_text())["calls"] if summary.exists() else None
    assert st["symbols"][symbol] == calls, (r.stderr[-3000:], st["symbols"])
    assert st["routes"]["disabled"] == st["intercepted"] > 0
    assert st["kernels"] == []


def test_threads(libpath: Path, tmp_path: Path) -> None:
    """Eight threads (ctypes releases the GIL) calling dgemv_ (N and T), dsyrk_ and
    dgemm_batch_strided_ on shapes of their own and shared ones: every result right, every call
    counted."""
    code = f"""
import ctypes as ct, json, sys, threading, numpy as np
lib = ct.CDLL({str(libpath)!r})
I, D = ct.c_int32, ct.c_double
r = ct.byref
p = lambda a: a.ctypes.data_as(ct.c_void_p)
bad = []
def gemv(t, n, a, x, y):  # N: a GEMM kernel; T: a dot-form kernel (the hit path tells them apart)
    lib.dgemv_(t, r(I(n)), r(I(n)), r(D(1.0)), p(a), r(I(n)), p(x), r(I(1)), r(D(0.0)),
               p(y), r(I(1)), 1)
def syrk(n, a, c):
    lib.dsyrk_(b"L", b"N", r(I(n)), r(I(n)), r(D(1.0)), p(a), r(I(n)), r(D(0.0)), p(c),
               r(I(n)), 1, 1)
def strided(n, A, C, cnt):  # B shared: stride 0
    lib.dgemm_batch_strided_(b"N", b"N", r(I(n)), r(I(n)), r(I(n)), r(D(1.0)), p(A), r(I(n)),
                             r(I(n * n)), p(A), r(I(n)), r(I(0)), r(D(0.0)), p(C), r(I(n)),
                             r(I(n * n)), r(I(cnt)), 1, 1)
def work(seed):
    rng = np.random.default_rng(seed)
    for it in range(300):
        n = int(rng.integers(1, 20)) if it % 2 else 8
        a = np.asfortranarray(rng.standard_normal((n, n)))
        x = rng.standard_normal(n); y = np.zeros(n)
        t = b"T" if (it // 2) % 2 else b"N"
        gemv(t, n, a, x, y)
        if not np.allclose(y, (a.T if t == b"T" else a) @ x): bad.append(("gemv", t, n))
        c = np.zeros((n, n), order="F")
        syrk(n, a, c)
        if not np.allclose(np.tril(c), np.tril(a @ a.T)) or np.triu(c, 1).any():
            bad.append(("syrk", n))
        cnt = 5
        A = rng.standard_normal(n * n * cnt); C = np.zeros(n * n * cnt)
        strided(n, A, C, cnt)
        B0 = A[: n * n].reshape(n, n).T
        for i in range(cnt):
            Ai = A[i * n * n : (i + 1) * n * n].reshape(n, n).T
            if not np.allclose(C[i * n * n : (i + 1) * n * n].reshape(n, n).T, Ai @ B0):
                bad.append(("batch", n))
ts = [threading.Thread(target=work, args=(s,)) for s in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
lib.xsmmwrap_write_json(sys.argv[1].encode())
st = json.load(open(sys.argv[1]))
print(json.dumps({{"bad": bad[:5], "stats": st}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "stats.json")],
        env=clean_env(OPENBLAS_NUM_THREADS="1", XSMMWRAP_BLAS=str(OPENBLAS)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["bad"] == []
    st = result["stats"]
    assert st["symbols"] == {"dgemv_": 2400, "dsyrk_": 2400, "dgemm_batch_strided_": 2400}
    assert st["families"]["batch"] == {"calls": 2400, "products": 12000}
    assert st["intercepted"] == 2400 + 2400 + 12000 == st["routes"]["jit"]


def test_numpy_reaches_gemv_and_syrk(libpath: Path) -> None:
    """Under LD_PRELOAD numpy's matrix @ vector and a @ a.T come through the wrapper: which of
    numpy's calls reach GEMV and SYRK, and that their results stay numpy's within rounding."""
    code = """
import json, numpy as np, xsmmwrap
rng = np.random.default_rng(0)
a = rng.standard_normal((8, 8)); v = rng.standard_normal(8); s = rng.standard_normal((1000, 8, 8))
w = rng.standard_normal((1000, 8))
xsmmwrap.reset_stats()
out = {}
def count(name, f):
    xsmmwrap.reset_stats(); r = f(); st = xsmmwrap.stats(); out[name] = st.symbols; return r
y = count("a @ v", lambda: a @ v)
g = count("a @ a.T", lambda: a @ a.T)
m = count("matvec", lambda: np.matvec(s, w))
out["ok"] = bool(np.allclose(y, sum(a[:, j] * v[j] for j in range(8))) and np.allclose(g, g.T))
print(json.dumps(out))
"""
    r = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(LD_PRELOAD=str(libpath), OPENBLAS_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["ok"]
    assert got["a @ v"] == {"scipy_cblas_dgemv64_": 1}, got
    assert got["a @ a.T"] == {"scipy_cblas_dsyrk64_": 1}, got
    assert got["matvec"] == {"scipy_cblas_dgemv64_": 1000}, got


def test_gemv_independent_of_increments(libpath: Path) -> None:
    """The same product with x and y at any positive stride gives the same bits: N as through
    dgemm_ (the two GEMM forms a GEMV takes), T as the dot form's contract (in a process of its
    own: a second copy of the library in pytest's would become the original of the first's
    declined calls)."""
    code = """
import ctypes, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from _contracts import dot
lib = ctypes.CDLL(sys.argv[1])
rng = np.random.default_rng(3)
i32, f64, ref = ctypes.c_int32, ctypes.c_double, ctypes.byref
ptr = lambda x: x.ctypes.data_as(ctypes.c_void_p)
bad = []
for trans, m, n in [(b"N", 13, 7), (b"T", 13, 7), (b"N", 1, 9), (b"T", 16, 16), (b"N", 32, 32),
                     (b"T", 37, 19), (b"T", 200, 9)]:
    a = np.asfortranarray(rng.standard_normal((m, n)))
    lx, ly = (m, n) if trans == b"T" else (n, m)
    x = rng.standard_normal(lx)
    y0 = rng.standard_normal(ly)
    results = []
    for incx, incy in [(1, 1), (3, 1), (1, 2), (2, 5)]:
        xs = np.zeros(lx * incx)
        xs[::incx] = x
        ys = np.zeros(ly * incy)
        ys[::incy] = y0
        lib.dgemv_(trans, ref(i32(m)), ref(i32(n)), ref(f64(0.7)), ptr(a), ref(i32(m)), ptr(xs),
                   ref(i32(incx)), ref(f64(-1.0)), ptr(ys), ref(i32(incy)), ctypes.c_size_t(1))
        results.append(ys[::incy].tobytes())
    c = y0.copy()
    if trans == b"T":
        c = dot(a.T, x, y0, 0.7, -1.0, np.float64)
    else:
        lib.dgemm_(trans, b"N", ref(i32(ly)), ref(i32(1)), ref(i32(lx)), ref(f64(0.7)), ptr(a),
                   ref(i32(m)), ptr(x), ref(i32(lx)), ref(f64(-1.0)), ptr(c), ref(i32(ly)),
                   ctypes.c_size_t(1), ctypes.c_size_t(1))
    if len(set(results)) != 1 or results[0] != c.tobytes():
        bad.append((trans, m, n))
print("BAD", bad)
"""
    r = subprocess.run(
        [sys.executable, "-c", code, str(libpath), str(Path(__file__).parent)],
        env=clean_env(OPENBLAS_NUM_THREADS="1", XSMMWRAP_BLAS=str(OPENBLAS)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1] == "BAD []", r.stdout
