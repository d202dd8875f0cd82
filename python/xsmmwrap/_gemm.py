"""``gemm``: a GEMM call from numpy arrays through the library's own routing.

The arrays are handed to ``xsmmwrap_gemm()`` in place whenever BLAS can read them (any
memory order with a unit stride along one axis), else through a column-major copy.
Re-exported by :mod:`xsmmwrap`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import _lib

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["gemm"]


_PRECISION = {"d": 64, "f": 32}  # dtype.char of float64 and float32
_scalar_cache: dict[tuple[int, float], Any] = {}


def _column_major(x: np.ndarray[Any, Any]) -> tuple[bool, int] | None:
    """How BLAS can read ``x`` in place: (transposed, ld), or None when it cannot.

    ``x`` (r x c) is either a column-major matrix with leading dimension ld
    (transposed=False) or the transpose of a column-major c x r matrix (transposed=True).
    """
    rows, cols = x.shape
    if x.size == 0:  # nothing is read or written; numpy may give such arrays any strides
        return False, max(1, rows)
    if not x.flags.aligned:
        return None
    if x.flags.f_contiguous:
        return False, rows
    if x.flags.c_contiguous:
        return True, cols
    size = x.itemsize
    s0, s1 = x.strides  # the stride of a dimension of length 1 is never used

    def lead(stride: int, minimum: int) -> int | None:
        """The leading dimension for a byte stride, when it is one (>= minimum)."""
        ok = stride > 0 and stride % size == 0 and stride >= minimum * size
        return stride // size if ok else None

    if rows <= 1 or s0 == size:
        ld = lead(s1, rows) if cols > 1 else max(1, rows)
        if ld is not None:
            return False, ld
    if cols <= 1 or s1 == size:
        ld = lead(s0, cols) if rows > 1 else max(1, cols)
        if ld is not None:
            return True, ld
    return None


def _pointer(ffi: Any, x: np.ndarray[Any, Any]) -> Any:
    """The address of ``x[0, 0]`` as a cdata (from_buffer is the fast way for contiguous x)."""
    if x.flags.c_contiguous:
        return ffi.from_buffer(x)
    if x.flags.f_contiguous:
        return ffi.from_buffer(x.T)
    return ffi.cast("void *", x.__array_interface__["data"][0])


def _scalar(ffi: Any, precision: int, value: float) -> Any:
    key = (precision, value)
    cdata = _scalar_cache.get(key)
    if cdata is None:
        cdata = ffi.new("double *" if precision == 64 else "float *", value)
        if value in (1.0, -1.0) or (value == 0.0 and math.copysign(1.0, value) > 0):
            _scalar_cache[key] = cdata  # read-only for the library: shared by all calls
    return cdata


def gemm(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: np.ndarray[Any, Any] | None = None,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> np.ndarray[Any, Any]:
    """General matrix multiply through libxsmmwrap: ``C = alpha*op(A) @ op(B) + beta*C``.

    Any memory order works: C- and Fortran-ordered arrays and views with a unit stride
    along one axis are passed in place; other arrays (no unit stride, negative strides,
    misaligned) are copied first, and such a ``c`` is computed in a temporary and copied
    back.

    Parameters
    ----------
    a, b : array_like
        2-D float32 or float64 arrays of the same dtype.
    c : numpy.ndarray, optional
        2-D array of the same dtype and shape (m, n), updated in place. When omitted, a
        new C-ordered zero array is used.
    alpha, beta : float
        Scalars. With ``beta == 0``, ``c`` is not read (NaN in ``c`` does not propagate);
        with ``alpha == 0`` (or an empty inner dimension), ``a`` and ``b`` are not read.
    trans_a, trans_b : bool
        Use ``a.T`` / ``b.T`` as op(A) / op(B).

    Returns
    -------
    numpy.ndarray
        The result, ``c`` itself when it was given.

    Raises
    ------
    TypeError
        When the dtypes are not float32/float64 (native byte order) or differ.
    ValueError
        When the arrays are not 2-D, their shapes do not fit, or ``c`` is read-only.
    XsmmwrapError
        When the library rejects the call.
    """
    import numpy as np

    a_arr = np.asarray(a)
    b_arr = np.asarray(b)
    dtype = a_arr.dtype
    precision = _PRECISION.get(dtype.char, 0) if dtype.isnative else 0
    if not precision:
        raise TypeError(f"gemm: a must be float64 or float32 (native byte order), not {dtype}")
    if b_arr.dtype != dtype:
        raise TypeError(f"gemm: a and b must have the same dtype, got {dtype} and {b_arr.dtype}")
    if c is not None:
        if not isinstance(c, np.ndarray):
            raise TypeError(f"gemm: c must be a numpy.ndarray, not {type(c).__name__}")
        if c.dtype != dtype:
            raise TypeError(f"gemm: c must have the dtype of a and b ({dtype}), not {c.dtype}")
    for name, arr in (("a", a_arr), ("b", b_arr), ("c", c)):
        if arr is not None and arr.ndim != 2:
            raise ValueError(f"gemm: {name} must be 2-D, got shape {arr.shape}")
    m, ka = a_arr.shape[::-1] if trans_a else a_arr.shape
    kb, n = b_arr.shape[::-1] if trans_b else b_arr.shape
    if ka != kb:
        raise ValueError(
            f"gemm: inner dimensions differ: op(a) is {m}x{ka}, op(b) is {kb}x{n} "
            f"(a.shape={a_arr.shape}, trans_a={trans_a}, b.shape={b_arr.shape}, "
            f"trans_b={trans_b})"
        )
    if c is None:
        c = np.zeros((m, n), dtype=dtype)
    else:
        if c.shape != (m, n):
            raise ValueError(f"gemm: c has shape {c.shape}, expected ({m}, {n})")
        if not c.flags.writeable:
            raise ValueError("gemm: c is read-only")
        # BLAS does not allow C to overlap A or B: copy inputs that may share its memory.
        if np.may_share_memory(a_arr, c):
            a_arr = a_arr.copy()
        if np.may_share_memory(b_arr, c):
            b_arr = b_arr.copy()

    a_layout = _column_major(a_arr)
    if a_layout is None:
        a_arr = np.asfortranarray(a_arr)
        a_layout = _column_major(a_arr)
    b_layout = _column_major(b_arr)
    if b_layout is None:
        b_arr = np.asfortranarray(b_arr)
        b_layout = _column_major(b_arr)
    out = c
    c_layout = _column_major(c)
    if c_layout is None:  # no usable layout: compute in a column-major temporary
        out = np.empty((m, n), dtype=dtype, order="F") if beta == 0 else np.asfortranarray(c)
        c_layout = _column_major(out)
    assert a_layout is not None and b_layout is not None and c_layout is not None
    (a_t, lda), (b_t, ldb), (c_t, ldc) = a_layout, b_layout, c_layout

    bound = _lib.binding()
    ffi, lib = bound.ffi, bound.lib
    x, y = _pointer(ffi, a_arr), _pointer(ffi, b_arr)
    ta = bool(trans_a) != a_t  # op(A) = (stored A)^ta in column-major terms
    tb = bool(trans_b) != b_t
    if c_t:  # C row-major, i.e. C^T column-major: C^T = alpha op(B)^T op(A)^T + beta C^T
        ta, tb, m, n, x, lda, y, ldb = not tb, not ta, n, m, y, ldb, x, lda
    _lib.check(
        lib.xsmmwrap_gemm(
            precision,
            b"T" if ta else b"N",
            b"T" if tb else b"N",
            m,
            n,
            ka,
            _scalar(ffi, precision, float(alpha)),
            x,
            lda,
            y,
            ldb,
            _scalar(ffi, precision, float(beta)),
            _pointer(ffi, out),
            ldc,
        )
    )
    if out is not c:
        c[...] = out
    return c
