"""A numpy/scipy program whose time goes into many small matrix products.

Run it as is, or through the wrapper to see what it does::

    python examples/app.py
    xsmmwrap run -v 2 -- python examples/app.py

It checks its own answers (against products computed element by element with einsum's
non-BLAS path) and prints its time and, when the wrapper is loaded, the share of GEMM calls
served by the kernel path.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import scipy.linalg
import scipy.linalg.blas


def stacked_matmul(rng: np.random.Generator, n: int, count: int, dtype: type) -> float:
    """np.matmul on a (count, n, n) stack: one GEMM call per matrix in numpy's wheels."""
    a = rng.standard_normal((count, n, n)).astype(dtype)
    b = rng.standard_normal((count, n, n)).astype(dtype)
    c = a @ b
    ref = np.einsum("bij,bjk->bik", a.astype(np.float64), b.astype(np.float64), optimize=False)
    return float(np.max(np.abs(c - ref)) / max(1.0, float(np.max(np.abs(ref)))))


def small_scipy(rng: np.random.Generator, count: int) -> float:
    """scipy.linalg.blas.dgemm and expm on small matrices."""
    worst = 0.0
    for _ in range(count):
        x = rng.standard_normal((8, 8))
        y = rng.standard_normal((8, 8))
        z = scipy.linalg.blas.dgemm(0.5, x, y)
        worst = max(worst, float(np.max(np.abs(z - 0.5 * np.einsum("ij,jk->ik", x, y)))))
    m = rng.standard_normal((6, 6)) * 0.1
    e = scipy.linalg.expm(m)
    series = np.eye(6)
    term = np.eye(6)
    for i in range(1, 30):
        term = np.einsum("ij,jk->ik", term, m) / i
        series = series + term
    return max(worst, float(np.max(np.abs(e - series))))


def wrapper_share() -> str:
    """The wrapper's kernel-path share, when it is loaded in this process."""
    try:
        import xsmmwrap
    except ImportError:
        return "wrapper: xsmmwrap not installed"
    if not xsmmwrap.is_preloaded():
        return "wrapper: not loaded (run through `xsmmwrap run`)"
    s = xsmmwrap.stats()
    share = 100.0 * s.kernel_calls / s.intercepted if s.intercepted else 0.0
    return f"wrapper: {s.intercepted} GEMM calls intercepted, {share:.1f}% on the kernel path"


def main() -> int:
    rng = np.random.default_rng(42)
    t0 = time.perf_counter()
    errors = {
        "matmul f64 (4000, 8, 8)": stacked_matmul(rng, 8, 4000, np.float64),
        "matmul f64 (2000, 16, 16)": stacked_matmul(rng, 16, 2000, np.float64),
        "matmul f32 (4000, 5, 5)": stacked_matmul(rng, 5, 4000, np.float32),
        "scipy dgemm 8x8 and expm 6x6": small_scipy(rng, 500),
        "matmul f64 (200, 200) (large)": stacked_matmul(rng, 200, 1, np.float64),
    }
    elapsed = time.perf_counter() - t0
    ok = True
    for name, err in errors.items():
        limit = 1e-4 if "f32" in name else 1e-10
        status = "ok" if err <= limit else "WRONG"
        ok &= err <= limit
        print(f"{name:32s} max rel. error {err:.2e}  {status}")
    print(f"time {elapsed * 1e3:.1f} ms")
    print(wrapper_share())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
