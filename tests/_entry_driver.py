"""Differential driver for one exported GEMM name of libxsmmwrap.so (run by test_entry_points.py).

Real (dgemm, sgemm) and complex (zgemm, cgemm) names alike: complex calls add the transpose C
(conjugate) and complex scalars (parts zero or not, signed zeros), are compared with numpy's
complex product, and their threshold is 4*M*N*K (a complex multiply-add is four real ones).

The library is loaded with ctypes (not preloaded) and its entry point is called directly; the
original BLAS behind declined calls is whatever XSMMWRAP_BLAS (set by the test) provides. Every
result is compared with numpy, the ld padding of C and the inputs A and B must be untouched.

Calls the wrapper serves are held to what it guarantees: with alpha = 0 A and B are full of
NaN and Inf; a call with nothing to multiply (route scale) must give C = beta*C bit for bit
(+0.0 for beta = 0 whatever C held, C untouched for beta = 1, NaN payloads included). Calls it
forwards are held only to what the BLAS specification promises (C is not read when beta = 0;
it does not promise that A and B are not read when alpha = 0, and OpenBLAS's AVX-512 kernels
do read them).

    python _entry_driver.py LIB SYMBOL --out summary.json [--random N] [--seed S]
                            [--no-invalid] [--kernel-only] [--big-ld] [--disabled]
                            [--sabotage WHAT]
    python _entry_driver.py LIB SYMBOL --abort large|invalid

--kernel-only makes only calls the wrapper serves (kernel or scale: no original needed);
--disabled expects every call forwarded (run with XSMMWRAP_DISABLE=1).
The summary lists the calls made and the route each one should have taken, for the test to
compare with the library's XSMMWRAP_STATS_JSON. Exit status 1 when a result was wrong.
With --abort the driver makes one call that needs the original BLAS and prints "NOT ABORTED"
if it returns (the test runs it where no original exists).
"""

from __future__ import annotations

import ctypes as ct
import json
import os
import random
import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from _driver_common import (
    COL_MAJOR,
    CONJ_TRANS,
    DTYPE,
    INT,
    NAN_BITS,
    NO_TRANS,
    ROW_MAJOR,
    TRANS,
    Library,
    arguments,
    entry_points,
    finish,
)

# The GEMM names of entry_list.h: name -> (interface, element type, integer type)
SYMBOLS: dict[str, tuple[str, Any, Any]] = {
    e.name: (e.interface, DTYPE[e.precision], INT[e.integer]) for e in entry_points("gemm").values()
}
SCALARS = [0.0, 1.0, -1.0, 0.37]
# Complex: the grid's, then more for random picks: a zero imaginary part of either sign keeps the
# real part's class (1 - 0j is 1); any other imaginary part makes it "any"; both parts zero is 0.
COMPLEX_SCALARS = [0.0, 1.0, -1.0, 0.37, complex(0.5, -1.25)]
COMPLEX_PICKS = COMPLEX_SCALARS + [
    complex(1.0, -0.0),
    complex(-1.0, 0.0),
    complex(-0.0, -0.0),
    complex(0.0, 0.75),
    complex(-0.0, 2.0),
]
C_PAD = 1234.5  # exact in f32; the ld padding of C must keep it
SCALE_CHECKED = 2048  # elements of a complex C = beta*C checked bit for bit
PRECISION_NAMES = {"d": "f64", "f": "f32", "D": "c128", "F": "c64"}  # by numpy's dtype.char
DEFAULT_MAX_MNK = 64 * 64 * 64


@dataclass
class Case:
    """One call. For Fortran names ta/tb are characters, for CBLAS the enum values."""

    ta: Any
    tb: Any
    m: int
    n: int
    k: int
    alpha: float
    beta: float
    order: int = COL_MAJOR  # CBLAS only; Fortran is always column-major
    pad: tuple[int, int, int] = (0, 0, 0)  # ld minus the least valid ld, for A, B, C
    ld: tuple[int, int, int] | None = None  # explicit leading dimensions (invalid cases)
    expect: str = "kernel"  # kernel, scale, too_large, unsupported, invalid
    note: str = ""


def is_trans(t: Any) -> bool:
    return t in ("T", "t", "C", "c", TRANS, CONJ_TRANS)


def is_conj(t: Any) -> bool:
    return t in ("C", "c", CONJ_TRANS)


def stored(t: Any, x: np.ndarray) -> np.ndarray:
    """The matrix as stored for op(X) = x under transpose t (conjugated for 'C' when complex:
    a real 'C' is 'T')."""
    if not is_trans(t):
        return x
    return x.conj().T if is_conj(t) and np.iscomplexobj(x) else x.T


def real_dtype(dtype: Any) -> Any:
    """The type of one part: float64 for complex128, float32 for complex64, else itself."""
    return np.dtype(dtype).type(0).real.dtype


