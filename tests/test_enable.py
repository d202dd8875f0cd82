"""xsmmwrap.enable(): in-process interposition of an already running Python (no LD_PRELOAD).

Every test runs in a fresh interpreter, because enable() changes the process: numpy and scipy
are checked against their own results with interposition off, the statistics say which
entry point each call came through, and small C libraries built here cover each kind of slot
(PLT under full RELRO, -fno-plt GOT, function pointers in read-only and writable data, lazy
binding), the BLAS provider being left alone, two providers of one name, and the static
library form refusing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import xsmmwrap


def _env(**extra: str) -> dict[str, str]:
    """No xsmmwrap/LIBXSMM settings (XSMMWRAP_LIBRARY, which says where the library of a
    source checkout is, stays), no LD_PRELOAD or LD_BIND_NOW, this xsmmwrap importable."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k == "XSMMWRAP_LIBRARY"
        or (not k.startswith(("XSMMWRAP_", "LIBXSMM_")) and k not in ("LD_PRELOAD", "LD_BIND_NOW"))
    }
    package_parent = str(Path(xsmmwrap.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


# Prepended to every script: a checker and the numpy reference helpers.
PRELUDE = """
import sys, json
import numpy as np
import xsmmwrap

def close(x, y, what):
    x, y = np.asarray(x), np.asarray(y)
    tol = 1e-4 if {x.dtype, y.dtype} & {np.dtype(np.float32), np.dtype(np.complex64)} else 1e-10
    assert x.shape == y.shape, (what, x.shape, y.shape)
    assert np.allclose(x, y, rtol=tol, atol=tol), (what, float(np.max(np.abs(x - y))))

def calls(symbol):
    return xsmmwrap.stats().symbols.get(symbol, 0)
"""


def _python(script: str, *args: str, **env: str) -> str:
    """Run PRELUDE + script in a new interpreter; it must exit 0 and print DONE."""
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(script) + "\nprint('DONE')\n"
    r = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0 and r.stdout.rstrip().endswith("DONE"), (
        f"exit {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
    )
    return r.stdout


def test_numpy_matmul_stacks_are_intercepted_and_equal() -> None:
    _python(
        """
        from xsmmwrap import interpose
        rng = np.random.default_rng(5)
        SYM = {np.float64: "scipy_cblas_dgemm64_", np.float32: "scipy_cblas_sgemm64_",
               np.complex128: "scipy_cblas_zgemm64_", np.complex64: "scipy_cblas_cgemm64_"}

        def rand(shape, dtype):
            x = rng.standard_normal(shape)
            if np.issubdtype(dtype, np.complexfloating):
                x = x + 1j * rng.standard_normal(shape)
            return x.astype(dtype)

        def cases():
            for dtype in SYM:
                a = rand((1000, 8, 8), dtype)
                b = rand((1000, 8, 8), dtype)
                yield dtype, "C", a, b
                yield dtype, "F", np.asfortranarray(a), np.asfortranarray(b)
                yield dtype, "A^T", a.swapaxes(1, 2), b
                yield dtype, "B^T", a, b.swapaxes(1, 2)
                yield dtype, "A^T B^T", a.swapaxes(1, 2), b.swapaxes(1, 2)
                yield dtype, "slices", a[:, 1:7, :], b[:, :, 2:]
                for _ in range(6):  # random small shapes
                    m, n, k = rng.integers(2, 17, 3)  # 1 would be gemv or dot
                    count = int(rng.integers(1, 300))
                    x = rand((count, m, k), dtype)
                    y = rand((count, n, k), dtype).swapaxes(1, 2)
                    yield dtype, f"{m}x{n}x{k}", x, y

        plan = list(cases())
        before = [np.matmul(a, b) for _, _, a, b in plan]
        assert xsmmwrap.stats().intercepted == 0  # not enabled, not preloaded

        pairs = xsmmwrap.enable()
        # numpy's GEMM, GEMV and SYRK imports (matmul, matrix @ vector, a @ a.T)
        names = {f"scipy_cblas_{p}gemm64_" for p in "sdzc"}
        names |= {f"scipy_cblas_{p}{f}64_" for p in "sd" for f in ("gemv", "syrk")}
        assert {s for p, s in pairs if "_multiarray_umath" in p} == names, pairs
        assert xsmmwrap.is_enabled()
        assert xsmmwrap.enable() == pairs  # idempotent
        assert interpose.skipped() == []
        for (dtype, name, a, b), ref in zip(plan, before):
            xsmmwrap.reset_stats()
            got = np.matmul(a, b)
            close(got, ref, name)
            stacks = a.shape[0]
            assert calls(SYM[dtype]) == stacks, (name, xsmmwrap.stats().symbols)
            # out= with a C-ordered result
            out = np.empty_like(got)
            np.matmul(a, b, out=out)
            close(out, ref, name + " out=")
        assert xsmmwrap.stats().kernel_calls > 0
        # Complex products ran complex kernels (zgemm_..., cgemm_... in the report).
        precisions = {k.precision for k in xsmmwrap.kernels()}
        assert precisions == {"f64", "f32", "c128", "c64"}, precisions

        xsmmwrap.disable()
        assert not xsmmwrap.is_enabled() and interpose.patches() == []
        xsmmwrap.reset_stats()
        for (dtype, name, a, b), ref in zip(plan, before):
            assert np.array_equal(np.matmul(a, b), ref), name  # the same code as before
        assert xsmmwrap.stats().intercepted == 0
        xsmmwrap.disable()  # idempotent
        """
    )


def test_scipy_blas_gemm_is_intercepted_and_equal() -> None:
    _python(
        """
        import scipy.linalg.blas as blas
        rng = np.random.default_rng(7)
        # scipy's ?gemm: trans 0, 1 and (complex) 2, the conjugate transpose; complex scalars.
        GEMM = {np.float64: "dgemm", np.float32: "sgemm", np.complex128: "zgemm",
                np.complex64: "cgemm"}
        plan = []
        for i in range(240):
            dtype = list(GEMM)[i % 4]
            cplx = np.issubdtype(dtype, np.complexfloating)
            m, n, k = (int(v) for v in rng.integers(1, 20, 3))
            ta, tb = (int(rng.integers(0, 3 if cplx else 2)) for _ in range(2))

            def rand(shape):
                x = rng.standard_normal(shape)
                return (x + 1j * rng.standard_normal(shape) if cplx else x).astype(dtype)

            a = rand((k, m) if ta else (m, k))
            b = rand((n, k) if tb else (k, n))
            if i % 3 == 0:
                a = np.asfortranarray(a)
            c = np.asfortranarray(rand((m, n)))
            alpha, beta = (1.0, 0.0) if i % 4 == 0 else (float(rng.uniform(-2, 2)), 0.5)
            if cplx and i % 3:
                alpha, beta = alpha + 0.75j, beta - 0.25j
            plan.append((dtype, a, b, c, alpha, beta, ta, tb))

        def run(p):
            dtype, a, b, c, alpha, beta, ta, tb = p
            gemm = getattr(blas, GEMM[dtype])
            c1 = c.copy(order="F")
            r = gemm(alpha, a, b, beta=beta, c=c1, trans_a=ta, trans_b=tb, overwrite_c=1)
            assert r is c1 or np.shares_memory(r, c1)  # overwrite_c on an F-ordered c
            return r.copy()

        def op(x, t):
            return x if t == 0 else x.T if t == 1 else x.conj().T

        ref = [run(p) for p in plan]
        for p, r in zip(plan, ref):
            dtype, a, b, c, alpha, beta, ta, tb = p
            wide = np.complex128 if np.issubdtype(dtype, np.complexfloating) else np.float64
            expect = alpha * op(a, ta).astype(wide) @ op(b, tb) + beta * c
            close(r, expect, "scipy before enable")

        pairs = xsmmwrap.enable()
        fblas = {s for p, s in pairs if "/_fblas." in p}
        # scipy's fblas imports GEMM of the four types, GEMV and SYRK of the real ones.
        want = {f"scipy_{name}_" for name in GEMM.values()}
        want |= {f"scipy_{p}{f}_" for p in "sd" for f in ("gemv", "syrk")}
        assert fblas == want, pairs
        xsmmwrap.reset_stats()
        got = [run(p) for p in plan]
        for i, (g, r) in enumerate(zip(got, ref)):
            close(g, r, f"case {i}")
        for dtype, name in GEMM.items():
            assert calls(f"scipy_{name}_") == sum(1 for p in plan if p[0] == dtype), name
        assert xsmmwrap.stats().kernel_calls == len(plan)
        conj = {(k.trans_a, k.trans_b) for k in xsmmwrap.kernels() if k.precision == "c128"}
        assert any("C" in pair for pair in conj), conj

        xsmmwrap.disable()
        xsmmwrap.reset_stats()
        for p, r in zip(plan, ref):
            assert np.array_equal(run(p), r)
        assert xsmmwrap.stats().intercepted == 0
        """
    )


def test_modules_imported_after_enable_are_covered() -> None:
    _python(
        """
        from xsmmwrap import interpose
        assert "scipy" not in sys.modules
        xsmmwrap.enable()
        finders = [f for f in sys.meta_path if type(f).__name__ == "_Finder"]
        assert len(finders) == 1 and sys.meta_path[0] is finders[0]
        import scipy.linalg.blas as blas
        import scipy.linalg._fblas as fblas_module
        assert "_ExtensionLoader" in type(fblas_module.__loader__).__name__
        assert any("/_fblas." in p for p, s in interpose.patches())
        x = np.ones((6, 5)); y = np.ones((5, 4))
        xsmmwrap.reset_stats()
        r = blas.dgemm(1.0, x, y)
        assert np.array_equal(r, x @ y)
        assert calls("scipy_dgemm_") == 1
        xsmmwrap.disable()
        assert not any(type(f).__name__ == "_Finder" for f in sys.meta_path)
        xsmmwrap.reset_stats()
        blas.dgemm(1.0, x, y)
        assert xsmmwrap.stats().intercepted == 0
        """
    )
    # numpy itself imported only after enable() (the prelude imports it, so not here).
    code = """
import sys
import xsmmwrap
xsmmwrap.enable()
assert "numpy" not in sys.modules
import numpy as np
a = np.ones((50, 4, 4))
xsmmwrap.reset_stats()
assert np.array_equal(a @ a, np.full((50, 4, 4), 4.0))
assert xsmmwrap.stats().symbols == {"scipy_cblas_dgemm64_": 50}, xsmmwrap.stats().symbols
print("DONE")
"""
    r = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0 and "DONE" in r.stdout, r.stdout + r.stderr


def test_toggling_while_threads_call_matmul() -> None:
    _python(
        """
        import threading, time
        rng = np.random.default_rng(3)
        data = [(rng.standard_normal((200, 8, 8)), rng.standard_normal((200, 8, 8)))
                for _ in range(4)]
        data += [(a.astype(np.float32), b.astype(np.float32)) for a, b in data[:2]]
        refs = [np.matmul(a, b) for a, b in data]
        stop = threading.Event()
        errors, rounds = [], [0] * len(data)

        def work(i):
            a, b = data[i]
            try:
                while not stop.is_set():
                    close(np.matmul(a, b), refs[i], f"thread {i}")
                    rounds[i] += 1
            except BaseException as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 3.0
        toggles = 0
        while time.monotonic() < deadline:
            xsmmwrap.enable()
            time.sleep(0.01)
            xsmmwrap.disable()
            time.sleep(0.005)
            toggles += 1
        xsmmwrap.enable()
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        assert toggles > 20 and min(rounds[:4]) > 5, (toggles, rounds)
        assert xsmmwrap.stats().intercepted > 0
        xsmmwrap.disable()
        """
    )


def test_multiprocessing_fork_workers_and_parent_make_their_own_kernels() -> None:
    """A Pool of forked workers after enable(): parent and workers each make kernels for new
    shapes after the fork (the same offsets of the code memory they inherited, were it still
    shared for writing) and every result stays right, the parent's after the workers'."""
    _python(
        """
        import multiprocessing as mp
        rng = np.random.default_rng(5)

        def stack(n, seed):
            r = np.random.default_rng(seed)
            return r.standard_normal((50, n, n)), r.standard_normal((50, n, n))

        def ref(a, b):  # no BLAS involved
            return np.einsum("sij,sjk->sik", a, b)

        def work(n):
            a, b = stack(n, n)
            return float(np.max(np.abs(np.matmul(a, b) - ref(a, b))))

        xsmmwrap.enable()
        a, b = stack(3, 0)
        close(np.matmul(a, b), ref(a, b), "before the fork")
        with mp.get_context("fork").Pool(2) as pool:  # the workers are forked here
            mine = {n: stack(n, 100 + n) for n in range(20, 36)}
            for n, (a, b) in mine.items():  # the parent's new kernels, first
                close(np.matmul(a, b), ref(a, b), f"parent {n}")
            errors = pool.map(work, range(4, 20))  # then the workers' own
        assert max(errors) < 1e-10, errors
        for n, (a, b) in mine.items():
            close(np.matmul(a, b), ref(a, b), f"parent {n} after the workers' kernels")
        assert xsmmwrap.stats().kernels >= 17
        xsmmwrap.disable()
        """
    )


def test_scipy_linalg_same_answers_enabled_and_disabled() -> None:
    _python(
        """
        import scipy.linalg as la
        rng = np.random.default_rng(11)

        def workload():
            out = []
            for n in (2, 3, 5, 8, 12):
                a = rng.standard_normal((n, n)) / n
                b = rng.standard_normal((n, 3))
                spd = a @ a.T + n * np.eye(n)
                out += [la.expm(a), la.solve(a + n * np.eye(n), b), la.inv(spd),
                        la.cho_solve(la.cho_factor(spd), b), la.lstsq(a, b)[0],
                        la.sqrtm(spd), la.det(a), la.schur(spd)[0], la.funm(a, np.sin),
                        la.solve_sylvester(a + n * np.eye(n), a.T + n * np.eye(n), a),
                        la.expm(a.astype(np.float32)), la.expm(a + 0.5j * a.T),
                        la.sqrtm(spd + 1j * (a - a.T)), la.logm(spd + 0.25j * a)]
            return out

        state = rng.bit_generator.state
        ref = workload()
        xsmmwrap.enable()
        xsmmwrap.reset_stats()
        rng.bit_generator.state = state
        got = workload()
        assert len(got) == len(ref)
        for i, (g, r) in enumerate(zip(got, ref)):
            close(g, r, f"result {i}")
        s = xsmmwrap.stats()
        assert s.symbols.get("scipy_dgemm_", 0) > 0, s.symbols  # expm, sqrtm, ... call GEMM
        assert s.symbols.get("scipy_zgemm_", 0) > 0, s.symbols  # complex expm, sqrtm, logm
        assert s.symbols.get("scipy_cblas_zgemm64_", 0) > 0, s.symbols  # logm's matmul
        xsmmwrap.disable()
        """
    )


def test_threadpoolctl_lists_it_from_import() -> None:
    """As the README says: once the package is imported, before any use of it."""
    r = subprocess.run(
        [sys.executable, "-c", "import xsmmwrap, threadpoolctl; "
         "print(sorted(i['user_api'] for i in threadpoolctl.threadpool_info()))"],
        capture_output=True, text=True, env=_env(), check=True,
    )
    assert "'xsmmwrap'" in r.stdout, r.stdout + r.stderr


def test_threadpoolctl_lists_the_controller() -> None:
    _python(
        """
        import threadpoolctl
        xsmmwrap.gemm(np.ones((3, 3)), np.ones((3, 3)))  # loads the library, makes a kernel

        def ours():
            found = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "xsmmwrap"]
            assert len(found) == 1, threadpoolctl.threadpool_info()
            return found[0]

        info = ours()
        assert info["user_api"] == "xsmmwrap" and info["prefix"] == "libxsmmwrap"
        assert info["version"] == xsmmwrap.__version__
        assert info["target"] == xsmmwrap.config().target
        assert info["num_threads"] == 1
        assert info["kernels"] == len(xsmmwrap.kernels()) >= 1
        assert info["enabled"] is False and info["patched_slots"] == 0
        assert any(i["user_api"] == "blas" for i in threadpoolctl.threadpool_info())
        xsmmwrap.enable()
        info = ours()
        assert info["enabled"] is True and info["patched_slots"] >= 2
        with threadpoolctl.threadpool_limits(1, user_api="xsmmwrap"):
            pass
        xsmmwrap.disable()
        assert ours()["enabled"] is False
        """
    )


def test_under_ld_preload_enable_finds_nothing_to_redirect() -> None:
    library = str(xsmmwrap.library_path())
    _python(
        """
        from xsmmwrap import _lib
        assert _lib.binding().preloaded
        a = np.ones((10, 4, 4))
        assert xsmmwrap.enable() == []
        assert xsmmwrap.is_enabled()
        xsmmwrap.reset_stats()
        a @ a
        assert calls("scipy_cblas_dgemm64_") == 10
        xsmmwrap.disable()
        xsmmwrap.reset_stats()
        a @ a
        assert calls("scipy_cblas_dgemm64_") == 10  # the loader's binding, not ours to undo
        """,
        LD_PRELOAD=library,
    )


def test_enabled_context_manager() -> None:
    _python(
        """
        a = np.ones((20, 4, 4))
        with xsmmwrap.enabled() as pairs:
            assert pairs and xsmmwrap.is_enabled()
            xsmmwrap.reset_stats()
            a @ a
            assert calls("scipy_cblas_dgemm64_") == 20
        assert not xsmmwrap.is_enabled()
        xsmmwrap.enable()
        with xsmmwrap.enabled():
            pass
        assert xsmmwrap.is_enabled()  # it was enabled before: left so
        xsmmwrap.disable()
        """
    )


# --- C libraries with every kind of slot ----------------------------------------------------

FAKE_BLAS = r"""
long fake_calls;
static void gemm(int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda,
                 const double *b, int ldb, double beta, double *c, int ldc)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (ta ? a[p + i * lda] : a[i + p * lda]) *
                     (tb ? b[j + p * ldb] : b[p + j * ldb]);
            c[i + j * ldc] = alpha * s + (beta == 0 ? 0 : beta * c[i + j * ldc]);
        }
}
void cblas_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double *a,
                 int lda, const double *b, int ldb, double beta, double *c, int ldc)
{
    fake_calls++;
    if (order == 102)
        gemm(ta != 111, tb != 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        gemm(tb != 111, ta != 111, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
}
/* A provider calling its own export through its PLT: must not be redirected. */
void fake_self_call(int m, double *a, double *c)
{
    cblas_dgemm(102, 111, 111, m, m, m, 1.0, a, m, a, m, 0.0, c, m);
}
"""

CALLER = r"""
typedef void cblas_fn(int, int, int, int, int, int, double, const double *, int, const double *,
                      int, double, double *, int);
extern cblas_fn cblas_dgemm;
#define ARGS int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda, \
             const double *b, int ldb, double beta, double *c, int ldc
#define PASS 102, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc
#ifdef NO_PLT
void call_got(ARGS) { cblas_dgemm(PASS); }   /* -fno-plt: R_X86_64_GLOB_DAT */
#else
cblas_fn *const table_ro[1] = { cblas_dgemm };  /* R_X86_64_64 in .data.rel.ro (RELRO) */
cblas_fn *table_rw[1] = { cblas_dgemm };        /* R_X86_64_64 in .data */
void call_plt(ARGS) { cblas_dgemm(PASS); }      /* R_X86_64_JUMP_SLOT */
void call_ro(ARGS) { table_ro[0](PASS); }
void call_rw(ARGS) { table_rw[0](PASS); }
const void *slot_ro(void) { return (const void *)&table_ro[0]; }
#endif
"""


def _build_c_libs(tmp: Path) -> Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed to build the test libraries"
    (tmp / "fake.c").write_text(FAKE_BLAS)
    (tmp / "caller.c").write_text(CALLER)

    def run(*args: str) -> None:
        r = subprocess.run([cc, *args], cwd=tmp, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    rpath = "-Wl,-rpath,$ORIGIN"
    now = "-Wl,-z,relro,-z,now"
    builds = [  # (library, provider it links, extra flags)
        ("libfakeblas.so", None, ["-Wl,-soname,libfakeblas.so"]),
        ("libfakeblas2.so", None, ["-Wl,-soname,libfakeblas2.so"]),
        ("libcaller.so", "fakeblas", [now]),
        ("libcaller_got.so", "fakeblas", ["-fno-plt", "-DNO_PLT", now]),
        ("libcaller_lazy.so", "fakeblas", ["-Wl,-z,lazy"]),
        ("libcaller2.so", "fakeblas2", [now]),
    ]
    for library, provider, flags in builds:
        source = "fake.c" if provider is None else "caller.c"
        links = [] if provider is None else ["-L.", f"-l{provider}", rpath]
        run("-O1", "-fPIC", "-shared", "-o", library, source, *flags, *links)
    return tmp


C_PRELUDE = """
import ctypes, os
from xsmmwrap import interpose
D = sys.argv[1]
ptr = ctypes.POINTER(ctypes.c_double)
ARGTYPES = [ctypes.c_int] * 5 + [ctypes.c_double, ptr, ctypes.c_int, ptr, ctypes.c_int,
                                 ctypes.c_double, ptr, ctypes.c_int]
GEMM_T = ctypes.CFUNCTYPE(None, *ARGTYPES)
rng = np.random.default_rng(2)

def load(name, mode=os.RTLD_NOW):
    lib = ctypes.CDLL(f"{D}/{name}", mode=mode)
    return lib

def call(fn, n):
    if not isinstance(fn, GEMM_T):
        fn = GEMM_T(ctypes.cast(fn, ctypes.c_void_p).value)
    a = np.asfortranarray(rng.standard_normal((n, n)))
    b = np.asfortranarray(rng.standard_normal((n, n)))
    c = np.zeros((n, n), order="F")
    p = lambda x: x.ctypes.data_as(ptr)
    fn(111, 112, n, n, n, 1.0, p(a), n, p(b), n, 0.0, p(c), n)  # C = A B^T
    close(c, np.einsum("ik,jk->ij", a, b), f"n={n}")  # einsum: no BLAS call to count

def perms(address):
    for line in open("/proc/self/maps"):
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        if lo <= address < hi:
            return line.split()[1]
    raise AssertionError(hex(address))
"""


def test_every_kind_of_slot_in_c_libraries(tmp_path: Path) -> None:
    d = _build_c_libs(tmp_path)
    _python(
        C_PRELUDE
        + textwrap.dedent(
            """
        fake = load("libfakeblas.so")
        caller = load("libcaller.so")           # -z now: every slot under RELRO
        got = load("libcaller_got.so")
        # Lazy binding: dlopen(RTLD_LAZY) from C (ctypes itself always adds RTLD_NOW), and no
        # call before enable(), so the PLT slot still points at the resolver stub.
        libc = ctypes.CDLL(None)
        libc.dlopen.restype = ctypes.c_void_p
        libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        libc.dlsym.restype = ctypes.c_void_p
        libc.dlsym.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lazy = libc.dlopen(f"{D}/libcaller_lazy.so".encode(), os.RTLD_LAZY | os.RTLD_LOCAL)
        assert lazy
        fns = {name: getattr(caller, name) for name in ("call_plt", "call_ro", "call_rw")}
        fns["call_got"] = got.call_got
        fns["lazy_plt"] = GEMM_T(libc.dlsym(lazy, b"call_plt"))
        fake_calls = ctypes.c_long.in_dll(fake, "fake_calls")
        caller.slot_ro.restype = ctypes.c_void_p
        ro_slot = caller.slot_ro()
        assert perms(ro_slot).startswith("r-"), perms(ro_slot)

        pairs = xsmmwrap.enable()
        mine = sorted(p.rsplit("/", 1)[1] for p, s in pairs if s == "cblas_dgemm")
        assert mine == ["libcaller.so", "libcaller_got.so", "libcaller_lazy.so"], pairs
        assert not any("fakeblas" in p for p, s in pairs)  # the provider is left alone
        assert perms(ro_slot).startswith("r-"), perms(ro_slot)  # protection restored

        for name, fn in fns.items():
            xsmmwrap.reset_stats()
            before = fake_calls.value
            call(fn, 4)                      # served by a kernel
            assert calls("cblas_dgemm") == 1 and fake_calls.value == before, name
            call(fn, 70)                     # 70^3 > XSMMWRAP_MAX_MNK: goes to the original
            assert calls("cblas_dgemm") == 2 and fake_calls.value == before + 1, name
            assert xsmmwrap.stats().by_route["too_large"] == 1

        # The provider's own call to cblas_dgemm goes straight to itself.
        xsmmwrap.reset_stats()
        before = fake_calls.value
        a = np.ones((3, 3), order="F"); c = np.zeros((3, 3), order="F")
        fake.fake_self_call(3, a.ctypes.data_as(ptr), c.ctypes.data_as(ptr))
        assert fake_calls.value == before + 1 and xsmmwrap.stats().intercepted == 0

        xsmmwrap.disable()
        assert perms(ro_slot).startswith("r-")
        xsmmwrap.reset_stats()
        for name, fn in fns.items():
            before = fake_calls.value
            call(fn, 4)
            assert fake_calls.value == before + 1, name
        assert xsmmwrap.stats().intercepted == 0
        """
        ),
        str(d),
    )


def test_second_provider_of_a_name_is_reported_not_patched(tmp_path: Path) -> None:
    d = _build_c_libs(tmp_path)
    _python(
        C_PRELUDE
        + textwrap.dedent(
            """
        caller = load("libcaller.so")    # bound to libfakeblas.so's cblas_dgemm
        caller2 = load("libcaller2.so")  # bound to libfakeblas2.so's: one entry cannot serve both
        fake2 = load("libfakeblas2.so")
        try:
            xsmmwrap.enable()
        except interpose.InterposeError as e:
            err = e
        else:
            raise AssertionError("enable() did not raise")
        assert [p.rsplit("/", 1)[1] for p, r in err.skipped] == ["libcaller2.so"], err.skipped
        assert "cblas_dgemm" in str(err) and "libcaller2.so" in str(err)
        assert any(p.endswith("libcaller.so") for p, s in err.patched)
        assert xsmmwrap.enable(strict=False)  # the same state, no exception
        assert interpose.skipped() == err.skipped

        fake2_calls = ctypes.c_long.in_dll(fake2, "fake_calls")
        xsmmwrap.reset_stats()
        call(caller2.call_plt, 4)        # not redirected: straight to its own provider
        assert fake2_calls.value == 1 and xsmmwrap.stats().intercepted == 0
        call(caller.call_plt, 4)
        assert calls("cblas_dgemm") == 1
        xsmmwrap.disable()
        assert interpose.skipped() == []
        """
        ),
        str(d),
    )


def test_static_library_form_refuses(tmp_path: Path) -> None:
    """libxsmmwrap.a linked into another shared object, next to a BLAS it exports: its GEMM
    names are not entry points of the wrapper, so enable() must refuse (XSMMWRAP_EINVAL)
    rather than redirect every caller to that BLAS."""
    d = _build_c_libs(tmp_path)
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert cc
    archive = str(xsmmwrap.static_library_path())
    link = [cc, "-O1", "-fPIC", "-shared", "-o", "libfoo.so", "fake.c"]
    link += ["-Wl,-u,xsmmwrap_enable", archive, "-lpthread", "-ldl", "-lm"]
    r = subprocess.run(link, cwd=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    code = f"""
import ctypes
lib = ctypes.CDLL({str(d / "libfoo.so")!r})
print("rc", lib.xsmmwrap_enable(), lib.xsmmwrap_enabled(), lib.xsmmwrap_patch_count())
"""
    r = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["rc", "1", "0", "0"], r.stdout


def test_benchmark_runs_every_way_and_checks_its_counts() -> None:
    """xsmmwrap bench enable, shortened: every case timed plain, after enable() and
    under LD_PRELOAD (its workers fail the run unless exactly the enable() and LD_PRELOAD
    turns reached the wrapper), its table and the modules enable() redirected printed."""
    import json

    argv = [sys.executable, "-m", "xsmmwrap", "bench", "enable", "--stack", "50"]
    argv += ["--sizes", "4", "8"]
    argv += ["--repeats", "1", "--rounds", "1", "--runs", "2", "--no-pin", "--json"]
    r = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    table, _, raw = r.stdout.partition("\n{")
    figures = json.loads("{" + raw)
    cases = ["matmul 4x4 float64", "matmul 8x8 float64", "matmul 8x8 complex128"]
    cases += ["scipy dgemm 8x8", "matvec 8x8 float64", "a @ v 8x8 (loop)", "a @ a.T 8x8 (loop)"]
    for mode in ("plain", "enable()", "LD_PRELOAD"):
        assert sorted(figures[mode]) == sorted(cases), figures[mode]
        assert all(0 < t < 1e8 for t in figures[mode].values()), figures[mode]
    rows = [line.split() for line in table.splitlines() if line.startswith(("matmul", "scipy"))]
    assert len(rows) == 4 and all(len(row) == 10 for row in rows), table
    # np.add over the matmul stacks (no GEMM call: the plain turns' count of 0 covers it)
    assert sorted(figures["a+b"]) == sorted(cases[:3])
    assert all(t > 0 for t in figures["a+b"].values())
    assert rows[3][-2:] == ["-", "-"], rows[3]  # scipy's case has no stacks
    assert any(p.startswith("_multiarray_umath") for p in figures["patched"]), figures["patched"]
    assert "redirected by enable(): _multiarray_umath (" in table, table
    assert "scipy_cblas_dgemm64_" in table.split("_multiarray_umath (")[1].split(")")[0], table
    assert "scipy_cblas_zgemm64_" in table, table  # the complex row's entry point
    # Every figure names its CPU and target: the first line says both, as the workers saw them.
    assert figures["target"] in ("avx2", "avx512", "generic") and figures["pinned"], figures
    assert table.startswith("CPU: ") and f"xsmmwrap target {figures['target']} " in table, table


def test_benchmark_places_stacks_alike_in_every_process() -> None:
    """The stacks start 16 bytes past a 2 MiB boundary whatever was allocated before."""
    from xsmmwrap.tools.bench_enable import HUGE, OFFSET, _placed

    cases = (((3, 5, 5), "float64"), ((1000, 8, 8), "float32"), ((10, 64, 64), "float64"))
    for shape, dtype in cases:
        junk = bytearray(12345)  # moves malloc's next block
        a = _placed(shape, dtype)
        assert a.ctypes.data % HUGE == OFFSET and a.shape == shape and a.dtype == dtype
        a[...] = 1.5  # the whole array is writable memory of its own
        assert float(a.sum()) == 1.5 * a.size and len(junk) == 12345
