"""xsmmwrap: look inside libxsmmwrap, the BLAS GEMM call wrapper, and call it directly.

The library is loaded on first use: the instance already in the process when it was
preloaded (``LD_PRELOAD``, e.g. by ``xsmmwrap run``), else the bundled ``libxsmmwrap.so``
(or the file named by ``XSMMWRAP_LIBRARY``). See :mod:`xsmmwrap._lib`.

Module attributes
-----------------
verbosity : int
    The library's verbosity, readable and settable at run time (``xsmmwrap.verbosity = 2``).
__version__ : str
    The library's version string.
"""

from __future__ import annotations

import math
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _lib
from ._lib import XsmmwrapError
from .interpose import disable, enable, enabled, is_enabled

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "Config",
    "FamilyStats",
    "KernelInfo",
    "Stats",
    "XsmmwrapError",
    "__version__",
    "config",
    "disable",
    "enable",
    "enabled",
    "gemm",
    "get_verbosity",
    "include_path",
    "is_enabled",
    "is_preloaded",
    "kernels",
    "library_path",
    "reset_stats",
    "set_verbosity",
    "static_library_path",
    "stats",
    "verbosity",
    "write_json",
]

# Provided by _Module properties below (annotations only, for type checkers).
__version__: str
verbosity: int

_CLASS_NAMES = {1: "1", -1: "-1", 0: "0", 2: "any"}


def library_path() -> Path:
    """Path of the shared library, for ``LD_PRELOAD``.

    Returns
    -------
    pathlib.Path
        The bundled ``libxsmmwrap.so``, or ``$XSMMWRAP_LIBRARY`` when that is set.
    """
    return _lib.library_path()


def static_library_path() -> Path:
    """Path of the bundled static library ``libxsmmwrap.a`` (for linking with ``--wrap``).

    Raises
    ------
    FileNotFoundError
        When the static library is not installed.
    """
    return _lib.static_library_path()


def is_preloaded() -> bool:
    """Whether the library was already in the process (``LD_PRELOAD``, ``xsmmwrap run``).

    When it was, statistics and kernels are those of the program's own GEMM calls.
    """
    return bool(_lib.binding().preloaded)


def include_path() -> Path:
    """Directory holding ``xsmmwrap.h`` (for ``-I``)."""
    return _lib.header_path().parent


def _text(ptr: Any) -> str:
    ffi = _lib.binding().ffi
    if ptr == ffi.NULL:
        return ""
    value = ffi.string(ptr)
    return value.decode() if isinstance(value, bytes) else str(value)


def _target_name(target: int) -> str:
    return _text(_lib.binding().lib.xsmmwrap_target_name(target)) or str(target)


def _version() -> str:
    return _text(_lib.binding().lib.xsmmwrap_version())


def get_verbosity() -> int:
    """Current verbosity of the library (``LIBXSMM_VERBOSE``)."""
    return int(_lib.binding().lib.xsmmwrap_get_verbosity())


def set_verbosity(level: int) -> None:
    """Change the verbosity at run time; it decides what the library prints at exit.

    Parameters
    ----------
    level : int
        0 is silent; higher levels print more.
    """
    _lib.check(_lib.binding().lib.xsmmwrap_set_verbosity(int(level)))


@dataclass(frozen=True)
class FamilyStats:
    """Calls and products of one family of entry points.

    Attributes
    ----------
    calls : int
        Calls of the family's entry points.
    products : int
        Products they made: one a call for GEMM, GEMV and SYRK, the products a batch names.
    """

    calls: int
    products: int


@dataclass(frozen=True)
class Stats:
    """Call counters summed over all threads since load or the last :func:`reset_stats`.

    Routes count products: a GEMM, GEMV or SYRK call is one, a batch call
    (``?gemm_batch``, ``?gemm_batch_strided``) counts each of its products under the route that
    product took.

    Attributes
    ----------
    intercepted : int
        Products that reached the wrapper (the sum of ``by_route``; the number of calls when
        only GEMM was called).
    calls : int
        Calls of the entry points.
    families : dict[str, FamilyStats]
        Calls and products per family: "gemm", "gemv", "syrk", "batch".
    by_route : dict[str, int]
        Products per route name ("jit", "portable", "scale", "too_large", ...).
    kernel_calls : int
        Calls served by a kernel (jit + portable).
    scale_calls : int
        Calls the wrapper served without a kernel: ``C = beta*C`` when alpha is 0 or K, M or
        N is 0, at any size, A and B never read (route "scale").
    original_calls : int
        Calls passed on to the original BLAS (all other routes).
    kernels, jit_kernels : int
        Kernels in the registry, and of those generated code (not reset).
    jit_failures : int
        Code generations that fell back to the portable kernel.
    code_bytes, memory_bytes : int
        Bytes of generated code, and of the memory the library holds, each page once
        (``docs/REPORT.md`` lists what it counts).
    kernel_gflop : float
        Floating-point work (GFLOP) done on the kernel path (a complex multiply-add is 8 flops).
    symbols : dict[str, int]
        Calls per exported symbol, only symbols that were called.
    tuned_calls : int
        Calls the tuning file routed otherwise than the defaults (its kernel plan or target, or
        the original BLAS: route "tuned_blas").
    """

    intercepted: int
    calls: int
    families: dict[str, FamilyStats]
    by_route: dict[str, int]
    kernel_calls: int
    scale_calls: int
    original_calls: int
    kernels: int
    jit_kernels: int
    jit_failures: int
    code_bytes: int
    memory_bytes: int
    kernel_gflop: float
    symbols: dict[str, int]
    tuned_calls: int = 0


