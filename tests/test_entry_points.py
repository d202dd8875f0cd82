"""Every exported GEMM name of libxsmmwrap.so against numpy, one process per name and provider.

tests/_entry_driver.py loads the library with ctypes and calls the name directly; the original
BLAS behind declined calls is chosen with XSMMWRAP_BLAS. Providers on this machine (* is d, s, z
or c: real and complex names alike):

  *gemm_ cblas_*gemm                             system OpenBLAS (LP64) and reference BLAS
  scipy_*gemm_ scipy_cblas_*gemm                 scipy.libs/libscipy_openblas-*.so
  scipy_*gemm_64_ scipy_cblas_*gemm64_           numpy.libs/libscipy_openblas64_-*.so
  *gemm_64_ cblas_*gemm64_                       none: nothing here exports these names

The last four are run on calls the wrapper serves only (kernel path, and C = beta*C at any
size), and a call they would have to forward must abort with the one-line message. Reference
BLAS ends the process on an invalid call (xerbla STOPs), so invalid calls are made with the
OpenBLAS providers only (test_bad_args.py covers reference BLAS). After each run the
XSMMWRAP_STATS_JSON file must count every call under the right name and route, and list exactly
the kernels the calls needed. Calls with alpha = 0 or K = 0 are the wrapper's at any size
(route scale): they are checked bit for bit with NaN and Inf in A and B, whichever BLAS is
behind; with XSMMWRAP_DISABLE=1 they are forwarded.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import _driver_runs as runs
import pytest
from _driver_common import entry_points
from _driver_runs import HERE, NUMPY_OPENBLAS64, OPENBLAS, OPENBLAS64, REFBLAS, SCIPY_OPENBLAS
from conftest import clean_env

DRIVER = HERE / "_entry_driver.py"

# The GEMM names of entry_list.h, by the provider groups above.
GEMM = entry_points("gemm")
ALL = list(GEMM)
LP64 = [s for s in ALL if not s.startswith("scipy_") and GEMM[s].integer == "int32_t"]
SCIPY = [f"scipy_{x}" for x in LP64]
ILP64 = [s for s in ALL if not s.startswith("scipy_") and GEMM[s].integer == "int64_t"]
SCIPY64 = [f"scipy_{x}" for x in ILP64]
assert sorted(LP64 + SCIPY + ILP64 + SCIPY64) == sorted(ALL)
COMPLEX = [s for s in ALL if "zgemm" in s or "cgemm" in s]

PROVIDED: list[runs.Provided] = (
    [(s, "openblas", OPENBLAS, True) for s in LP64]
    + [(s, "refblas", REFBLAS, False) for s in LP64]
    + [(s, "scipy_openblas", SCIPY_OPENBLAS, True) for s in SCIPY]
    + [(s, "numpy_openblas64", NUMPY_OPENBLAS64, True) for s in SCIPY64]
)
PROVIDER_OF = {s: p for s, _, p, inv in PROVIDED if inv}


def _exported(lib: Path) -> set[str]:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(lib)], check=True, capture_output=True, text=True
    ).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def _run_driver(
    libpath: Path, tmp_path: Path, symbol: str, *args: str, **env: str
) -> tuple[dict[str, Any], dict[str, Any], subprocess.CompletedProcess[str]]:
    return runs.run_driver(DRIVER, libpath, tmp_path, symbol, *args, **env)


def _check_stats(summary: dict[str, Any], stats: dict[str, Any]) -> None:
    """The JSON statistics agree with what the driver did, call for call."""
    symbol, calls, expect = summary["symbol"], summary["calls"], summary["expect"]
    assert calls > 0
    assert stats["intercepted"] == calls
    assert stats["symbols"] == {symbol: calls}
    routes = stats["routes"]
    assert routes["jit"] + routes["portable"] == expect["kernel"], routes
    for r in ("scale", "too_large", "unsupported", "invalid", "disabled"):
        assert routes[r] == expect[r], (r, routes, expect)
    for r in ("registry_full", "lock_busy", "tuned_blas"):
        assert routes[r] == 0, routes
    # No tuning file: every kernel the cost model's own plan.
    assert all((k["mb_max"], k["nb_max"], k["tuned"]) == (0, 0, False) for k in stats["kernels"])
    # Exactly the kernels the served calls needed, each once, with its calls.
    strip = ("jit", "target", "code_bytes", "gflop", "mb_max", "nb_max", "tuned")
    got = sorted(
        json.dumps({k: v for k, v in kn.items() if k not in strip}, sort_keys=True)
        for kn in stats["kernels"]
    )
    want = sorted(json.dumps(kn, sort_keys=True) for kn in summary["kernels"])
    assert got == want
    for kn in stats["kernels"]:
        if kn["jit"]:
            assert kn["target"] in ("avx2", "avx512") and kn["code_bytes"] > 0, kn
        else:
            assert kn["target"] == "portable" and kn["code_bytes"] == 0, kn


def test_providers_export_their_names() -> None:
    """The premise of the provider table above, checked on this machine."""
    for lib, names in [
        (OPENBLAS, LP64),
        (REFBLAS, LP64),
        (SCIPY_OPENBLAS, SCIPY),
        (NUMPY_OPENBLAS64, SCIPY64),
    ]:
        missing = set(names) - _exported(lib)
        assert not missing, f"{lib} lacks {missing}"
    # ILP64 OpenBLAS has the LP64 names (with 64-bit integers), not the _64_ ones.
    assert set(ILP64).isdisjoint(_exported(OPENBLAS64))
    assert "dgemm_" in _exported(OPENBLAS64)


def test_wheels_call_only_listed_names() -> None:
    """Every GEMM name numpy's and scipy's extension modules import is an entry point (the
    complex ones too: numpy's complex matmul calls scipy_cblas_zgemm64_/scipy_cblas_cgemm64_)."""
    imported: set[str] = set()
    for package in ("numpy", "scipy"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin
        for so in Path(spec.origin).parent.rglob("*.so"):
            out = subprocess.run(
                ["nm", "-D", "--undefined-only", str(so)], capture_output=True, text=True
            ).stdout
            imported |= {line.split()[-1] for line in out.splitlines() if "gemm" in line}
    gemm = {n for n in imported if n.removeprefix("scipy_").removeprefix("cblas_")[1:5] == "gemm"}
    assert {"scipy_cblas_zgemm64_", "scipy_cblas_cgemm64_", "scipy_zgemm_"} <= gemm, gemm
    assert gemm <= set(ALL), gemm - set(ALL)


# Row-major CBLAS through the wrapper (kernel path) and reference CBLAS side by side, every
# transpose pair: a row-major C = op(A)op(B) is the column-major C' = op(B)'op(A)', in which a
# conjugate transpose stays one.
ROW_MAJOR_VS_REFERENCE = r"""
import ctypes as ct, sys
import numpy as np
ours, ref = ct.CDLL(sys.argv[1]), ct.CDLL(sys.argv[2])
rng = np.random.default_rng(3)
worst = 0.0
names = (("cblas_zgemm", np.complex128, ct.c_double), ("cblas_cgemm", np.complex64, ct.c_float))
for name, dt, part in names:
    for ta in (111, 112, 113):
        for tb in (111, 112, 113):
            m, n, k = 5, 7, 4
            sa = (k, m) if ta != 111 else (m, k)  # as stored, row-major
            sb = (n, k) if tb != 111 else (k, n)
            def rnd(shape):
                return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
            a, b, c = rnd(sa), rnd(sb), rnd((m, n))
            results = []
            for lib in (ours, ref):
                out = c.copy()
                alpha, beta = (part * 2)(0.5, -1.5), (part * 2)(0.25, 0.75)
                ptr = [ct.c_void_p(x.ctypes.data) for x in (a, b, out)]
                getattr(lib, name)(101, ta, tb, m, n, k, ct.byref(alpha), ptr[0], sa[1], ptr[1],
                                   sb[1], ct.byref(beta), ptr[2], n)
                results.append(out)
            scale = np.abs(results[1]).max()
            worst = max(worst, float(np.abs(results[0] - results[1]).max() / scale))
            assert worst < (1e-13 if dt == np.complex128 else 1e-5), (name, ta, tb, worst)
print("worst", worst)
"""


def test_cblas_row_major_conjugate_matches_reference(libpath: Path, tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    r = subprocess.run(
        [sys.executable, "-c", ROW_MAJOR_VS_REFERENCE, str(libpath), str(REFBLAS)],
        env=clean_env(XSMMWRAP_STATS_JSON=str(stats), XSMMWRAP_BLAS=str(REFBLAS)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(stats.read_text())
    assert got["symbols"] == {"cblas_zgemm": 9, "cblas_cgemm": 9}
    assert got["routes"]["jit"] + got["routes"]["portable"] == 18
    # Row-major: A and B swapped, transposes kept, C (conjugate) among them.
    seen = {(k["precision"], k["trans_a"], k["trans_b"], k["m"], k["n"]) for k in got["kernels"]}
    assert ("c128", "C", "T", 7, 5) in seen and ("c64", "N", "C", 7, 5) in seen, seen


@runs.with_providers(PROVIDED)
def test_with_provider(
    libpath: Path, tmp_path: Path, provided: runs.Provided, max_mnk: str | None
) -> None:
    symbol, _, _, invalid = provided
    args = [] if invalid else ["--no-invalid"]
    if symbol.endswith("64_"):
        args.append("--big-ld")
    env = runs.provider_env(provided, max_mnk)
    summary, stats, _ = _run_driver(libpath, tmp_path, symbol, *args, **env)
    assert summary["config"]["max_mnk"] == int(max_mnk or 64**3)
    e = summary["expect"]
    assert e["kernel"] > 100 and e["too_large"] > 0 and e["scale"] > 100, e
    if invalid:
        assert e["invalid"] >= 10, e
    if symbol.endswith("64_"):
        assert e["unsupported"] > 0, e
    _check_stats(summary, stats)


@pytest.mark.parametrize("max_mnk", [None, "1000"], ids=["default_mnk", "mnk1000"])
@pytest.mark.parametrize("symbol", ILP64)
def test_ilp64_kernel_path_without_provider(
    libpath: Path, tmp_path: Path, symbol: str, max_mnk: str | None
) -> None:
    """dgemm_64_ and friends have no original here: every call is one the wrapper serves
    (C = beta*C above the threshold too), so none may need the original (that would abort)."""
    env = {"XSMMWRAP_MAX_MNK": max_mnk} if max_mnk else {}
    summary, stats, _ = _run_driver(libpath, tmp_path, symbol, "--kernel-only", **env)
    e = summary["expect"]
    assert e["kernel"] + e["scale"] == summary["calls"] and e["kernel"] > 100, e
    assert e["scale"] > 100, e
    _check_stats(summary, stats)


@pytest.mark.parametrize("blas", [None, OPENBLAS64], ids=["no_blas", "blas_openblas64"])
@pytest.mark.parametrize("kind", ["large", "invalid"])
@pytest.mark.parametrize("symbol", ILP64)
def test_ilp64_declined_without_provider_aborts(
    libpath: Path, symbol: str, kind: str, blas: Path | None
) -> None:
    """A call the kernel path declines (too large, or invalid: the original must report it)
    with no original anywhere: one line on stderr naming the symbol and XSMMWRAP_BLAS, then
    SIGABRT. libopenblas64.so.0 as XSMMWRAP_BLAS does not help: it exports other names."""
    env = {"XSMMWRAP_MAX_MNK": "1000"}
    if blas:
        env["XSMMWRAP_BLAS"] = str(blas)
    runs.check_aborts(DRIVER, libpath, symbol, kind, **env)


@pytest.mark.parametrize(
    "symbol",
    ["dgemm_", "cblas_sgemm", "scipy_sgemm_", "scipy_cblas_dgemm64_", "zgemm_", "cblas_cgemm"],
)
def test_disabled_forwards_everything(libpath: Path, tmp_path: Path, symbol: str) -> None:
    """XSMMWRAP_DISABLE=1: every call, alpha = 0 and K = 0 ones and invalid ones too, reaches
    the original (route disabled) and no kernel is made. The results are held only to what
    the BLAS specification promises (no NaN in A or B when alpha = 0)."""
    env = {"XSMMWRAP_BLAS": str(PROVIDER_OF[symbol]), "XSMMWRAP_DISABLE": "1"}
    args = ["--disabled", "--random", "50"]
    summary, stats, _ = _run_driver(libpath, tmp_path, symbol, *args, **env)
    e = summary["expect"]
    assert summary["config"]["disabled"] == 1
    assert e["disabled"] == summary["calls"] > 100, e
    _check_stats(summary, stats)
    assert stats["routes"]["disabled"] == summary["calls"]
    assert stats["kernels"] == []


def _target_name(t: int) -> str:
    return ["generic", "avx2", "avx512"][t]


@pytest.mark.parametrize("mode", ["jit0", "avx2"])
@pytest.mark.parametrize("symbol", ALL)
def test_modes(libpath: Path, tmp_path: Path, symbol: str, mode: str) -> None:
    """The same differential run with XSMMWRAP_JIT=0 (portable kernel only) and with
    XSMMWRAP_TARGET=avx2 (generated AVX2 code where the CPU has it)."""
    env = {"XSMMWRAP_JIT": "0"} if mode == "jit0" else {"XSMMWRAP_TARGET": "avx2"}
    if symbol in PROVIDER_OF:
        env["XSMMWRAP_BLAS"] = str(PROVIDER_OF[symbol])
        args = ["--big-ld"] if symbol.endswith("64_") else []
    else:
        args = ["--kernel-only"]
    summary, stats, _ = _run_driver(libpath, tmp_path, symbol, *args, **env)
    _check_stats(summary, stats)
    cfg = summary["config"]
    if mode == "jit0":
        assert cfg["jit"] == 0 and cfg["target"] == 0
        assert stats["target"] == "generic"
        assert stats["routes"]["jit"] == 0
        assert not any(k["jit"] for k in stats["kernels"])
    else:
        want = min(1, cfg["cpu_target"])
        assert cfg["target"] == want
        assert stats["target"] == _target_name(want)
        assert stats["cpu_target"] == _target_name(cfg["cpu_target"])
        for k in stats["kernels"]:
            if k["jit"]:
                assert k["target"] == "avx2", k


@pytest.mark.parametrize(
    "sabotage,message",
    [
        ("result", "wrong result"),
        ("nan", "non-finite"),
        ("padding", "outside the m x n block"),
        ("input", "A or B was modified"),
    ],
)
def test_driver_detects_damage(libpath: Path, tmp_path: Path, sabotage: str, message: str) -> None:
    """The driver is not blind: damage done to the buffers after a call (one element of C off
    by a relative 1e-9, a NaN, a write into the ld padding, a write into A) must be reported."""
    summary = tmp_path / "summary.json"
    r = subprocess.run(
        [
            sys.executable,
            str(DRIVER),
            str(libpath),
            "dgemm_",
            "--out",
            str(summary),
            "--random",
            "20",
            "--sabotage",
            sabotage,
        ],
        env=clean_env(XSMMWRAP_BLAS=str(OPENBLAS), OPENBLAS_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 1, r.stderr[-3000:]
    failures = json.loads(summary.read_text())["failures"]
    assert failures and all(message in f for f in failures), failures[:3]
