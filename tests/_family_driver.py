"""Differential driver for one GEMV, SYRK or batch name of libxsmmwrap.so (test_families.py).

The library is loaded with ctypes and the name called directly; the original BLAS behind
declined calls is whatever XSMMWRAP_BLAS (set by the test) provides. Every result is compared
with numpy in float64; what the wrapper serves is held to more:

* GEMV and SYRK results equal, bit for bit, the same product through the library's own dgemm_
  (sgemm_): y = op(A)x as a GEMM of one column (whatever incx and incy), the triangle of
  op(A)op(A)^T + beta*C as the GEMM with op(B) = op(A)^T (the arithmetic contract); a real
  transposed GEMV equals the dot form's contract instead (tests/_contracts.py, from its
  definition);
* alpha = 0 never reads A or x (NaN and Inf planted there), beta = 0 never reads y or C;
* SYRK never touches the other triangle (NaNs with payloads there, compared bitwise), nor
  padding of any operand.

    python _family_driver.py LIB SYMBOL --out summary.json [--random N] [--seed S]
                             [--no-invalid] [--kernel-only]
    python _family_driver.py LIB SYMBOL --abort

The summary counts calls and products per expected route, for the test to compare with the
library's XSMMWRAP_STATS_JSON. Exit status 1 when a result was wrong. --abort makes one call
that needs the original (the test runs it where none exists).
"""

from __future__ import annotations

import ctypes as ct
import os
import random
import sys
from typing import Any

import numpy as np
from _contracts import dot
from _driver_common import (
    COL_MAJOR,
    CONJ_TRANS,
    DTYPE,
    INT,
    LOWER,
    NAN_BITS,
    NO_TRANS,
    ROW_MAJOR,
    TRANS,
    UPPER,
    Library,
    arguments,
    entry_points,
    finish,
)

ROW, COL = ROW_MAJOR, COL_MAJOR
CT = {"N": NO_TRANS, "T": TRANS, "C": CONJ_TRANS}
UP = {"U": UPPER, "L": LOWER}
PAD = 1234.5

# The names of entry_list.h but GEMM's: name -> (family, interface, dtype, integer type).
SYMBOLS: dict[str, tuple[str, str, Any, Any]] = {
    e.name: (e.family, e.interface, DTYPE[e.precision], INT[e.integer])
    for e in entry_points().values()
    if e.family != "gemm"
}


def nan_array(shape: Any, dtype: Any) -> np.ndarray:
    """NaNs with a payload, so that a copy that went through arithmetic shows."""
    bits = np.full(shape, NAN_BITS[dtype], dtype=np.uint64 if dtype == np.float64 else np.uint32)
    return bits.view(dtype)