def stats() -> Stats:
    """Snapshot of the library's statistics."""
    b = _lib.binding()
    ffi, lib = b.ffi, b.lib
    raw = ffi.new("xsmmwrap_stats *")
    _lib.check(lib.xsmmwrap_get_stats(raw))
    by_route: dict[str, int] = {}
    for route in range(int(lib.XSMMWRAP_ROUTE_COUNT)):
        by_route[_text(lib.xsmmwrap_route_name(route)) or str(route)] = int(raw.by_route[route])
    kernel_calls = int(raw.by_route[lib.XSMMWRAP_ROUTE_JIT]) + int(
        raw.by_route[lib.XSMMWRAP_ROUTE_PORTABLE]
    )
    scale_calls = int(raw.by_route[lib.XSMMWRAP_ROUTE_SCALE])
    symbols: dict[str, int] = {}
    name = ffi.new("char **")
    calls = ffi.new("uint64_t *")
    for i in range(int(lib.xsmmwrap_symbol_count())):
        _lib.check(lib.xsmmwrap_symbol_get(i, name, calls))
        if calls[0]:
            symbols[_text(name[0])] = int(calls[0])
    families = {
        _text(lib.xsmmwrap_family_name(f)): FamilyStats(
            int(raw.family_calls[f]), int(raw.family_products[f])
        )
        for f in range(int(lib.XSMMWRAP_FAMILY_COUNT))
    }
    return Stats(
        intercepted=int(raw.intercepted),
        calls=int(raw.calls),
        families=families,
        by_route=by_route,
        kernel_calls=kernel_calls,
        scale_calls=scale_calls,
        original_calls=sum(by_route.values()) - kernel_calls - scale_calls,
        kernels=int(raw.kernels),
        jit_kernels=int(raw.jit_kernels),
        jit_failures=int(raw.jit_failures),
        code_bytes=int(raw.code_bytes),
        memory_bytes=int(raw.memory_bytes),
        kernel_gflop=float(raw.kernel_gflop),
        symbols=symbols,
        tuned_calls=int(raw.tuned_calls),
    )


def reset_stats() -> None:
    """Zero the call counters; kernels stay in the registry."""
    _lib.check(_lib.binding().lib.xsmmwrap_reset_stats())


@dataclass(frozen=True)
class KernelInfo:
    """One kernel of the registry (column-major view of the problem).

    Attributes
    ----------
    precision : str
        numpy's name of the element type: "f64", "f32" (dgemm, sgemm), "c128" or "c64"
        (complex128 and complex64: zgemm, cgemm).
    trans_a, trans_b : str
        "N", "T" or "C" (conjugate transpose, complex kernels only).
    m, n, k, lda, ldb, ldc : int
        Shape and leading dimensions.
    alpha_class, beta_class : str
        "1", "-1", "0" or "any".
    jit : bool
        True for generated code, False for the portable kernel.
    target : str
        Target the code was made for ("generic", "avx2", "avx512").
    code_bytes : int
        Size of the generated code (0 for the portable kernel).
    calls : int
        Calls since the last reset.
    gflop : float
        Work done since the last reset.
    tuned : bool
        The tuning file chose it over the default routing: its calls followed the file.
    mb_max, nb_max : int
        The plan asked for (tile limits from the tuning file; 0: the cost model's own).
    """

    precision: str
    trans_a: str
    trans_b: str
    m: int
    n: int
    k: int
    lda: int
    ldb: int
    ldc: int
    alpha_class: str
    beta_class: str
    jit: bool
    target: str
    code_bytes: int
    calls: int
    gflop: float
    tuned: bool = False
    mb_max: int = 0
    nb_max: int = 0


