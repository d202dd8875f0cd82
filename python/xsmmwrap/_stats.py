"""Statistics and kernels: what the library counted and what it holds.

:func:`stats` sums the per-thread counters, :func:`kernels` lists the registry, and
:func:`write_json` writes both in the format of ``XSMMWRAP_STATS_JSON``. Every name (routes,
families, targets, scale classes) is the library's own, read through its ``*_name()``
functions. Re-exported by :mod:`xsmmwrap`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import _lib
from ._config import target_name

__all__ = [
    "FamilyStats",
    "KernelInfo",
    "Stats",
    "kernels",
    "reset_stats",
    "scale_class_name",
    "scale_class_names",
    "stats",
    "write_json",
]


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
        by_route[_lib.text(lib.xsmmwrap_route_name(route)) or str(route)] = int(raw.by_route[route])
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
            symbols[_lib.text(name[0])] = int(calls[0])
    families = {
        _lib.text(lib.xsmmwrap_family_name(f)): FamilyStats(
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


def write_json(path: str | os.PathLike[str]) -> None:
    """Write the statistics as JSON to ``path`` (the format of ``XSMMWRAP_STATS_JSON``).

    Raises
    ------
    XsmmwrapError
        When the file cannot be written.
    """
    _lib.check(_lib.binding().lib.xsmmwrap_write_json(os.fsencode(path)))


def scale_class_name(scale_class: int) -> str:
    """The library's name of a scale class as ``xsmmwrap_kernel_info`` numbers it (1, -1, 0,
    2): "1", "-1", "0", "any", the statistics' and the tuning file's spelling."""
    name = _lib.binding().lib.xsmmwrap_scale_name(int(scale_class))
    return _lib.text(name) or str(scale_class)


def scale_class_names() -> dict[int, str]:
    """Every scale class's name by its number (the classes -1 to 2 of ``xsmmwrap.h``)."""
    return {c: scale_class_name(c) for c in (1, -1, 0, 2)}


@dataclass(frozen=True)
class KernelInfo:
    """One kernel of the registry (column-major view of the problem).

    Attributes
    ----------
    precision : str
        numpy's name of the element type: "f64", "f32" (dgemm, sgemm), "c128" or "c64"
        (complex128 and complex64: zgemm, cgemm).
    trans_a, trans_b : str
        "N", "T" or "C" (conjugate transpose, complex kernels only); trans_a "D" for a
        transposed GEMV's kernel (op(A) = A^T, each element a dot product), whose ldb and ldc
        are the increments of x and y.
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


def _char(value: object) -> str:
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
                alpha_class=scale_class_name(int(info.alpha_class)),
                beta_class=scale_class_name(int(info.beta_class)),
                jit=bool(info.jit),
                target=target_name(int(info.target)),
                code_bytes=int(info.code_bytes),
                calls=int(info.calls),
                gflop=float(info.gflop),
                tuned=bool(info.tuned),
                mb_max=int(info.mb_max),
                nb_max=int(info.nb_max),
            )
        )
    return result
