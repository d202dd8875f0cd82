"""The arithmetic contracts (docs/ARCHITECTURE.md) from their definitions, for the tests that
check results bit for bit: an exactly rounded FMA, and the dot form's sum (GEMV T)."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

_LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
_LIBM.fma.restype = ctypes.c_double
_LIBM.fma.argtypes = [ctypes.c_double] * 3
_LIBM.fmaf.restype = ctypes.c_float
_LIBM.fmaf.argtypes = [ctypes.c_float] * 3

ONE, MINUS_ONE, ZERO, ANY = range(4)  # scale classes (kernels.h)


def fma(x: np.ndarray, y: np.ndarray, z: np.ndarray, dt) -> np.ndarray:
    """x*y + z rounded once, element by element, in dtype dt (float64 or float32)."""
    f = _LIBM.fma if dt == np.float64 else _LIBM.fmaf
    shape = np.broadcast(x, y, z).shape
    xs, ys, zs = (np.broadcast_to(np.asarray(v, dt), shape).ravel().tolist() for v in (x, y, z))
    return np.array([f(a, b, c) for a, b, c in zip(xs, ys, zs)], dt).reshape(shape)


def scale_class(v: float) -> int:
    """The scale class of alpha or beta (kernels.h: exact, -0.0 is 0)."""
    return ONE if v == 1.0 else MINUS_ONE if v == -1.0 else ZERO if v == 0.0 else ANY


def epilogue(s, c0, alpha, beta, alpha_cls: int, beta_cls: int, dt) -> np.ndarray:
    """C from s (each element's sum, alpha -1's sign in it) by the classes (ref.h)."""
    al, be = dt(alpha), dt(beta)
    any_a = alpha_cls == ANY
    with np.errstate(all="ignore"):
        if beta_cls == ZERO:
            return al * s if any_a else s
        if beta_cls == ONE:
            return fma(al, s, c0, dt) if any_a else s + c0
        if beta_cls == MINUS_ONE:
            return fma(al, s, -c0, dt) if any_a else s - c0
        return fma(al, s, be * c0, dt) if any_a else fma(be, c0, s, dt)


def dot(opa: np.ndarray, x: np.ndarray, y0: np.ndarray, alpha: float, beta: float, dt):
    """y = alpha*opa @ x + beta*y0 by the dot form's contract (ref_dot.c): row i of opa (a
    column of A) in the lanes of one 64-byte vector, each lane a chain over every L-th element
    from +0, the lanes summed by halving, then the epilogue of the classes of alpha and beta."""
    m, k = opa.shape
    lanes = 64 // np.dtype(dt).itemsize
    ac, bc = scale_class(alpha), scale_class(beta)
    a = -opa.astype(dt) if ac == MINUS_ONE else opa.astype(dt)
    s = np.zeros((m, lanes), dt)
    for p in range(k):
        s[:, p % lanes] = fma(a[:, p], np.asarray(x[p], dt), s[:, p % lanes], dt)
    h = lanes // 2
    with np.errstate(all="ignore"):
        while h >= 1:
            s[:, :h] = s[:, :h] + s[:, h : 2 * h]
            h //= 2
    return epilogue(s[:, 0], np.asarray(y0, dt), alpha, beta, ac, bc, dt)