def stored_shapes(c: Case) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(rows, cols) of A, B and C as they sit in memory (before any ld)."""
    sa = (c.k, c.m) if is_trans(c.ta) else (c.m, c.k)
    sb = (c.n, c.k) if is_trans(c.tb) else (c.k, c.n)
    return sa, sb, (c.m, c.n)


def min_ld(shape: tuple[int, int], row_major: bool) -> int:
    return max(1, shape[1] if row_major else shape[0])


def leading_dims(c: Case) -> tuple[int, int, int]:
    if c.ld is not None:
        return c.ld
    rm = c.order == ROW_MAJOR
    sa, sb, sc = stored_shapes(c)
    return (min_ld(sa, rm) + c.pad[0], min_ld(sb, rm) + c.pad[1], min_ld(sc, rm) + c.pad[2])


def blas_valid(c: Case) -> bool:
    """The reference BLAS argument checks (xerbla's), in the caller's layout."""
    spellings = {"N", "T", "C", "n", "t", "c", NO_TRANS, TRANS, CONJ_TRANS}
    if c.order not in (ROW_MAJOR, COL_MAJOR) or c.ta not in spellings or c.tb not in spellings:
        return False
    if min(c.m, c.n, c.k) < 0:
        return False
    rm = c.order == ROW_MAJOR
    need = [min_ld(s, rm) for s in stored_shapes(c)]
    return all(ld >= x for ld, x in zip(leading_dims(c), need))


def buffer_len(shape: tuple[int, int], ld: int, row_major: bool) -> int:
    """The least a BLAS may be handed (ld*(outer-1)+inner), plus a tail of 3 padding elements."""
    outer, inner = (shape[0], shape[1]) if row_major else (shape[1], shape[0])
    return (ld * (outer - 1) + inner if outer and inner else 0) + 3


def block_index(shape: tuple[int, int], ld: int, row_major: bool) -> np.ndarray:
    """Flat buffer index of each element (i, j) of a stored matrix, as a rows x cols array."""
    r, c = shape
    i = np.arange(r)[:, None]
    j = np.arange(c)[None, :]
    return (i * ld + j) if row_major else (j * ld + i)


def parts(x: np.ndarray) -> np.ndarray:
    """A real array as it is; a complex one as its parts (re, im interleaved on the last axis)."""
    x = np.ascontiguousarray(x)
    return x.view(real_dtype(x.dtype)) if np.iscomplexobj(x) else x


def bits(x: np.ndarray) -> np.ndarray:
    """The bit patterns of a float array (of each part of a complex one), as unsigned integers
    of the same width."""
    x = parts(x)
    return x.view(np.uint64 if x.dtype == np.float64 else np.uint32)


def special_values(dtype: Any) -> np.ndarray:
    """Values a careless C = beta*C or a read of A/B gets wrong: signed zeros (the first
    values), infinities and NaNs with payloads and either sign (quiet, so that copies keep their
    bits). Complex: zeros with either sign in either part, then each of those in one part."""
    part = real_dtype(dtype)
    if part == np.float64:
        nans = np.array([NAN_BITS[np.float64], 0xFFF8000000000123], dtype=np.uint64)
    else:
        nans = np.array([NAN_BITS[np.float32], 0xFFC00123], dtype=np.uint32)
    real = np.concatenate([np.array([0.0, -0.0, np.inf, -np.inf], dtype=part), nans.view(part)])
    if not np.issubdtype(dtype, np.complexfloating):
        return real
    pairs = [(0.0, -0.0), (-0.0, 0.0)]
    for x in real[2:]:
        pairs += [(x, 0.5), (0.25, x), (x, -0.0)]
    out = np.empty(len(pairs), dtype=dtype)
    out.view(part)[0::2] = [p[0] for p in pairs]
    out.view(part)[1::2] = [p[1] for p in pairs]
    return out


_LIBM = ct.CDLL("libm.so.6")
_FMA = {np.dtype(np.float64): _LIBM.fma, np.dtype(np.float32): _LIBM.fmaf}
for _t, _f in ((ct.c_double, _LIBM.fma), (ct.c_float, _LIBM.fmaf)):
    _f.restype = _t
    _f.argtypes = [_t, _t, _t]


def fma(x: np.ndarray, y: Any, z: np.ndarray) -> np.ndarray:
    """x*y + z rounded once, elementwise, in x's precision (libm's fma)."""
    f = np.frompyfunc(_FMA[x.dtype], 3, 1)
    return np.asarray(f(x, x.dtype.type(y), z), dtype=object).astype(x.dtype)


def contract_scale(c: np.ndarray, beta: complex) -> np.ndarray:
    """beta*c for a complex c as the arithmetic contract forms it (docs/ARCHITECTURE.md):
    (fma(cr, br, -(ci*bi)), fma(ci, br, cr*bi)), each product and fma rounded in c's precision."""
    part = real_dtype(c.dtype)
    cr, ci = np.ascontiguousarray(c.real), np.ascontiguousarray(c.imag)
    br, bi = part.type(beta.real), part.type(beta.imag)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.empty_like(c)
        out.real = fma(cr, br, -(ci * bi))
        out.imag = fma(ci, br, cr * bi)
    return out