class Driver:
    def __init__(self, lib: str, symbol: str, seed: int) -> None:
        self.lib = Library(lib)
        self.symbol = symbol
        self.family, self.iface, self.dtype, self.itype = SYMBOLS[symbol]
        self.fn = getattr(self.lib.dll, symbol)
        self.fn.restype = None
        p = "d" if self.dtype == np.float64 else "s"
        self.gemm = getattr(self.lib.dll, f"{p}gemm_")
        self.scalar = ct.c_double if self.dtype == np.float64 else ct.c_float
        self.tol = 1e-12 if self.dtype == np.float64 else 2e-5
        self.rng = np.random.default_rng(seed)
        self.py = random.Random(seed)
        self.failures: list[str] = []
        self.calls = 0
        self.products: dict[str, int] = {}
        env = os.environ.get("XSMMWRAP_MAX_MNK")
        self.max_mnk = int(env, 0) if env else 64**3
        self.side = round(self.max_mnk ** (1 / 3), 9)
        self.gemm_calls = 0  # the library's dgemm_ calls made for the bitwise comparisons

    # -- helpers ------------------------------------------------------------------------
    def expect(self, route: str, n: int = 1) -> None:
        self.products[route] = self.products.get(route, 0) + n

    def fail(self, what: str, **case: Any) -> None:
        self.failures.append(f"{self.symbol}: {what} {case}")

    def ref(self, x: Any) -> Any:
        return ct.byref(x)

    def ptr(self, a: np.ndarray) -> Any:
        return a.ctypes.data_as(ct.c_void_p)

    def mat(self, rows: int, cols: int, ld: int) -> tuple[np.ndarray, np.ndarray]:
        """A column-major rows x cols matrix in a buffer of ld x cols (+ tail), NaN padding."""
        ld = max(ld, rows)  # (an invalid call's ld may be less: the original never reads)
        buf = nan_array(ld * max(cols, 1) + 3, self.dtype)
        view = buf[: ld * cols].reshape((cols, ld)).T[:rows] if cols else buf[:0].reshape(0, 0)
        if rows and cols:
            view[...] = self.rng.uniform(-1, 1, (rows, cols)).astype(self.dtype)
        return buf, view

    def gemm_ref(
        self,
        ta: str,
        tb: str,
        m: int,
        n: int,
        k: int,
        alpha: float,
        a: np.ndarray,
        lda: int,
        b: np.ndarray,
        ldb: int,
        beta: float,
        c: np.ndarray,
        ldc: int,
    ) -> None:
        it, s = self.itype, self.scalar
        self.gemm_calls += 1
        self.gemm(
            ta.encode(),
            tb.encode(),
            self.ref(ct.c_int32(m)),
            self.ref(ct.c_int32(n)),
            self.ref(ct.c_int32(k)),
            self.ref(s(alpha)),
            self.ptr(a),
            self.ref(ct.c_int32(lda)),
            self.ptr(b),
            self.ref(ct.c_int32(ldb)),
            self.ref(s(beta)),
            self.ptr(c),
            self.ref(ct.c_int32(ldc)),
            ct.c_size_t(1),
            ct.c_size_t(1),
        )
        del it

    def close(self, got: np.ndarray, ref: np.ndarray, bound: np.ndarray, **case: Any) -> bool:
        got64 = got.astype(np.float64)
        if got.size and not np.isfinite(got64).all():
            self.fail("non-finite result (a planted NaN leaked?)", **case)
            return False
        if got.size and not (np.abs(got64 - ref) <= self.tol * (bound + 1) + 1e-30).all():
            self.fail(f"wrong result, max error {np.max(np.abs(got64 - ref)):.3g}", **case)
            return False
        return True

    # -- GEMV -----------------------------------------------------------------------------
    def gemv_route(
        self, valid: bool, t: bool, m: int, n: int, alpha: float, incx: int, incy: int
    ) -> str:
        if not valid:
            return "invalid"
        if not m or not n or alpha == 0:
            return "scale"
        if t and np.dtype(self.dtype).kind == "f":
            if m * np.dtype(self.dtype).itemsize > 2048:  # XW_DOT_BYTES_MAX of x
                return "too_large"
        elif t and m * n > self.side**2 / 16:
            return "too_large"  # complex transposed: OpenBLAS's dot products are faster there
        if incx < 0 or incy < 0:
            return "unsupported"
        return "too_large" if m * n > self.max_mnk else "kernel"

    def gemv(
        self,
        order: int,
        trans: str,
        m: int,
        n: int,
        alpha: float,
        beta: float,
        lda: int,
        incx: int,
        incy: int,
        valid: bool = True,
    ) -> None:
        """One call; order ROW means the CBLAS row-major form of the same column-major call
        (m and n swapped, the transpose flipped, A the same memory)."""
        t = trans in "TtCc"
        m0, n0 = max(m, 0), max(n, 0)  # (sizes of an invalid call may be negative)
        rows_y, rows_x = (n0, m0) if t else (m0, n0)
        abuf, a = self.mat(m0, n0, max(lda, 1))
        if alpha == 0:
            a[...] = np.nan
        xs = nan_array(max(rows_x, 1) * abs(incx) + 2, self.dtype)
        ys = np.full(max(rows_y, 1) * abs(incy) + 2, PAD, dtype=self.dtype)
        xv = self.rng.uniform(-1, 1, rows_x).astype(self.dtype)
        yv = self.rng.uniform(-1, 1, rows_y).astype(self.dtype)
        if alpha == 0:
            xv[:] = np.inf
        if beta == 0:
            yv[:] = np.nan
        xi = (
            np.arange(rows_x) * abs(incx)
            if incx > 0
            else (rows_x - 1 - np.arange(rows_x)) * abs(incx)
        )
        yi = (
            np.arange(rows_y) * abs(incy)
            if incy > 0
            else (rows_y - 1 - np.arange(rows_y)) * abs(incy)
        )
        if valid and rows_x:
            xs[xi] = xv
        if valid and rows_y:
            ys[yi] = yv
        a0, x0, y0 = abuf.copy(), xs.copy(), ys.copy()
        route = self.gemv_route(valid, t, m, n, alpha, incx, incy)
        self.expect(route)
        self.calls += 1
        it, s = self.itype, self.scalar
        if self.iface == "f77":
            self.fn(
                trans.encode(),
                self.ref(it(m)),
                self.ref(it(n)),
                self.ref(s(alpha)),
                self.ptr(abuf),
                self.ref(it(lda)),
                self.ptr(xs),
                self.ref(it(incx)),
                self.ref(s(beta)),
                self.ptr(ys),
                self.ref(it(incy)),
                ct.c_size_t(1),
            )
        else:
            tr = CT[trans.upper()] if trans.upper() in CT else 110
            if order == ROW:  # the same product: A^T row-major is A column-major
                tr = {111: 112, 112: 111, 113: 111}.get(tr, 110)
                mm, nn = n, m
            else:
                mm, nn = m, n
            self.fn(
                ct.c_int(order),
                ct.c_int(tr),
                it(mm),
                it(nn),
                s(alpha),
                self.ptr(abuf),
                it(lda),
                self.ptr(xs),
                it(incx),
                s(beta),
                self.ptr(ys),
                it(incy),
            )
        case = dict(
            order=order,
            trans=trans,
            m=m,
            n=n,
            alpha=alpha,
            beta=beta,
            lda=lda,
            incx=incx,
            incy=incy,
            route=route,
        )
        if abuf.tobytes() != a0.tobytes() or xs.tobytes() != x0.tobytes():
            self.fail("A or x modified", **case)
        if not valid:
            if ys.tobytes() != y0.tobytes():
                self.fail("an invalid call modified y", **case)
            return
        outside = np.ones(ys.shape, bool)
        outside[yi] = False
        if ys[outside].tobytes() != y0[outside].tobytes():
            self.fail("y changed between its elements", **case)
        if not m or not n:
            if ys.tobytes() != y0.tobytes():
                self.fail("an empty A changed y", **case)
            return
        op = (a.T if t else a).astype(np.float64)
        ref = np.zeros(rows_y)
        bound = np.zeros(rows_y)
        if alpha != 0:
            ref += alpha * (op @ xv.astype(np.float64))
            bound += abs(alpha) * (np.abs(op) @ np.abs(xv.astype(np.float64)))
        if beta != 0:
            ref += beta * yv.astype(np.float64)
            bound += abs(beta) * np.abs(yv.astype(np.float64))
        got = ys[yi]
        if not self.close(got, ref, bound, **case) or route != "kernel":
            return
        if t and np.dtype(self.dtype).kind == "f":
            want = dot(op, xv, yv, alpha, beta, np.dtype(self.dtype).type)
            if want.tobytes() != got.tobytes():
                self.fail("GEMV T differs from the dot form's contract", **case)
            return
        # Bitwise: the same product through dgemm_ (one column: C = alpha op(A) x + beta y).
        xc = np.ascontiguousarray(xv)
        yc = np.ascontiguousarray(yv)
        self.gemm_ref(
            "T" if t else "N",
            "N",
            rows_y,
            1,
            rows_x,
            alpha,
            abuf,
            lda,
            xc,
            max(rows_x, 1),
            beta,
            yc,
            max(rows_y, 1),
        )
        if yc.tobytes() != got.tobytes():
            self.fail("GEMV differs from the same product through gemm_", **case)

    # -- SYRK -----------------------------------------------------------------------------
    def syrk_route(self, valid: bool, t: bool, n: int, k: int, alpha: float) -> str:
        if not valid:
            return "invalid"
        if not n or not k or alpha == 0:
            return "scale"
        if n > 0.75 * self.side or (t and k > 2 * self.side) or n * n * k > self.max_mnk:
            return "too_large"
        return "kernel"

    def syrk(
        self,
        order: int,
        uplo: str,
        trans: str,
        n: int,
        k: int,
        alpha: float,
        beta: float,
        lda: int,
        ldc: int,
        valid: bool = True,
    ) -> None:
        t = trans in "TtCc"
        n0, k0 = max(n, 0), max(k, 0)  # (sizes of an invalid call may be negative)
        ar, ac = (k0, n0) if t else (n0, k0)
        abuf, a = self.mat(ar, ac, max(lda, 1))
        if alpha == 0:
            a[...] = np.inf
        cbuf, c = self.mat(n0, n0, max(ldc, 1))
        n_call, n = n, n0
        up = uplo in "Uu"
        tri = np.triu(np.ones((n, n), bool)) if up else np.tril(np.ones((n, n), bool))
        if n:
            c[~tri] = nan_array(int((~tri).sum()), self.dtype)
            if beta == 0:
                c[tri] = np.nan
        a0, c0 = abuf.copy(), cbuf.copy()
        cv0 = c.astype(np.float64).copy()
        route = self.syrk_route(valid, t, n_call, k, alpha)
        self.expect(route)
        self.calls += 1
        it, s = self.itype, self.scalar
        if self.iface == "f77":
            self.fn(
                uplo.encode(),
                trans.encode(),
                self.ref(it(n_call)),
                self.ref(it(k)),
                self.ref(s(alpha)),
                self.ptr(abuf),
                self.ref(it(lda)),
                self.ref(s(beta)),
                self.ptr(cbuf),
                self.ref(it(ldc)),
                ct.c_size_t(1),
                ct.c_size_t(1),
            )
        else:
            u = UP.get(uplo.upper(), 120)
            tr = CT.get(trans.upper(), 110)
            if order == ROW:  # row-major: the other triangle, the transpose flipped
                u = {121: 122, 122: 121}.get(u, 120)
                tr = {111: 112, 112: 111, 113: 111}.get(tr, 110)
            self.fn(
                ct.c_int(order),
                ct.c_int(u),
                ct.c_int(tr),
                it(n_call),
                it(k),
                s(alpha),
                self.ptr(abuf),
                it(lda),
                s(beta),
                self.ptr(cbuf),
                it(ldc),
            )
        case = dict(
            order=order,
            uplo=uplo,
            trans=trans,
            n=n,
            k=k,
            alpha=alpha,
            beta=beta,
            lda=lda,
            ldc=ldc,
            route=route,
        )
        if abuf.tobytes() != a0.tobytes():
            self.fail("A modified", **case)
        if not valid:
            if cbuf.tobytes() != c0.tobytes():
                self.fail("an invalid call modified C", **case)
            return
        inside = np.zeros(cbuf.shape, bool)
        if n:
            idx = np.arange(n)[:, None] + np.arange(n)[None, :] * ldc
            inside[idx[tri]] = True
        if cbuf[~inside].tobytes() != c0[~inside].tobytes():
            self.fail("C changed outside its triangle (other triangle or padding)", **case)
        if not n:
            return
        op = (a.T if t else a).astype(np.float64)
        ref = np.zeros((n, n))
        bound = np.zeros((n, n))
        if alpha != 0 and k:
            ref += alpha * (op @ op.T)
            bound += abs(alpha) * (np.abs(op) @ np.abs(op).T)
        if beta != 0:
            ref += beta * np.where(tri, cv0, 0)
            bound += abs(beta) * np.abs(np.where(tri, cv0, 0))
        got = c[tri]
        if not self.close(got, ref[tri], bound[tri], **case) or route != "kernel":
            return
        # Bitwise: the GEMM with op(B) = op(A)^T, on a copy of C's triangle.
        cc = np.zeros((n, n), dtype=self.dtype, order="F")
        if beta != 0:
            cc[tri] = cv0[tri].astype(self.dtype)
        self.gemm_ref(
            "T" if t else "N", "N" if t else "T", n, n, k, alpha, abuf, lda, abuf, lda, beta, cc, n
        )
        if cc[tri].tobytes() != got.tobytes():
            self.fail("SYRK differs from the same product through gemm_", **case)

    # -- batches --------------------------------------------------------------------------
    def product_route(self, m: int, n: int, k: int, alpha: float) -> str:
        if not m or not n or not k or alpha == 0:
            return "scale"
        return "too_large" if m * n * k > self.max_mnk else "kernel"

    def operands(self, ta: str, tb: str, m: int, n: int, k: int, pad: int) -> Any:
        ra, ca = (k, m) if ta == "T" else (m, k)
        rb, cb = (n, k) if tb == "T" else (k, n)
        lda, ldb, ldc = max(ra, 1) + pad, max(rb, 1) + pad, max(m, 1) + pad
        return (ra, ca, lda), (rb, cb, ldb), ldc

    def check_product(
        self,
        trans: tuple[str, str],
        scalars: tuple[float, float],
        a: np.ndarray,
        b: np.ndarray,
        c0: np.ndarray,
        got: np.ndarray,
        **case: Any,
    ) -> None:
        alpha, beta = scalars
        opa = (a.T if trans[0] == "T" else a).astype(np.float64)
        opb = (b.T if trans[1] == "T" else b).astype(np.float64)
        ref = np.zeros(got.shape)
        bound = np.zeros(got.shape)
        if alpha != 0 and opa.shape[1]:
            ref += alpha * (opa @ opb)
            bound += abs(alpha) * (np.abs(opa) @ np.abs(opb))
        if beta != 0:
            ref += beta * c0
            bound += abs(beta) * np.abs(c0)
        self.close(got, ref, bound, **case)

    def strided(
        self,
        order: int,
        ta: str,
        tb: str,
        m: int,
        n: int,
        k: int,
        alpha: float,
        beta: float,
        count: int,
        pad: int,
        share: bool,
        invalid: str = "",
    ) -> None:
        """count products in one buffer per operand at fixed strides; share: A's stride 0;
        invalid: the argument made invalid (lda, count or m)."""
        (ra, ca, lda), (rb, cb, ldb), ldc = self.operands(ta, tb, m, n, k, pad)
        sa = 0 if share else lda * max(ca, 1) + 1
        sb, sc = ldb * max(cb, 1) + 2, ldc * max(n, 1) + 1
        abuf = self.rng.uniform(-1, 1, sa * max(count, 1) + lda * max(ca, 1) + 3).astype(self.dtype)
        bbuf = self.rng.uniform(-1, 1, sb * max(count, 1) + 3).astype(self.dtype)
        cbuf = self.rng.uniform(-1, 1, sc * max(count, 1) + 3).astype(self.dtype)
        if alpha == 0:
            abuf[:] = np.nan
            bbuf[:] = np.inf
        if beta == 0:
            cbuf[:] = np.nan
        c0 = cbuf.copy()
        routes = [self.product_route(m, n, k, alpha)] * count
        for r in set(routes):
            if not invalid:
                self.expect(r, routes.count(r))
        m_c = -1 if invalid == "m" else m
        lda_c = 0 if invalid == "lda" else lda
        cnt_c = -1 if invalid == "count" else count
        if invalid:
            self.expect("invalid")  # one product: nothing is computed
        self.calls += 1
        it, s = self.itype, self.scalar
        if self.iface == "f77":
            self.fn(
                ta.encode(),
                tb.encode(),
                self.ref(it(m_c)),
                self.ref(it(n)),
                self.ref(it(k)),
                self.ref(s(alpha)),
                self.ptr(abuf),
                self.ref(it(lda_c)),
                self.ref(it(sa)),
                self.ptr(bbuf),
                self.ref(it(ldb)),
                self.ref(it(sb)),
                self.ref(s(beta)),
                self.ptr(cbuf),
                self.ref(it(ldc)),
                self.ref(it(sc)),
                self.ref(it(cnt_c)),
                ct.c_size_t(1),
                ct.c_size_t(1),
            )
        elif order == COL:
            self.fn(
                ct.c_int(COL),
                ct.c_int(CT[ta]),
                ct.c_int(CT[tb]),
                it(m_c),
                it(n),
                it(k),
                s(alpha),
                self.ptr(abuf),
                it(lda_c),
                it(sa),
                self.ptr(bbuf),
                it(ldb),
                it(sb),
                s(beta),
                self.ptr(cbuf),
                it(ldc),
                it(sc),
                it(cnt_c),
            )
        else:  # the same memory as a row-major call: B's and A's places, M and N swapped
            self.fn(
                ct.c_int(ROW),
                ct.c_int(CT[tb]),
                ct.c_int(CT[ta]),
                it(n),
                it(m_c),
                it(k),
                s(alpha),
                self.ptr(bbuf),
                it(ldb),
                it(sb),
                self.ptr(abuf),
                it(lda_c),
                it(sa),
                s(beta),
                self.ptr(cbuf),
                it(ldc),
                it(sc),
                it(cnt_c),
            )
        if invalid:
            if cbuf.tobytes() != c0.tobytes():
                self.fail("an invalid batch modified C", invalid=invalid)
            return
        written = np.zeros(cbuf.shape, bool)

        def view(buf: np.ndarray, st: int, r: int, c: int, ld: int) -> np.ndarray:
            return buf[i * st : i * st + ld * c].reshape((c, ld)).T[:r]

        for i in range(count):
            got = view(cbuf, sc, m, n, ldc)
            idx = i * sc + np.arange(m)[:, None] + np.arange(n)[None, :] * ldc
            written[idx.ravel()] = True
            if not m or not n:
                continue
            a = view(abuf, sa, ra, ca, lda)
            b = view(bbuf, sb, rb, cb, ldb)
            cin = view(c0, sc, m, n, ldc).astype(np.float64)
            self.check_product(
                (ta, tb),
                (alpha, beta),
                a,
                b,
                cin,
                got,
                product=i,
                ta=ta,
                tb=tb,
                m=m,
                n=n,
                k=k,
                alpha=alpha,
                beta=beta,
                count=count,
                order=order,
            )
        if cbuf[~written].tobytes() != c0[~written].tobytes():
            self.fail("C changed between its blocks", ta=ta, tb=tb, m=m, n=n, k=k, count=count)

    def grouped(
        self,
        order: int,
        groups: list[tuple[str, str, int, int, int, float, float, int]],
        invalid: bool = False,
    ) -> None:
        """groups: (ta, tb, m, n, k, alpha, beta, size); row-major CBLAS calls swap operands."""
        keep: list[np.ndarray] = []
        args: dict[str, list[Any]] = {
            x: [] for x in "ta tb m n k al be lda ldb ldc sz pa pb pc".split()
        }
        checks = []
        for ta, tb, m, n, k, alpha, beta, size in groups:
            (ra, ca, lda), (rb, cb, ldb), ldc = self.operands(ta, tb, m, n, k, 1)
            for _ in range(size):
                abuf, a = self.mat(ra, ca, lda)
                bbuf, b = self.mat(rb, cb, ldb)
                cbuf, c = self.mat(m, n, ldc)
                if alpha == 0:
                    a[...] = np.nan
                if beta == 0:
                    c[...] = np.nan
                keep += [abuf, bbuf, cbuf]
                args["pa"].append(abuf.ctypes.data)
                args["pb"].append(bbuf.ctypes.data)
                args["pc"].append(cbuf.ctypes.data)
                checks.append(
                    (
                        ta,
                        tb,
                        alpha,
                        beta,
                        a,
                        b,
                        c.astype(np.float64).copy(),
                        c,
                        cbuf,
                        cbuf.copy(),
                        m,
                        n,
                        k,
                    )
                )
                if not invalid:
                    self.expect(self.product_route(m, n, k, alpha))
            if order == ROW:  # the same memory, asked row-major: B's and A's places swapped
                ta, tb, m, n, lda, ldb = tb, ta, n, m, ldb, lda
            for key, v in zip(
                "ta tb m n k al be lda ldb ldc sz".split(),
                (ta, tb, m, n, k, alpha, beta, lda, ldb, ldc, size),
            ):
                args[key].append(v)
        if order == ROW:
            args["pa"], args["pb"] = args["pb"], args["pa"]
        if invalid:
            args["lda"][-1] = 0  # the last group's lda too small
            self.expect("invalid")  # one product: nothing is computed
        self.calls += 1
        it, s = self.itype, self.scalar

        def arr(t: Any, v: list[Any]) -> Any:
            return (t * max(len(v), 1))(*v)

        common = (
            arr(it, args["m"]),
            arr(it, args["n"]),
            arr(it, args["k"]),
            arr(s, args["al"]),
            arr(ct.c_void_p, args["pa"]),
            arr(it, args["lda"]),
            arr(ct.c_void_p, args["pb"]),
            arr(it, args["ldb"]),
            arr(s, args["be"]),
            arr(ct.c_void_p, args["pc"]),
            arr(it, args["ldc"]),
        )
        if self.iface == "f77":
            self.fn(
                ct.c_char_p("".join(args["ta"]).encode()),
                ct.c_char_p("".join(args["tb"]).encode()),
                *common,
                self.ref(it(len(groups))),
                arr(it, args["sz"]),
                ct.c_size_t(1),
                ct.c_size_t(1),
            )
        else:
            self.fn(
                ct.c_int(order),
                arr(ct.c_int, [CT[t] for t in args["ta"]]),
                arr(ct.c_int, [CT[t] for t in args["tb"]]),
                *common,
                it(len(groups)),
                arr(it, args["sz"]),
            )
        for j, (ta, tb, alpha, beta, a, b, cin, c, cbuf, c0, m, n, k) in enumerate(checks):
            if invalid:
                if cbuf.tobytes() != c0.tobytes():
                    self.fail("an invalid batch modified C", product=j)
                continue
            if m and n:
                self.check_product(
                    (ta, tb),
                    (alpha, beta),
                    a,
                    b,
                    cin,
                    c,
                    product=j,
                    ta=ta,
                    tb=tb,
                    m=m,
                    n=n,
                    k=k,
                    alpha=alpha,
                    beta=beta,
                    order=order,
                )

    # -- the cases ------------------------------------------------------------------------
    def run_cases(self, n_random: int, kernel_only: bool, invalid: bool) -> None:
        pick = self.py.choice
        orders = [COL] if self.iface == "f77" else [COL, ROW]
        scalars = [1.0, -1.0, 0.37, 0.0]
        big = int(self.side) + 8

        def small(hi: int = 24) -> int:
            return 0 if self.py.random() < 0.05 else self.py.randint(1, hi)

        if self.family == "gemv":
            spell = ["N", "T", "C", "n", "t"]
            for _ in range(n_random):
                m, n = small(40), small(40)
                while kernel_only and m * n > min(self.max_mnk, self.side**2 / 16):
                    m, n = small(40), small(40)
                incx = pick([1, 1, 2, 3, -1, -2]) if not kernel_only else pick([1, 2, 3])
                incy = pick([1, 1, 2, -1]) if not kernel_only else pick([1, 2])
                self.gemv(
                    pick(orders),
                    pick(spell),
                    m,
                    n,
                    pick(scalars),
                    pick(scalars),
                    max(m, 1) + pick([0, 0, 3]),
                    incx,
                    incy,
                )
            for al, be in [(a, b) for a in scalars for b in scalars]:
                self.gemv(pick(orders), pick(spell), 8, 8, al, be, 8, 1, 1)
            self.gemv(COL, "N", 0, 5, 1.0, 0.5, 1, 1, 1)  # empty: y untouched
            self.gemv(COL, "T", 5, 0, 1.0, 0.0, 5, 1, 1)
            if not kernel_only:  # above the threshold
                tall = self.max_mnk // 2 + 1
                self.gemv(COL, pick("NT"), tall, 3, 1.0, 1.0, tall, 1, 1)
            if invalid:
                for tr, m, n, lda, ix, iy in [
                    ("X", 4, 4, 4, 1, 1),
                    ("N", -1, 4, 4, 1, 1),
                    ("N", 4, -1, 4, 1, 1),
                    ("N", 4, 4, 3, 1, 1),
                    ("N", 4, 4, 4, 0, 1),
                    ("N", 4, 4, 4, 1, 0),
                ]:
                    self.gemv(COL, tr, m, n, 1.0, 0.5, lda, ix, iy, valid=False)
        elif self.family == "syrk":
            for _ in range(n_random):
                n, k = small(60), small(40)
                while kernel_only and self.syrk_route(True, False, n, k, 1.0) == "too_large":
                    n, k = small(60), small(40)
                t = pick(["N", "T", "C", "n", "t"])
                lda = max(k if t in "TtCc" else n, 1) + pick([0, 2])
                self.syrk(
                    pick(orders),
                    pick("ULul"),
                    t,
                    n,
                    k,
                    pick(scalars),
                    pick(scalars),
                    lda,
                    max(n, 1) + pick([0, 1]),
                )
            for al, be in [(a, b) for a in scalars for b in scalars]:
                self.syrk(pick(orders), pick("UL"), pick("NT"), 8, 5, al, be, 8, 8)
            if not kernel_only:  # A transposed, K beyond twice the side: the original's
                self.syrk(COL, "U", "T", 8, 3 * int(self.side), 1.0, 1.0, 3 * int(self.side), 8)
            if invalid:
                for u, t, n, k, lda, ldc in [
                    ("X", "N", 4, 4, 4, 4),
                    ("U", "X", 4, 4, 4, 4),
                    ("U", "N", -1, 4, 4, 4),
                    ("L", "N", 4, -1, 4, 4),
                    ("U", "N", 4, 4, 3, 4),
                    ("L", "T", 4, 5, 4, 4),
                    ("U", "N", 4, 4, 4, 3),
                ]:
                    self.syrk(COL, u, t, n, k, 1.0, 0.5, lda, ldc, valid=False)
        elif self.family == "gemm_batch_strided":
            for _ in range(max(n_random // 4, 8)):
                m, n, k = small(12), small(12), small(12)
                self.strided(
                    pick(orders),
                    pick("NT"),
                    pick("NT"),
                    m,
                    n,
                    k,
                    pick(scalars),
                    pick(scalars),
                    self.py.randint(0, 40),
                    pick([0, 1]),
                    pick([False, True]),
                )
            self.strided(COL, "N", "N", 8, 8, 8, 1.0, 1.0, 500, 0, False)
            if invalid:
                for bad in ("lda", "count", "m"):
                    self.strided(COL, "N", "N", 4, 4, 4, 1.0, 0.5, 3, 0, False, invalid=bad)
            if not kernel_only:
                self.strided(pick(orders), "N", "T", big, big, big, 1.0, 0.5, 2, 0, False)
        else:
            for _ in range(max(n_random // 8, 6)):
                groups = []
                for _ in range(self.py.randint(1, 4)):
                    m, n, k = small(12), small(12), small(12)
                    groups.append(
                        (
                            pick("NT"),
                            pick("NT"),
                            m,
                            n,
                            k,
                            pick(scalars),
                            pick(scalars),
                            self.py.randint(0, 6),
                        )
                    )
                if not kernel_only and self.py.random() < 0.4:
                    groups.append(("N", "T", big, big, big, 1.0, 0.5, 1))  # declined: forwarded
                self.grouped(pick(orders), groups)
            if invalid:
                self.grouped(
                    pick(orders),
                    [("N", "N", 4, 4, 4, 1.0, 0.0, 2), ("N", "N", 4, 4, 4, 1.0, 0.0, 3)],
                    invalid=True,
                )


def main() -> int:
    ap = arguments(__doc__, SYMBOLS, random=120)
    ap.add_argument("--abort", action="store_true")
    args = ap.parse_args()
    d = Driver(args.lib, args.symbol, args.seed)
    if args.abort:
        big = int(d.side) + 8
        if d.family == "gemv":
            tall = d.max_mnk // 2 + 1
            d.gemv(COL, "N", tall, 3, 1.0, 1.0, tall, 1, 1)
        elif d.family == "syrk":
            d.syrk(COL, "U", "N", big, 2, 1.0, 1.0, big, big)
        elif d.family == "gemm_batch_strided":
            d.strided(COL, "N", "N", big, big, big, 1.0, 0.0, 1, 0, False)
        else:
            d.grouped(COL, [("N", "N", big, big, big, 1.0, 0.0, 1)])
        print("NOT ABORTED", flush=True)
        return 0
    d.run_cases(args.random, args.kernel_only, not args.no_invalid and not args.kernel_only)
    summary = {
        "symbol": d.symbol,
        "family": d.family,
        "calls": d.calls,
        "gemm_calls": d.gemm_calls,
        "gemm_symbol": f"{'d' if d.dtype == np.float64 else 's'}gemm_",
        "products": d.products,
        "routes": d.lib.route_names(),
    }
    return finish(summary, d.failures[:40], args.out)


if __name__ == "__main__":
    sys.exit(main())
