"""The arithmetic contract (docs/ARCHITECTURE.md): an element of C does not depend on M, N, the
leading dimensions, the transposes' spelling, the tile or the target. Checked bit for bit through
the library's own dgemm_/sgemm_/zgemm_/cgemm_ entry points, in one process per target: the
portable kernel (XSMMWRAP_JIT=0), AVX2 and, where the CPU has it, AVX-512 (tests/test_jit.py
checks the AVX-512 kernels against the contract in its emulator on every CPU). NaN matches any
NaN; a complex element is compared part by part."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import clean_env

# The child: calls the entry points through ctypes and saves every result.
CHILD = r"""
import ctypes, json, sys
import numpy as np

lib = ctypes.CDLL(sys.argv[1])
cases = json.load(open(sys.argv[2]))
out = {}
P = ctypes.POINTER
for c in cases:
    kind = c["prec"]  # d s z c
    part = np.float64 if kind in "dz" else np.float32
    ct = ctypes.c_double if kind in "dz" else ctypes.c_float
    fn = getattr(lib, kind + "gemm_")
    parts = 2 if kind in "zc" else 1  # a complex element is (re, im)
    rng = np.random.default_rng(c["seed"])
    a = rng.uniform(-1, 1, parts * c["sa"]).astype(part)
    b = rng.uniform(-1, 1, parts * c["sb"]).astype(part)
    cm = rng.uniform(-1, 1, parts * c["sc"]).astype(part)
    if c["beta"] == [0.0, 0.0]:
        cm[:] = np.nan  # never read
    i32 = lambda v: ctypes.byref(ctypes.c_int32(v))
    scalar = lambda v: ctypes.byref((ct * parts)(*v[:parts]))
    fn(ctypes.c_char_p(c["ta"].encode()), ctypes.c_char_p(c["tb"].encode()),
       i32(c["m"]), i32(c["n"]), i32(c["k"]), scalar(c["alpha"]),
       a.ctypes.data_as(P(ct)), i32(c["lda"]), b.ctypes.data_as(P(ct)), i32(c["ldb"]),
       scalar(c["beta"]), cm.ctypes.data_as(P(ct)), i32(c["ldc"]),
       ctypes.c_size_t(1), ctypes.c_size_t(1))
    out[c["name"]] = cm