def plant(rng: np.random.Generator, x: np.ndarray, values: np.ndarray, share: float) -> None:
    """Puts values at a random share of x's elements, and values[-1] at its last one."""
    if not x.size:
        return
    where = rng.random(x.shape) < share
    x[where] = rng.choice(values, size=int(np.count_nonzero(where)))
    x.flat[-1] = values[-1]


def pack(x: np.ndarray, ld: int, row_major: bool, fill: float, dtype: Any) -> np.ndarray:
    buf = np.full(buffer_len(x.shape, ld, row_major), fill, dtype=dtype)
    if x.size:
        buf[block_index(x.shape, ld, row_major)] = x
    return buf


class Driver:
    def __init__(self, lib_path: str, symbol: str, seed: int) -> None:
        self.lib = Library(lib_path)
        self.symbol = symbol
        self.iface, self.dtype, self.itype = SYMBOLS[symbol]
        self.fn = getattr(self.lib.dll, symbol)
        self.fn.restype = None
        self.complex = bool(np.issubdtype(self.dtype, np.complexfloating))
        self.scalar = ct.c_double if real_dtype(self.dtype) == np.float64 else ct.c_float
        self.tol = 1e-12 if real_dtype(self.dtype) == np.float64 else 1e-5
        if self.complex:  # four chains and a combination per part: a looser bound
            self.tol *= 3
        self.scalars = COMPLEX_SCALARS if self.complex else SCALARS
        self.picks = COMPLEX_PICKS if self.complex else SCALARS
        self.rng = np.random.default_rng(seed)
        self.pyrng = random.Random(seed)
        self.failures: list[str] = []
        self.sabotage = ""
        self.disabled = False  # --disabled: every call forwarded, whatever its label
        self.calls = 0
        self.expect = {
            "kernel": 0, "scale": 0, "too_large": 0, "unsupported": 0, "invalid": 0, "disabled": 0,
        }  # fmt: skip
        self.kernels: dict[str, int] = {}  # descriptor (JSON text) -> calls
        self.config = self.lib.config()
        env = os.environ.get("XSMMWRAP_MAX_MNK")
        self.max_mnk = int(env, 0) if env else DEFAULT_MAX_MNK

    # -- the call -------------------------------------------------------------------------
    def scalar_arg(self, v: Any, by_pointer: bool) -> Any:
        """A scalar as the interface passes it: Fortran by pointer, CBLAS real by value and
        complex by pointer (the array must outlive the call: ctypes keeps it in byref)."""
        if self.complex:
            return ct.byref((self.scalar * 2)(complex(v).real, complex(v).imag))
        return ct.byref(self.scalar(v)) if by_pointer else self.scalar(v)

    def call(self, c: Case, a: np.ndarray, b: np.ndarray, cc: np.ndarray) -> None:
        lda, ldb, ldc = leading_dims(c)
        ptr = [x.ctypes.data_as(ct.c_void_p) for x in (a, b, cc)]
        it = self.itype
        self.calls += 1
        if self.iface == "f77":
            ta = c.ta.encode() if isinstance(c.ta, str) else c.ta
            tb = c.tb.encode() if isinstance(c.tb, str) else c.tb
            self.fn(
                ct.c_char_p(ta),
                ct.c_char_p(tb),
                ct.byref(it(c.m)),
                ct.byref(it(c.n)),
                ct.byref(it(c.k)),
                self.scalar_arg(c.alpha, True),
                ptr[0],
                ct.byref(it(lda)),
                ptr[1],
                ct.byref(it(ldb)),
                self.scalar_arg(c.beta, True),
                ptr[2],
                ct.byref(it(ldc)),
                ct.c_size_t(1),
                ct.c_size_t(1),
            )
        else:
            self.fn(
                ct.c_int(c.order),
                ct.c_int(c.ta),
                ct.c_int(c.tb),
                it(c.m),
                it(c.n),
                it(c.k),
                self.scalar_arg(c.alpha, False),
                ptr[0],
                it(lda),
                ptr[1],
                it(ldb),
                self.scalar_arg(c.beta, False),
                ptr[2],
                it(ldc),
            )

    def values(self, shape: tuple[int, int]) -> np.ndarray:
        """Random elements in [-1, 1] (each part, when complex)."""
        x = self.rng.uniform(-1.0, 1.0, shape)
        if self.complex:
            x = x + 1j * self.rng.uniform(-1.0, 1.0, shape)
        return x.astype(self.dtype)

    def fail(self, c: Case, what: str) -> None:
        lds = leading_dims(c)
        self.failures.append(
            f"{self.symbol}: {what} [ta={c.ta!r} tb={c.tb!r} order={c.order} m={c.m} n={c.n} "
            f"k={c.k} ld={lds} alpha={c.alpha} beta={c.beta} expect={c.expect} {c.note}]"
        )

    # -- one valid call, checked ------------------------------------------------------------
    def run_valid(self, c: Case) -> None:
        rm = c.order == ROW_MAJOR
        sa, sb, sc = stored_shapes(c)
        lda, ldb, ldc = leading_dims(c)
        dt = self.dtype
        served = not self.disabled and c.expect in ("kernel", "scale")
        opa, opb, c0 = self.values((c.m, c.k)), self.values((c.k, c.n)), self.values((c.m, c.n))
        nonfinite = special_values(dt)[2:]
        if served and c.alpha == 0.0:  # the wrapper never reads A or B then
            plant(self.rng, opa, nonfinite, 0.3)
            plant(self.rng, opb, nonfinite, 0.3)
        if c.beta == 0.0:  # BLAS does not read C: planted NaN must not appear
            plant(self.rng, c0, nonfinite, 0.3)
        elif served and c.expect == "scale":  # C = beta*C bit for bit, zeros and NaNs too
            plant(self.rng, c0, special_values(dt), 0.3)
        a = pack(stored(c.ta, opa), lda, rm, np.nan, dt)
        b = pack(stored(c.tb, opb), ldb, rm, np.nan, dt)
        cbuf = pack(c0, ldc, rm, C_PAD, dt)
        a0, b0, cbuf0 = a.copy(), b.copy(), cbuf.copy()

        self.call(c, a, b, cbuf)
        self.damage(c, a, cbuf, block_index(sc, ldc, rm))

        if a.tobytes() != a0.tobytes() or b.tobytes() != b0.tobytes():
            self.fail(c, "A or B was modified")
        idx = block_index(sc, ldc, rm)
        outside = np.ones(cbuf.shape, dtype=bool)
        outside[idx.ravel()] = False
        if cbuf[outside].tobytes() != cbuf0[outside].tobytes():
            self.fail(c, "C changed outside the m x n block (ld padding or tail)")
        if served and c.expect == "scale":
            self.check_scale(c, c0, cbuf[idx])
            return
        wide = np.complex128 if self.complex else np.float64
        got = cbuf[idx].astype(wide)

        ref = np.zeros((c.m, c.n), dtype=wide)
        bound = np.zeros((c.m, c.n))
        if c.alpha != 0.0 and c.k:
            a64, b64 = opa.astype(wide), opb.astype(wide)
            ref += c.alpha * (a64 @ b64)
            bound += abs(c.alpha) * (np.abs(a64) @ np.abs(b64))
        if c.beta != 0.0:
            ref += c.beta * c0.astype(wide)
            bound += abs(c.beta) * np.abs(c0.astype(wide))
        if got.size and not np.isfinite(got).all():
            self.fail(
                c,
                f"{np.count_nonzero(~np.isfinite(got))} non-finite elements in C "
                "(a planted NaN leaked or the result is wrong)",
            )
            return
        err = np.abs(got - ref)
        lim = self.tol * bound + 1e-30
        if got.size and not (err <= lim).all():
            worst = np.unravel_index(np.argmax(err - lim), err.shape)
            self.fail(c, f"wrong result: |C-ref|={err[worst]:.3g} > {lim[worst]:.3g} at {worst}")

    def check_scale(self, c: Case, c0: np.ndarray, got: np.ndarray) -> None:
        """Reference BLAS's C = beta*C, bit for bit: beta = 0 gives +0.0 (C not read), beta = 1
        leaves C as it was (NaN payloads too), any other beta is one multiply in the precision
        of C (where that gives NaN, which NaN is the hardware's choice: only NaN is required).
        A complex beta*c is the contract's (contract_scale), computed with libm's fma one
        element at a time: of a larger C, SCALE_CHECKED elements at random are checked."""
        if c.beta == 0.0:
            want = np.zeros_like(c0)
        elif c.beta == 1.0:
            want = c0
        elif self.complex:
            if c0.size > SCALE_CHECKED:
                keep = np.sort(self.rng.choice(c0.size, SCALE_CHECKED, replace=False))
                c0, got = c0.ravel()[keep], got.ravel()[keep]
            want = contract_scale(c0, complex(c.beta))
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                want = c0 * c0.dtype.type(c.beta)
        got, want = parts(got), parts(want)  # complex: each part on its own
        differ = bits(got) != bits(want)
        if c.beta not in (0.0, 1.0):
            differ &= ~(np.isnan(want) & np.isnan(got))
        bad = differ & ~np.isfinite(got)
        if bad.any():
            self.fail(
                c,
                f"{np.count_nonzero(bad)} non-finite elements in C differ from beta*C "
                "(a planted NaN or Inf leaked, or a NaN changed)",
            )
        elif differ.any():
            at = tuple(int(i) for i in np.argwhere(differ)[0])
            self.fail(
                c,
                f"wrong result: C is not beta*C bit for bit at {at} "
                f"(got {got[at]!r}, want {want[at]!r}, C was {parts(c0)[at]!r})",
            )

    def damage(self, c: Case, a: np.ndarray, cbuf: np.ndarray, idx: np.ndarray) -> None:
        """--sabotage: spoil what the call left, to show that the checks see it."""
        if not self.sabotage or not (c.m and c.n and c.k):
            return
        first = idx.flat[0]
        if self.sabotage == "result":
            cbuf[first] += 1e-9 * max(1.0, abs(cbuf[first]))
        elif self.sabotage == "nan":
            cbuf[first] = np.nan
        elif self.sabotage == "padding":
            cbuf[-1] = 0.0
        elif self.sabotage == "input":
            a[-1] = 0.0

    # -- one invalid call: C must be untouched, the original BLAS reports it ---------------
    def run_invalid(self, c: Case) -> None:
        size = (max(abs(c.m), abs(c.n), abs(c.k)) + 2) ** 2 + 16
        a, b, cbuf = (self.values((size, 1)).ravel() for _ in range(3))
        c0 = cbuf.copy()
        self.call(c, a, b, cbuf)
        if cbuf.tobytes() != c0.tobytes():
            self.fail(c, "an invalid call modified C")

    def run(self, c: Case) -> None:
        if blas_valid(c) == (c.expect == "invalid"):
            raise AssertionError(f"test case mislabelled: {c}")
        self.expect["disabled" if self.disabled else c.expect] += 1
        if c.expect == "kernel" and not self.disabled:
            key = json.dumps(self.descriptor(c))
            self.kernels[key] = self.kernels.get(key, 0) + 1
        if c.expect == "invalid":
            self.run_invalid(c)
        else:
            self.run_valid(c)

    def descriptor(self, c: Case) -> dict[str, Any]:
        """The kernel a served call needs, as the stats JSON lists it (column-major view: a
        row-major call swaps A with B and M with N)."""
        lda, ldb, ldc = leading_dims(c)
        ta, tb, m, n = c.ta, c.tb, c.m, c.n
        if c.order == ROW_MAJOR:
            ta, tb, m, n, lda, ldb = tb, ta, n, m, ldb, lda

        def cls(v: complex) -> str:
            # (A complex 1 - 0j equals 1: a zero imaginary part of either sign keeps the class.)
            return {1.0: "1", -1.0: "-1", 0.0: "0"}.get(v, "any")

        def trans(t: Any) -> str:
            return "C" if self.complex and is_conj(t) else "T" if is_trans(t) else "N"

        return {
            "precision": PRECISION_NAMES[np.dtype(self.dtype).char],
            "trans_a": trans(ta),
            "trans_b": trans(tb),
            "m": m,
            "n": n,
            "k": c.k,
            "lda": lda,
            "ldb": ldb,
            "ldc": ldc,
            "alpha": cls(c.alpha),
            "beta": cls(c.beta),
        }

    # -- the cases ---------------------------------------------------------------------------
    def work(self, m: int, n: int, k: int) -> int:
        """What the threshold counts: real multiply-adds (a complex one is four)."""
        return (4 if self.complex else 1) * m * n * k

    def route_of(self, m: int, n: int, k: int, alpha: complex) -> str:
        """The route of a valid call (with leading dimensions that fit 32 bits)."""
        if not (m and n and k) or alpha == 0.0:
            return "scale"  # nothing to multiply: the wrapper's at any size
        if self.work(m, n, k) > self.max_mnk:
            return "too_large"
        return "kernel"

    def trans_values(self) -> tuple[list[Any], list[Any]]:
        """(the basis of transposes: every pair is tried, and every accepted spelling). The
        basis is N, T, and C too when complex (a real C is T)."""
        if self.iface == "f77":
            return ["N", "T", *(["C"] if self.complex else [])], ["N", "T", "C", "n", "t", "c"]
        basis = [NO_TRANS, TRANS, *([CONJ_TRANS] if self.complex else [])]
        return basis, [NO_TRANS, TRANS, CONJ_TRANS]

    def orders(self) -> list[int]:
        return [COL_MAJOR] if self.iface == "f77" else [COL_MAJOR, ROW_MAJOR]

    def dim(self, hi: int = 80) -> int:
        return 0 if self.pyrng.random() < 0.08 else self.pyrng.randint(1, hi)

    def pads(self) -> tuple[int, int, int]:
        return tuple(self.pyrng.choice([0, 0, 1, 3, 7]) for _ in range(3))  # type: ignore

    def make(
        self,
        ta: Any,
        tb: Any,
        m: int,
        n: int,
        k: int,
        alpha: float,
        beta: float,
        order: int,
        note: str = "",
    ) -> Case:
        return Case(
            ta,
            tb,
            m,
            n,
            k,
            alpha,
            beta,
            order,
            self.pads(),
            expect=self.route_of(m, n, k, alpha),
            note=note,
        )

    def valid_cases(self, n_random: int, kernel_only: bool) -> list[Case]:
        basis, spellings = self.trans_values()
        cases: list[Case] = []
        pick = self.pyrng.choice

        # Sides up to twice the threshold's cube root: calls on both sides of it.
        hi = min(80, 2 * round((self.max_mnk / self.work(1, 1, 1)) ** (1 / 3)))

        def shape(alpha: complex) -> tuple[int, int, int]:
            while True:
                m, n, k = self.dim(hi), self.dim(hi), self.dim(hi)
                if not kernel_only or self.route_of(m, n, k, alpha) != "too_large":
                    return m, n, k

        # Every pair of transposes x every alpha/beta, per layout.
        for order in self.orders():
            for ta in basis:
                for tb in basis:
                    for alpha in self.scalars:
                        for beta in self.scalars:
                            cases.append(
                                self.make(ta, tb, *shape(alpha), alpha, beta, order, "grid")
                            )
        # Every spelling of the transposes (lowercase, 'C', CblasConjTrans).
        for order in self.orders():
            for ta in spellings:
                for tb in spellings:
                    alpha = pick(self.picks)
                    cases.append(
                        self.make(ta, tb, *shape(alpha), alpha, pick(self.picks), order, "spelling")
                    )
        # Random shapes, scalars and paddings.
        for _ in range(n_random):
            alpha = pick(self.picks)
            cases.append(
                self.make(
                    pick(spellings),
                    pick(spellings),
                    *shape(alpha),
                    alpha,
                    pick(self.picks),
                    pick(self.orders()),
                    "random",
                )
            )
        # Zero sizes with every scalar: C scaled by beta (or untouched) only.
        for m, n, k in [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0), (1, 1, 0)]:
            for alpha in self.scalars:
                for beta in self.scalars:
                    cases.append(
                        self.make(
                            pick(spellings),
                            pick(spellings),
                            m,
                            n,
                            k,
                            alpha,
                            beta,
                            pick(self.orders()),
                            "zero",
                        )
                    )
        # The threshold's edge: work(M, N, K) == limit is served, one more K is not (q: the
        # limit in M*N*K; side x side x q/side^2 with the side nearest q's cube root that fits).
        lim = self.max_mnk
        q = lim // self.work(1, 1, 1)
        edge = [(1, 1, q)] if q <= 1 << 20 else []
        side = next(a for a in range(round(q ** (1 / 3)), 0, -1) if q % (a * a) == 0)
        box = (side, side, q // (side * side)) if self.work(1, 1, q) == lim else None
        if box:
            edge.append(box)
        if not kernel_only:
            if q < 1 << 20:
                edge.append((1, 1, q + 1))
                edge.append((1, 2, q // 2 + 1))
            if box:
                edge.append((box[0], box[1], box[2] + 1))
            # Above the default threshold whatever the setting (original BLAS when lowered).
            edge += [(65, 65, 65), (3, 300, 400), (100, 90, 80)]
        for m, n, k in edge:
            for order in self.orders():
                cases.append(
                    self.make(
                        pick(basis),
                        pick(basis),
                        m,
                        n,
                        k,
                        pick([v for v in self.picks if v != 0.0]),
                        pick(self.picks),
                        order,
                        "edge",
                    )
                )
        return cases + self.scale_cases()

    def scale_cases(self) -> list[Case]:
        """Nothing to multiply (alpha = 0 of either sign, or K = 0), below and above the
        threshold: C = beta*C by the wrapper, for every beta class and both zeros."""
        basis, spellings = self.trans_values()
        lim = self.max_mnk
        cube = round(lim ** (1 / 3)) + 6  # a cube above the threshold
        shapes = [(8, 8, 8), (5, 7, 3), (cube, cube, cube), (3, 300, 400), (70, 70, 0), (3, 4, 0)]
        if lim <= 1 << 20:
            shapes.append((1, lim + 1, 0))  # one side above the threshold
        zeros: list[complex] = [0.0, -0.0]
        others: list[complex] = [0.37, 1.0]
        betas: list[complex] = [0.0, -0.0, 1.0, -1.0, 0.37]
        if self.complex:
            zeros.append(complex(-0.0, 0.0))
            others.append(complex(0.0, 2.0))
            betas += [complex(0.0, -0.0), complex(1.0, -0.0), complex(0.5, -1.25), 1j]
        out = []
        for m, n, k in shapes:
            for alpha in zeros if k else others:
                for beta in betas:
                    order = self.pyrng.choice(self.orders())
                    ta, tb = self.pyrng.choice(spellings), self.pyrng.choice(basis)
                    out.append(self.make(ta, tb, m, n, k, alpha, beta, order, "scale"))
        return out

    def invalid_cases(self) -> list[Case]:
        """One argument wrong at a time; sizes small so that a BLAS that computed anyway would
        stay inside the buffers."""
        f77 = self.iface == "f77"
        n_, t_ = ("N", "T") if f77 else (NO_TRANS, TRANS)
        bad_t = "X" if f77 else 110
        cases = []
        for order in self.orders():

            def inv(
                ta: Any,
                tb: Any,
                m: int,
                n: int,
                k: int,
                ld: tuple[int, int, int],
                note: str,
                order: int = order,
            ) -> Case:
                return Case(ta, tb, m, n, k, 1.0, 0.0, order, ld=ld, expect="invalid", note=note)

            rm = order == ROW_MAJOR
            # (m, n, k) = (4, 5, 6): least lds for N,N col-major are (4, 6, 4); row-major (6, 5, 5).
            ok = (6, 5, 5) if rm else (4, 6, 4)
            cases += [
                inv(bad_t, n_, 4, 5, 6, ok, "bad transa"),
                inv(n_, bad_t, 4, 5, 6, ok, "bad transb"),
                inv(n_, n_, -1, 5, 6, ok, "m < 0"),
                inv(n_, n_, 4, -1, 6, ok, "n < 0"),
                inv(n_, n_, 4, 5, -1, ok, "k < 0"),
                inv(n_, n_, 4, 5, 6, (ok[0] - 1, ok[1], ok[2]), "lda too small"),
                inv(n_, n_, 4, 5, 6, (ok[0], ok[1] - 1, ok[2]), "ldb too small"),
                inv(n_, n_, 4, 5, 6, (ok[0], ok[1], ok[2] - 1), "ldc too small"),
                # with transposes the least lda/ldb change: T,T col-major needs lda >= k, ldb >= n
                # T,T: the least lda/ldb change (col-major: lda >= k; row-major: ldb >= k)
                inv(t_, t_, 4, 5, 6, (5, 5, 5) if rm else (4, 6, 4), "ld too small for T,T"),
                # an empty matrix still needs ld >= 1
                inv(n_, n_, 4, 0, 6, (6, 0, 1), "ldb 0 with n 0")
                if rm
                else inv(n_, n_, 0, 5, 6, (0, 6, 1), "lda 0 with m 0"),
            ]
        if not f77:
            cases.append(
                Case(
                    n_, n_, 4, 5, 6, 1.0, 0.0, 100, ld=(4, 6, 4), expect="invalid", note="bad order"
                )
            )
        # Invalid stays invalid with nothing to multiply: the original's handler answers.
        return cases + [replace(c, alpha=0.0, note=f"{c.note}, alpha 0") for c in cases]

    def neighbour_cases(self, with_invalid: bool) -> list[Case]:
        """Calls in a fixed order, each differing from the one before in one argument only:
        every variant comes after two calls of a base case (the second is served from the
        thread's memory of its last call) and before the base again, so the library must tell
        every argument apart from that memory."""
        basis, spellings = self.trans_values()
        out: list[Case] = []
        m, n, k = (4, 5, 6) if self.complex else (8, 7, 6)  # a kernel's under XSMMWRAP_MAX_MNK=1000
        for order in self.orders():
            base = Case(basis[0], basis[0], m, n, k, 1.0, 1.0, order, note="neighbour base")
            lda, ldb, ldc = leading_dims(base)
            variants: list[tuple[str, Case]] = [
                ("transa", replace(base, ta=basis[1])),
                ("transb", replace(base, tb=basis[1])),
                ("transa spelling", replace(base, ta=spellings[-1])),
                ("m", replace(base, m=m + 1)),
                ("n", replace(base, n=n + 1)),
                ("k", replace(base, k=k - 1)),
                ("lda", replace(base, pad=(1, 0, 0))),
                ("ldb", replace(base, pad=(0, 1, 0))),
                ("ldc", replace(base, pad=(0, 0, 1))),
                ("alpha 0.37", replace(base, alpha=0.37)),
                ("alpha -1", replace(base, alpha=-1.0)),
                ("alpha 0", replace(base, alpha=0.0)),
                ("beta 0", replace(base, beta=0.0)),
                ("beta 0.37", replace(base, beta=0.37)),
                ("beta -1", replace(base, beta=-1.0)),
            ]
            if self.iface == "cblas":
                other = ROW_MAJOR if order == COL_MAJOR else COL_MAJOR
                variants.append(("layout", replace(base, order=other)))
            if self.complex:
                variants += [
                    ("transa C", replace(base, ta=basis[2])),
                    ("transb C", replace(base, tb=basis[2])),
                    ("alpha 1-0j", replace(base, alpha=complex(1.0, -0.0))),
                    ("alpha 0.5j", replace(base, alpha=0.5j)),
                    ("alpha -0-0j", replace(base, alpha=complex(-0.0, -0.0))),
                    ("beta 1-0j", replace(base, beta=complex(1.0, -0.0))),
                    ("beta 2j", replace(base, beta=2j)),
                    ("beta -0+0j", replace(base, beta=complex(-0.0, 0.0))),
                ]
            if with_invalid:
                bad_t = "X" if self.iface == "f77" else 110
                variants += [
                    (v, replace(base, ld=ld, expect="invalid"))
                    for v, ld in (
                        ("lda too small", (lda - 1, ldb, ldc)),
                        ("ldb too small", (lda, ldb - 1, ldc)),
                        ("ldc too small", (lda, ldb, ldc - 1)),
                    )
                ]
                variants += [
                    ("bad transa", replace(base, ta=bad_t, expect="invalid")),
                    ("m < 0", replace(base, m=-m, expect="invalid")),
                ]
            for what, v in variants:
                if v.expect != "invalid":
                    v = replace(v, expect=self.route_of(v.m, v.n, v.k, v.alpha))
                out += [base, base, replace(v, note=f"neighbour: {what}")]
            out.append(base)
        if self.complex:
            out += self.complex_neighbours(basis)
        return out

    def complex_neighbours(self, basis: list[Any]) -> list[Case]:
        """Neighbours of complex calls from other bases: scalars whose imaginary parts differ
        (the same kernel, which must read them at each call), and T against C."""
        out: list[Case] = []
        for order in self.orders():
            base = Case(basis[0], basis[0], 4, 5, 6, 0.5j, complex(0.25, -1.0), order, note="")
            pairs = [
                (base, "other alpha and beta", replace(base, alpha=complex(-2, 1), beta=3j)),
                (replace(base, alpha=2.0), "alpha 2 then 2+1j", replace(base, alpha=2 + 1j)),
                (replace(base, ta=basis[1]), "transa T then C", replace(base, ta=basis[2])),
                (replace(base, tb=basis[2]), "transb C then T", replace(base, tb=basis[1])),
            ]
            for first, what, then in pairs:
                first = replace(first, note="neighbour base", expect="kernel")
                out += [first, first, replace(then, note=f"neighbour: {what}"), first]
        return out

    def big_ld_cases(self) -> list[Case]:
        """Leading dimensions beyond 32 bits (ILP64 only): valid, but not a kernel's: the
        original BLAS gets them (route unsupported), unless there is nothing to multiply
        (route scale). Only one column (row) is ever touched."""
        big = (1 << 32) + 3
        n_ = self.trans_values()[0][0]
        # Column-major: A is m x 1, one column, lda unused beyond it; row-major: A is 1 x k.
        shape = {COL_MAJOR: ((4, 3, 1), (big, 1, 4)), ROW_MAJOR: ((1, 3, 4), (big, 3, 3))}
        # C of one column (row): ldc unused beyond it.
        scale = {COL_MAJOR: ((4, 1, 3), (4, 3, big)), ROW_MAJOR: ((1, 4, 3), (3, 4, big))}
        out = []
        for order in self.orders():
            (m, n, k), ld = shape[order]
            out.append(Case(n_, n_, m, n, k, 0.37, 1.0, order, ld=ld, expect="unsupported"))
            (m, n, k), ld = scale[order]
            for beta in (0.0, -1.0):
                out.append(Case(n_, n_, m, n, k, 0.0, beta, order, ld=ld, expect="scale"))
        return out


def main() -> int:
    ap = arguments(__doc__, SYMBOLS, random=200)
    ap.add_argument("--big-ld", action="store_true")
    ap.add_argument("--disabled", action="store_true")
    ap.add_argument("--abort", choices=["large", "invalid"])
    ap.add_argument("--sabotage", choices=["result", "nan", "padding", "input"], default="")
    args = ap.parse_args()

    d = Driver(args.lib, args.symbol, args.seed)
    d.sabotage = args.sabotage
    d.disabled = args.disabled
    if args.abort:
        basis = d.trans_values()[0]
        if args.abort == "large":
            m = n = k = int(round(d.max_mnk ** (1 / 3))) + 2
            case = Case(basis[0], basis[1], m, n, k, 1.0, 0.0, expect="too_large")
            d.run(case)
        else:
            d.run(d.invalid_cases()[2])
        print("NOT ABORTED", flush=True)
        return 0

    cases = d.valid_cases(args.random, args.kernel_only)
    if not args.no_invalid and not args.kernel_only:
        cases += d.invalid_cases()
    if args.big_ld:
        cases += d.big_ld_cases()
    d.pyrng.shuffle(cases)
    cases += d.neighbour_cases(with_invalid=not args.no_invalid and not args.kernel_only)
    for c in cases:
        d.run(c)
        if len(d.failures) >= 30:
            break
    sys.stdout.flush()
    summary = {
        "symbol": d.symbol,
        "calls": d.calls,
        "expect": d.expect,
        "config": d.config,
        "routes": d.lib.route_names(),
        "kernels": [dict(json.loads(key), calls=n) for key, n in d.kernels.items()],
    }
    return finish(summary, d.failures, args.out)


if __name__ == "__main__":
    sys.exit(main())