def _char(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def kernels() -> list[KernelInfo]:
    """The kernels of the registry in creation order, with their call counts."""
    b = _lib.binding()
    info = b.ffi.new("xsmmwrap_kernel_info *")
    result: list[KernelInfo] = []
    for i in range(int(b.lib.xsmmwrap_kernel_count())):
        if b.lib.xsmmwrap_kernel_get(i, info) != 0:
            break  # the registry may not shrink, but stay safe against races
        result.append(
            KernelInfo(
                precision=f"{'c' if info.is_complex else 'f'}{int(info.precision)}",
                trans_a=_char(info.trans_a),
                trans_b=_char(info.trans_b),
                m=int(info.m),
                n=int(info.n),
                k=int(info.k),
                lda=int(info.lda),
                ldb=int(info.ldb),
                ldc=int(info.ldc),
                alpha_class=_CLASS_NAMES.get(int(info.alpha_class), str(info.alpha_class)),
                beta_class=_CLASS_NAMES.get(int(info.beta_class), str(info.beta_class)),
                jit=bool(info.jit),
                target=_target_name(int(info.target)),
                code_bytes=int(info.code_bytes),
                calls=int(info.calls),
                gflop=float(info.gflop),
                tuned=bool(info.tuned),
                mb_max=int(info.mb_max),
                nb_max=int(info.nb_max),
            )
        )
    return result


@dataclass(frozen=True)
class Config:
    """The configuration in effect, read once from the environment at first use.

    Attributes
    ----------
    max_mnk : int
        Largest M*N*K served by a kernel (``XSMMWRAP_MAX_MNK``), in real multiply-adds: a
        complex call is served up to 4*M*N*K = max_mnk.
    max_kernels : int
        Registry capacity (``XSMMWRAP_MAX_KERNELS``).
    disabled : bool
        ``XSMMWRAP_DISABLE``.
    jit : bool
        ``XSMMWRAP_JIT`` (False: portable kernel only).
    target : str
        Target in use ("generic", "avx2", "avx512").
    cpu_target : str
        Best target the CPU and OS support.
    trylock : bool
        ``LIBXSMM_TRYLOCK``.
    verbosity : int
        ``LIBXSMM_VERBOSE`` / ``XSMMWRAP_VERBOSE``.
    tune_file : str or None
        The tuning file read (``XSMMWRAP_TUNE``, else this CPU's cache file when it exists).
    tune_state : str
        "none", "in use" or "ignored" (then ``tune_reason`` says why).
    tune_reason : str
        Why the tuning file is ignored ("" otherwise).
    tune_entries : int
        Descriptors the file names, when in use.
    tune_moved : int
        Of those, the ones whose choice differs from the default routing here: only their
        calls are routed by the file (and counted as following it).
    tune_default : str or None
        This CPU's per-user cache file (``xsmmwrap tune`` writes it by default).
    """

    max_mnk: int
    max_kernels: int
    disabled: bool
    jit: bool
    target: str
    cpu_target: str
    trylock: bool
    verbosity: int
    tune_file: str | None = None
    tune_state: str = "none"
    tune_reason: str = ""
    tune_entries: int = 0
    tune_moved: int = 0
    tune_default: str | None = None


_TUNE_STATES = {0: "none", 1: "in use", 2: "ignored"}


def config() -> Config:
    """The library's configuration."""
    b = _lib.binding()
    raw = b.ffi.new("xsmmwrap_config *")
    _lib.check(b.lib.xsmmwrap_get_config(raw))
    return Config(
        max_mnk=int(raw.max_mnk),
        max_kernels=int(raw.max_kernels),
        disabled=bool(raw.disabled),
        jit=bool(raw.jit),
        target=_target_name(int(raw.target)),
        cpu_target=_target_name(int(raw.cpu_target)),
        trylock=bool(raw.trylock),
        verbosity=int(raw.verbosity),
        tune_file=_text(raw.tune_file) or None,
        tune_state=_TUNE_STATES.get(int(raw.tune_state), str(raw.tune_state)),
        tune_reason=_text(raw.tune_reason),
        tune_entries=int(raw.tune_entries),
        tune_moved=int(raw.tune_moved),
        tune_default=_text(raw.tune_default) or None,
    )


def write_json(path: str | os.PathLike[str]) -> None:
    """Write the statistics as JSON to ``path`` (the format of ``XSMMWRAP_STATS_JSON``).

    Raises
    ------
    XsmmwrapError
        When the file cannot be written.
    """
    _lib.check(_lib.binding().lib.xsmmwrap_write_json(os.fsencode(path)))


# --- gemm -------------------------------------------------------------------------------

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


class _Module(types.ModuleType):
    """Module type giving ``xsmmwrap`` its run-time properties."""

    @property
    def verbosity(self) -> int:
        return get_verbosity()

    @verbosity.setter
    def verbosity(self, level: int) -> None:
        set_verbosity(level)

    @property
    def __version__(self) -> str:
        return _version()

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), "verbosity", "__version__"})


sys.modules[__name__].__class__ = _Module


def _register_threadpoolctl() -> None:
    """List libxsmmwrap in ``threadpoolctl.threadpool_info()`` when threadpoolctl is there:
    the controller registered, and the library loaded (threadpoolctl lists loaded ones)."""
    try:
        from ._threadpoolctl import register
    except ImportError:  # threadpoolctl is not installed, or too old
        return
    register()
    _lib.load_early()


_register_threadpoolctl()
