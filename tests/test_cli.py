"""The xsmmwrap command line: `info`, and `run` wrapping numpy and scipy."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import xsmmwrap
from xsmmwrap import cli

GEMM_NAMES = {
    f"{prefix}{api}{p}gemm{suffix}"
    for prefix in ("", "scipy_")
    for api in ("", "cblas_")
    for p in "ds"
    for suffix in (("", "64_") if api else ("_", "_64_"))
}

# Run under the wrapper and without it; saves what it computes to ARGV[1]_*.npy.
WORKLOAD = """
import sys
import numpy as np
import scipy.linalg.blas as blas

rng = np.random.default_rng(1234)
a = rng.standard_normal((1000, 8, 8))
b = rng.standard_normal((1000, 8, 8))
results = {
    "matmul64": a @ b,
    "matmul32": a.astype(np.float32) @ b.astype(np.float32),
    "scipy_dgemm": blas.dgemm(1.0, a[0], b[0]),
}
for name, value in results.items():
    np.save(f"{sys.argv[1]}_{name}.npy", value)
"""


def _env(**extra: str) -> dict[str, str]:
    """The environment without xsmmwrap/LIBXSMM settings and LD_PRELOAD (XSMMWRAP_LIBRARY,
    which says where the library is in a source checkout, stays), with this xsmmwrap
    package importable, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k == "XSMMWRAP_LIBRARY"
        or (not k.startswith(("XSMMWRAP_", "LIBXSMM_")) and k != "LD_PRELOAD")
    }
    package_parent = str(Path(xsmmwrap.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _xsmmwrap(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsmmwrap", *args],
        env=_env() if env is None else env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _imported_gemm_symbols(module_file: str) -> set[str]:
    """GEMM names an extension module imports (its undefined dynamic symbols), by `nm -D`."""
    nm = shutil.which("nm")
    assert nm, "nm (binutils) is needed to see which BLAS names numpy and scipy call"
    out = subprocess.run(
        [nm, "-D", "--undefined-only", module_file], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()} & GEMM_NAMES


def _numpy_core_module() -> str:
    """The file of numpy's extension module that calls BLAS (numpy 2: _core, 1.x: core)."""
    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if module.__file__:
            return module.__file__
    raise AssertionError("numpy's _multiarray_umath not found")


def test_info_prints_json() -> None:
    r = _xsmmwrap("info")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert isinstance(info["version"], str) and info["version"]
    assert info["version"] == xsmmwrap.__version__
    assert Path(info["library_path"]).is_file()
    assert Path(info["static_library_path"]).is_file()
    assert (Path(info["include_path"]) / "xsmmwrap.h").is_file()
    assert info["target"] in {"generic", "avx2", "avx512"}
    assert info["cpu_target"] in {"generic", "avx2", "avx512"}
    assert info["preloaded"] is False
    assert info["loaded_from"] == info["library_path"]
    assert set(info["config"]) == {
        "max_mnk", "max_kernels", "disabled", "jit", "target", "cpu_target", "trylock",
        "verbosity", "tune_file", "tune_state", "tune_reason", "tune_entries", "tune_moved",
        "tune_default",
    }  # fmt: skip
    assert info["config"]["target"] == info["target"]


def test_info_under_run_binds_the_preloaded_library() -> None:
    r = _xsmmwrap("run", "--", sys.executable, "-m", "xsmmwrap", "info")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["preloaded"] is True
    assert info["loaded_from"] is None


def test_run_sets_environment(tmp_path: Path) -> None:
    names = ["LD_PRELOAD", "LIBXSMM_VERBOSE", "XSMMWRAP_STATS_JSON"]
    show = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {names!r}}}))"
    env = _env(LD_PRELOAD="libm.so.6")
    r = _xsmmwrap("run", "-v", "2", "--json", "rel.json", "--", sys.executable, "-c", show,
                  env=env, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["LD_PRELOAD"] == f"{xsmmwrap.library_path()}:libm.so.6"
    assert seen["LIBXSMM_VERBOSE"] == "2"
    # --json: each process writes a file of its own (%p), summed into rel.json at the end
    assert seen["XSMMWRAP_STATS_JSON"].endswith(f"{os.sep}%p.json")
    assert not Path(seen["XSMMWRAP_STATS_JSON"]).parent.exists()  # removed after the merge
    summed = json.loads((tmp_path / "rel.json").read_text())
    assert summed["processes"] == [] and summed["intercepted"] == 0  # no GEMM call
    # without options: only LD_PRELOAD, and the library is not listed twice
    env = _env(LD_PRELOAD=str(xsmmwrap.library_path()))
    r = _xsmmwrap("run", sys.executable, "-c", show, env=env)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen == {
        "LD_PRELOAD": str(xsmmwrap.library_path()),
        "LIBXSMM_VERBOSE": None,
        "XSMMWRAP_STATS_JSON": None,
    }


def test_run_passes_exit_status_and_arguments() -> None:
    r = _xsmmwrap("run", "--", sys.executable, "-c", "import sys; print(sys.argv[1:]); sys.exit(3)",
                  "-v", "--json", "x")  # fmt: skip
    assert r.returncode == 3
    assert r.stdout.strip() == "['-v', '--json', 'x']"


# A parent that calls GEMM, then runs a child that does too (shapes of its own, and one of the
# parent's), then exits with status 4.
FAMILY = """
import subprocess, sys
import numpy as np
a = np.ones((100, 8, 8))
a @ a
child = "import numpy as np; b = np.ones((7, 5, 5)); b @ b; c = np.ones((3, 8, 8)); c @ c"
subprocess.run([sys.executable, "-c", child], check=True)
sys.exit(4)
"""


def test_run_json_sums_every_process(tmp_path: Path) -> None:
    out = tmp_path / "stats.json"
    r = _xsmmwrap("run", "--json", str(out), "--", sys.executable, "-c", FAMILY)
    assert r.returncode == 4, r.stderr
    stats = json.loads(out.read_text())
    procs = stats["processes"]
    assert len(procs) == 2 and len({p["pid"] for p in procs}) == 2, procs
    assert sorted(p["intercepted"] for p in procs) == [10, 100]
    assert all("python" in p["program"] for p in procs)
    assert stats["intercepted"] == 110 == sum(stats["symbols"].values())
    assert stats["routes"]["jit"] + stats["routes"]["portable"] == 110
    calls = {(k["m"], k["n"], k["k"]): k["calls"] for k in stats["kernels"]}
    assert calls == {(8, 8, 8): 103, (5, 5, 5): 7}  # the 8x8x8 kernel of both, summed


# A parent that calls GEMM, forks two children that call it too and exit normally (so each
# writes its statistics), then calls it again.
FORKS = """
import os, sys
import numpy as np
a = np.ones((100, 8, 8))
a @ a
kids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        b = np.ones((7, 5, 5))
        b @ b
        sys.exit(0)
    kids.append(pid)
for pid in kids:
    assert os.waitpid(pid, 0)[1] == 0
a[:3] @ a[:3]
"""


def test_run_json_counts_forked_children_once(tmp_path: Path) -> None:
    """A forked child's statistics are its own calls (not the parent's before the fork too):
    the sum over the processes is every call made once."""
    out = tmp_path / "stats.json"
    r = _xsmmwrap("run", "--json", str(out), "--", sys.executable, "-c", FORKS)
    assert r.returncode == 0, r.stderr
    stats = json.loads(out.read_text())
    assert sorted(p["intercepted"] for p in stats["processes"]) == [7, 7, 103]
    assert stats["intercepted"] == 117
    calls = {(k["m"], k["n"], k["k"]): k["calls"] for k in stats["kernels"]}
    assert calls == {(8, 8, 8): 103, (5, 5, 5): 14}


def test_run_json_ended_by_a_signal(tmp_path: Path) -> None:
    """The child killed by SIGTERM: `run` ends the same way, the statistics still written."""
    out = tmp_path / "stats.json"
    script = "import os, signal, numpy as np; a = np.ones((4, 4, 4)); a @ a; " \
             "os.kill(os.getpid(), signal.SIGTERM)"  # fmt: skip
    r = _xsmmwrap("run", "--json", str(out), "--", sys.executable, "-c", script)
    assert r.returncode == -15, (r.returncode, r.stderr)
    assert json.loads(out.read_text())["processes"] == []  # killed: no exit handler ran


def test_stats_json_per_process_id(tmp_path: Path) -> None:
    """XSMMWRAP_STATS_JSON with %p (no CLI): the file of each process is named by its id."""
    pattern = str(tmp_path / "s.%p.json")
    code = "import os, numpy as np; a = np.ones((9, 6, 6)); a @ a; print(os.getpid())"
    env = _env(LD_PRELOAD=str(xsmmwrap.library_path()), XSMMWRAP_STATS_JSON=pattern)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    pid = int(r.stdout)
    doc = json.loads((tmp_path / f"s.{pid}.json").read_text())
    assert doc["pid"] == pid and doc["intercepted"] == 9 and "python" in doc["program"]


def test_merge_sums_counts_and_kernels() -> None:
    from xsmmwrap.merge import merge

    kernel = {"precision": "f64", "trans_a": "N", "trans_b": "N", "m": 2, "n": 2, "k": 2,
              "lda": 2, "ldb": 2, "ldc": 2, "alpha": "1", "beta": "0", "jit": True,
              "target": "avx2", "code_bytes": 100, "calls": 3, "gflop": 0.5}  # fmt: skip
    a = {"version": "9", "target": "avx2", "cpu_target": "avx512", "pid": 1, "program": "a",
         "intercepted": 5, "routes": {"jit": 3, "too_large": 2}, "symbols": {"dgemm_": 5},
         "kernels": [kernel], "memory": {"code_bytes": 100, "total_bytes": 1000},
         "jit_failures": 1}  # fmt: skip
    b = {**a, "pid": 2, "program": "b", "intercepted": 4, "routes": {"jit": 4},
         "symbols": {"sgemm_": 4}, "kernels": [kernel, {**kernel, "m": 3}]}  # fmt: skip
    m = merge([a, b])
    assert (m["version"], m["target"], m["cpu_target"]) == ("9", "avx2", "avx512")
    assert m["intercepted"] == 9 and m["routes"] == {"jit": 7, "too_large": 2}
    assert m["symbols"] == {"dgemm_": 5, "sgemm_": 4}
    assert m["memory"] == {"code_bytes": 200, "total_bytes": 2000} and m["jit_failures"] == 2
    assert [(k["m"], k["calls"], k["gflop"]) for k in m["kernels"]] == [(2, 6, 1.0), (3, 3, 0.5)]
    assert m["processes"] == [
        {"pid": 1, "program": "a", "intercepted": 5},
        {"pid": 2, "program": "b", "intercepted": 4},
    ]
    assert merge([])["intercepted"] == 0 and merge([])["processes"] == []


def test_merge_reads_no_library() -> None:
    """merge.py takes the version of a run with no statistics from the package's metadata: it
    binds no library (the parent of `run --json` only preloads it into the command), and the
    package's version is the library's."""
    code = (
        "from xsmmwrap import _lib, merge\n"
        "version = merge.merge([])['version']\n"
        "assert not _lib.is_loaded()\n"
        "print(version)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == xsmmwrap.__version__


def test_run_command_not_found() -> None:
    r = _xsmmwrap("run", "--", "xsmmwrap-no-such-command-here")
    assert r.returncode == 127
    assert "command not found: xsmmwrap-no-such-command-here" in r.stderr


def test_run_without_command() -> None:
    r = _xsmmwrap("run")
    assert r.returncode == 2
    assert "no command" in r.stderr


def test_missing_library(tmp_path: Path) -> None:
    env = _env(XSMMWRAP_LIBRARY=str(tmp_path / "libxsmmwrap.so"))
    r = _xsmmwrap("info", env=env)
    assert r.returncode == 1
    assert "cannot load the library" in r.stderr and "no such file" in r.stderr
    r = _xsmmwrap("run", "--", sys.executable, "-c", "pass", env=env)
    assert r.returncode == 2
    assert "library not found" in r.stderr


def test_run_numpy_and_scipy(tmp_path: Path) -> None:
    """numpy's stacked matmul and scipy's dgemm under `xsmmwrap run`: the same results as
    without the wrapper, calls counted under the names the wheels really import."""
    numpy_names = _imported_gemm_symbols(_numpy_core_module())
    fblas = importlib.import_module("scipy.linalg._fblas").__file__
    assert fblas
    scipy_names = _imported_gemm_symbols(fblas)
    numpy_d = {s for s in numpy_names if "dgemm" in s}
    numpy_s = {s for s in numpy_names if "sgemm" in s}
    scipy_d = {s for s in scipy_names if "dgemm" in s}
    assert len(numpy_d) == len(numpy_s) == len(scipy_d) == 1, (numpy_names, scipy_names)
    (numpy_d_name,), (numpy_s_name,), (scipy_d_name,) = numpy_d, numpy_s, scipy_d

    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    plain = subprocess.run([sys.executable, str(script), str(tmp_path / "plain")], env=_env(),
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert "xsmmwrap" not in plain.stderr
    stats_file = tmp_path / "stats.json"
    wrapped = _xsmmwrap("run", "-v", "1", "--json", str(stats_file), "--", sys.executable,
                        str(script), str(tmp_path / "wrapped"))  # fmt: skip
    assert wrapped.returncode == 0, wrapped.stderr

    for name, rtol in [("matmul64", 1e-12), ("matmul32", 1e-5), ("scipy_dgemm", 1e-12)]:
        want = np.load(tmp_path / f"plain_{name}.npy")
        got = np.load(tmp_path / f"wrapped_{name}.npy")
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())

    stats = json.loads(stats_file.read_text())
    assert stats["version"] == xsmmwrap.__version__
    symbols = stats["symbols"]
    assert symbols[numpy_d_name] >= 1000, symbols
    assert symbols[numpy_s_name] >= 1000, symbols
    assert symbols[scipy_d_name] >= 1, symbols
    assert stats["intercepted"] == sum(symbols.values()) == sum(stats["routes"].values())
    assert stats["routes"]["jit"] + stats["routes"]["portable"] >= 2001
    used = {(k["precision"], k["m"], k["n"], k["k"]) for k in stats["kernels"] if k["calls"]}
    assert {("f64", 8, 8, 8), ("f32", 8, 8, 8)} <= used
    assert stats["memory"]["total_bytes"] >= stats["memory"]["code_bytes"]
    assert isinstance(stats["jit_failures"], int)

    # LIBXSMM_VERBOSE=1: the report at exit on stderr
    assert f"xsmmwrap {xsmmwrap.__version__}" in wrapped.stderr
    assert f"calls intercepted: {stats['intercepted']}" in wrapped.stderr


def test_python_api_sees_the_preloaded_instance() -> None:
    """Under `run`, the package binds the preloaded library: numpy's calls show in stats()."""
    code = (
        "import json, numpy as np, xsmmwrap\n"
        "xsmmwrap.reset_stats()\n"
        "a = np.ones((8, 8)); b = np.ones((8, 8))\n"
        "for _ in range(7): a @ b\n"
        "print(json.dumps(xsmmwrap.stats().symbols))\n"
    )
    r = _xsmmwrap("run", "--", sys.executable, "-c", code)
    assert r.returncode == 0, r.stderr
    symbols = json.loads(r.stdout)
    numpy_d = _imported_gemm_symbols(_numpy_core_module())
    (name,) = {s for s in numpy_d if "dgemm" in s}
    assert symbols == {name: 7}


def test_main_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["info"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == xsmmwrap.__version__
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    parser = cli.build_parser()
    assert parser.parse_args(["run", "-v", "3", "--", "x", "-y"]).command == ["--", "x", "-y"]


def test_console_script() -> None:
    script = Path(sysconfig.get_path("scripts")) / "xsmmwrap"
    if not script.is_file():
        pytest.skip(f"the xsmmwrap console script is not installed ({script})")
    r = subprocess.run([str(script), "info"], env=_env(), capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == xsmmwrap.__version__