np.savez(sys.argv[3], **out)
"""


def _span(rows: int, cols: int, ld: int) -> int:
    return (cols - 1) * ld + rows


def _cases() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = []
    # Issue 12's direct check: every m x n in 1..24 of the same A, B, C (all ld 64), K 7..36,
    # alpha -1, beta 1 (complex: alpha 0.5 - 2i, a conjugate transpose); each element must
    # equal the same element of the 24 x 24 product. Scalars are [re, im].
    for prec in "dszc":
        cplx = prec in "zc"
        for m in range(1, 25):
            for n in range(1, 25):
                k = 7 + (m * 7 + n * 3) % 30
                ta, tb = ("C", "N") if cplx and (m + n) % 2 else ("N", "C") if cplx else ("N", "N")
                for mm, nn in ((m, n), (24, 24)):
                    cases.append(
                        dict(name=f"sub{prec}_{m}_{n}_{mm}x{nn}", prec=prec, ta=ta, tb=tb,
                             m=mm, n=nn, k=k, lda=64, ldb=64, ldc=64,
                             alpha=[0.5, -2.0] if cplx else [-1.0, 0.0], beta=[1.0, 0.0],
                             sa=64 * 64, sb=64 * 64, sc=64 * 64, seed=k)
                    )
    # Random calls: shapes, padded leading dimensions, transposes in every spelling, scale
    # classes; compared across targets.
    rng = np.random.default_rng(12)
    scalars = [[1.0, 0.0], [-1.0, 0.0], [0.5, 0.0], [-2.25, 0.0]]
    complex_scalars = [*scalars, [1.0, -0.0], [0.0, 1.5], [-0.75, 0.25]]
    for i in range(600):
        prec = str(rng.choice(list("ds"))) if i < 400 else str(rng.choice(list("zc")))
        pick = complex_scalars if prec in "zc" else scalars
        m, n, k = (int(x) for x in rng.integers(1, 41, 3))
        ta, tb = str(rng.choice(list("NnTtCc"))), str(rng.choice(list("NnTtCc")))
        ra, rb = (k if ta in "TtCc" else m), (n if tb in "TtCc" else k)
        lda, ldb, ldc = ra + int(rng.integers(0, 4)), rb + int(rng.integers(0, 4)), m + int(
            rng.integers(0, 4)
        )
        alpha = pick[int(rng.integers(len(pick)))]
        beta = [*pick, [0.0, 0.0]][int(rng.integers(len(pick) + 1))]
        cases.append(
            dict(name=f"r{i}", prec=prec, ta=ta, tb=tb, m=m, n=n, k=k, lda=lda, ldb=ldb, ldc=ldc,
                 alpha=alpha, beta=beta, sa=_span(ra, k if ta in "Nn" else m, lda),
                 sb=_span(rb, n if tb in "Nn" else k, ldb), sc=_span(m, n, ldc), seed=1000 + i)
        )
    return cases


def _run(libpath: Path, tmp: Path, name: str, env: dict[str, str]) -> dict[str, np.ndarray]:
    cases = tmp / "cases.json"
    if not cases.exists():
        cases.write_text(json.dumps(_cases()))
    script = tmp / "child.py"
    script.write_text(CHILD)
    out = tmp / f"{name}.npz"
    r = subprocess.run(
        [sys.executable, str(script), str(libpath), str(cases), str(out)],
        env=clean_env(**env), capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def _cpu_has_avx512(libpath: Path) -> bool:
    # xsmmwrap_config as the header declares it (a hand-written ctypes copy of its first fields
    # was 40 of its 88 bytes: the library wrote past it, and the process crashed).
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from _driver_common import Library\n"
        "print(Library(sys.argv[1]).config()['cpu_target'])\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(libpath)], env=clean_env(),
                       capture_output=True, text=True, check=True)
    return int(r.stdout) == 2  # cpu_target: XSMMWRAP_TARGET_AVX512


def _same(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elementwise: the same bits, or both NaN."""
    return (x.view(f"u{x.itemsize}") == y.view(f"u{y.itemsize}")) | (np.isnan(x) & np.isnan(y))


def test_element_independent_of_shape_and_target(libpath, tmp_path):
    runs = {
        "portable": _run(libpath, tmp_path, "portable", {"XSMMWRAP_JIT": "0"}),
        "avx2": _run(libpath, tmp_path, "avx2", {"XSMMWRAP_TARGET": "avx2"}),
    }
    if _cpu_has_avx512(libpath):
        runs["avx512"] = _run(libpath, tmp_path, "avx512", {"XSMMWRAP_TARGET": "avx512"})
    cases = {c["name"]: c for c in _cases()}
    # Each target: the elements of every m x n product equal those of the 24 x 24 product.
    for target, res in runs.items():
        bad = []
        for name in cases:
            if not name.startswith("sub") or name.endswith("_24x24"):
                continue
            prec, m, n, _ = name[3:].split("_")
            parts = 2 if prec in "zc" else 1  # a complex element's (re, im) are one row's pair
            whole = res[f"sub{prec}_{m}_{n}_24x24"].reshape(64, 64 * parts)  # column j: row j
            part = res[name].reshape(64, 64 * parts)
            rows, cols = int(n), int(m) * parts
            same = _same(part[:rows, :cols], whole[:rows, :cols])
            if not same.all():
                bad.append(f"{name}: {int((~same).sum())} of {same.size} elements differ")
        assert not bad, f"{target}: " + "; ".join(bad[:10]) + f" ({len(bad)} products)"
    # Every target gives the portable kernel's bits for every call.
    for target, res in runs.items():
        diff = [k for k in res if not _same(res[k], runs["portable"][k]).all()]
        assert not diff, f"{target} differs from the portable kernel: {len(diff)} calls, {diff[:8]}"
    assert len(runs["portable"]) == len(cases)
