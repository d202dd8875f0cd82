"""The xsmmwrap Python API: gemm() against numpy, statistics, kernels, configuration."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import xsmmwrap
from xsmmwrap import _lib

DTYPES = [np.float64, np.float32]
SCALARS = [0.0, 1.0, -1.0, 0.7]
# How a test matrix sits in memory: C/F order, a sub-block of a larger C/F array (ld larger
# than the rows), every 2nd row and 3rd column (no unit stride: copied), reversed rows
# (negative stride: copied).
LAYOUTS = ["C", "F", "sub_c", "sub_f", "step", "neg"]
TARGETS = {"generic", "avx2", "avx512"}
ROUTES = {"jit", "portable"}


Slicer = Callable[[np.ndarray], np.ndarray]
Order = Literal["C", "F"]


def _matrix(
    rng: np.random.Generator, shape: tuple[int, int], dtype: Any, layout: str
) -> tuple[np.ndarray, np.ndarray, Slicer]:
    """A random matrix of `shape` laid out as `layout`, the array owning its memory, and the
    function that takes the matrix out of an array shaped like the owner."""
    r, c = shape
    slicers: dict[str, tuple[tuple[int, int], Order, Slicer]] = {
        "C": ((r, c), "C", lambda x: x),
        "F": ((r, c), "F", lambda x: x),
        "sub_c": ((r + 3, c + 5), "C", lambda x: x[2 : r + 2, 3 : c + 3]),
        "sub_f": ((r + 5, c + 3), "F", lambda x: x[3 : r + 3, 1 : c + 1]),
        "step": ((2 * r + 1, 3 * c + 1), "C", lambda x: x[1::2, ::3][:r, :c]),
        "neg": ((r, c), "C", lambda x: x[::-1, :]),
    }
    base_shape, order, slicer = slicers[layout]
    base = np.asarray(rng.uniform(-1.0, 1.0, base_shape), dtype=dtype, order=order)
    x = slicer(base)
    assert x.shape == shape
    return x, base, slicer


def _reference(
    a: np.ndarray,
    b: np.ndarray,
    c0: np.ndarray,
    alpha: float,
    beta: float,
    trans_a: bool,
    trans_b: bool,
) -> np.ndarray:
    """alpha*op(a)@op(b) + beta*c0 in float64; c0 is not read when beta is 0 (BLAS rule)."""
    opa = (a.T if trans_a else a).astype(np.float64)
    opb = (b.T if trans_b else b).astype(np.float64)
    ref = alpha * (opa @ opb)
    if beta != 0:
        ref = ref + beta * c0.astype(np.float64)
    return ref


def _assert_close(got: np.ndarray, ref: np.ndarray, k: int) -> None:
    eps = float(np.finfo(got.dtype).eps)
    np.testing.assert_allclose(got, ref, rtol=16 * eps, atol=16 * eps * (k + 2))


def _check(
    rng: np.random.Generator,
    dtype: Any,
    mnk: tuple[int, int, int],
    layouts: tuple[str, str, str],
    alpha: float,
    beta: float,
    trans_a: bool,
    trans_b: bool,
) -> None:
    m, n, k = mnk
    a, _, _ = _matrix(rng, (k, m) if trans_a else (m, k), dtype, layouts[0])
    b, _, _ = _matrix(rng, (n, k) if trans_b else (k, n), dtype, layouts[1])
    c, c_base, slicer = _matrix(rng, (m, n), dtype, layouts[2])
    a0, b0, base0 = a.copy(), b.copy(), c_base.copy()
    ref = _reference(a, b, c.copy(), alpha, beta, trans_a, trans_b)
    out = xsmmwrap.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)
    assert out is c
    assert out.dtype == np.dtype(dtype)
    _assert_close(c, ref, k)
    # Only the view was written, and the inputs were not.
    outside = np.ones(c_base.shape, dtype=bool)
    slicer(outside)[...] = False
    np.testing.assert_array_equal(c_base[outside], base0[outside])
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("lc", LAYOUTS)
@pytest.mark.parametrize("trans_b", [False, True], ids=["bN", "bT"])
@pytest.mark.parametrize("trans_a", [False, True], ids=["aN", "aT"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_matches_numpy(dtype: Any, trans_a: bool, trans_b: bool, lc: str) -> None:
    seed = [DTYPES.index(dtype), trans_a, trans_b, LAYOUTS.index(lc)]
    rng = np.random.default_rng([int(s) for s in seed])
    for la, lb in itertools.product(LAYOUTS, LAYOUTS):
        for _ in range(2):
            m, n, k = (int(x) for x in rng.integers(0, 41, 3))
            alpha = float(rng.choice(SCALARS))
            beta = float(rng.choice(SCALARS))
            _check(rng, dtype, (m, n, k), (la, lb, lc), alpha, beta, trans_a, trans_b)


@pytest.mark.parametrize("beta", SCALARS)
@pytest.mark.parametrize("alpha", SCALARS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_alpha_beta(dtype: Any, alpha: float, beta: float) -> None:
    rng = np.random.default_rng([SCALARS.index(alpha), SCALARS.index(beta), DTYPES.index(dtype)])
    for layouts in [("C", "C", "C"), ("F", "F", "F"), ("C", "F", "sub_f"), ("sub_c", "F", "C")]:
        for trans_a, trans_b in itertools.product([False, True], repeat=2):
            _check(rng, dtype, (7, 9, 5), layouts, alpha, beta, trans_a, trans_b)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("alpha", [1.0, 0.7, 0.0])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_beta_zero_ignores_nan_in_c(dtype: Any, alpha: float, layout: str) -> None:
    rng = np.random.default_rng(7)
    for m, n, k in [(8, 8, 8), (3, 5, 2), (23, 17, 31), (1, 1, 1), (4, 6, 0)]:
        a = rng.uniform(-1, 1, (m, k)).astype(dtype)
        b = rng.uniform(-1, 1, (k, n)).astype(dtype)
        c, _, _ = _matrix(rng, (m, n), dtype, layout)
        c[...] = np.nan
        c[::2] = np.inf
        xsmmwrap.gemm(a, b, c, alpha=alpha, beta=0.0)
        assert np.isfinite(c).all(), (m, n, k)
        _assert_close(c, alpha * (a.astype(np.float64) @ b.astype(np.float64)), k)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_zero_sizes(dtype: Any) -> None:
    rng = np.random.default_rng(3)
    for m, n, k in itertools.product([0, 1, 4], repeat=3):
        for beta in (0.0, 1.0, 0.7):
            for layouts in [("C", "C", "C"), ("F", "C", "F"), ("step", "neg", "sub_c")]:
                _check(rng, dtype, (m, n, k), layouts, 0.7, beta, False, True)
    # k == 0: C = beta*C
    c = np.arange(12, dtype=dtype).reshape(3, 4)
    out = xsmmwrap.gemm(np.ones((3, 0), dtype), np.ones((0, 4), dtype), c, beta=-1.0)
    np.testing.assert_array_equal(out, -np.arange(12, dtype=dtype).reshape(3, 4))
    assert xsmmwrap.gemm(np.ones((0, 5), dtype), np.ones((5, 2), dtype)).shape == (0, 2)


def _special(dtype: Any) -> np.ndarray:
    """Signed zeros, infinities and quiet NaNs with payloads and either sign."""
    if np.dtype(dtype) == np.float64:
        nans = np.array([0x7FF8000000000ABC, 0xFFF8000000000123], dtype=np.uint64).view(dtype)
    else:
        nans = np.array([0x7FC00ABC, 0xFFC00123], dtype=np.uint32).view(dtype)
    return np.concatenate([np.array([0.0, -0.0, np.inf, -np.inf], dtype=dtype), nans])


def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).view(np.uint64 if x.dtype == np.float64 else np.uint32)


@pytest.mark.parametrize("mnk", [(8, 8, 8), (70, 70, 70), (3, 300, 400), (40, 50, 0)])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_scale(dtype: Any, mnk: tuple[int, int, int]) -> None:
    """alpha = 0 or K = 0, below and above the threshold: C = beta*C by the wrapper (route
    scale), bit for bit, A and B (all NaN) never read: beta = 0 writes +0.0 over NaN, beta = 1
    leaves C as it was (NaN payloads too), beta = -1 flips the sign of zeros."""
    m, n, k = mnk
    rng = np.random.default_rng(list(mnk))
    a = np.full((m, k), np.nan, dtype=dtype)
    b = np.full((k, n), np.inf, dtype=dtype)
    special = _special(dtype)
    for alpha in [0.0, -0.0] if k else [0.7]:
        for beta in [0.0, -0.0, 1.0, -1.0, 0.37]:
            for order in ("C", "F"):
                c = np.asarray(rng.uniform(-1, 1, (m, n)), dtype=dtype, order=order)
                c.flat[rng.integers(0, c.size, c.size // 3)] = rng.choice(special, c.size // 3)
                c0 = c.copy()
                before = xsmmwrap.stats()
                xsmmwrap.gemm(a, b, c, alpha=alpha, beta=beta)
                after = xsmmwrap.stats()
                assert after.by_route["scale"] == before.by_route["scale"] + 1
                assert after.intercepted == before.intercepted + 1
                assert after.kernels == before.kernels
                if beta == 0.0:
                    want = np.zeros_like(c0)
                elif beta == 1.0:
                    want = c0
                else:
                    with np.errstate(invalid="ignore"):
                        want = c0 * np.dtype(dtype).type(beta)
                same = _bits(c) == _bits(want)
                if beta not in (0.0, 1.0):  # a product's NaN is the hardware's choice
                    same |= np.isnan(c) & np.isnan(want)
                assert same.all(), (alpha, beta, order, c[~same][:4], want[~same][:4])


@pytest.mark.parametrize("mnk", [(65, 65, 65), (100, 90, 40), (7, 300, 130), (128, 64, 33)])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_large(dtype: Any, mnk: tuple[int, int, int]) -> None:
    assert mnk[0] * mnk[1] * mnk[2] > 64**3
    rng = np.random.default_rng(list(mnk))
    for layouts, trans in [(("C", "C", "C"), (False, False)), (("F", "sub_c", "F"), (True, False))]:
        _check(rng, dtype, mnk, layouts, 0.7, -1.0, *trans)
    _check(rng, dtype, mnk, ("step", "F", "sub_f"), 1.0, 0.0, False, True)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_new_c(dtype: Any) -> None:
    rng = np.random.default_rng(11)
    a = rng.uniform(-1, 1, (6, 4)).astype(dtype)
    b = np.asfortranarray(rng.uniform(-1, 1, (5, 4)).astype(dtype))
    c = xsmmwrap.gemm(a, b, trans_b=True, alpha=2.0, beta=1.0)
    assert c.shape == (6, 5) and c.dtype == np.dtype(dtype) and c.flags.c_contiguous
    _assert_close(c, 2.0 * (a.astype(np.float64) @ b.T.astype(np.float64)), 4)


def test_gemm_accepts_array_likes() -> None:
    c = xsmmwrap.gemm([[1.0, 2.0], [3.0, 4.0]], [[1.0], [1.0]])
    np.testing.assert_array_equal(c, [[3.0], [7.0]])


def test_gemm_c_overlapping_inputs() -> None:
    rng = np.random.default_rng(5)
    c = rng.uniform(-1, 1, (9, 9))
    b = rng.uniform(-1, 1, (9, 9))
    expected = c @ b + c
    xsmmwrap.gemm(c, b, c, beta=1.0)  # a is c itself
    np.testing.assert_allclose(c, expected, rtol=1e-13, atol=1e-13)
    d = rng.uniform(-1, 1, (9, 9))
    expected = d.T @ d
    xsmmwrap.gemm(d, d.T, d.T, trans_a=True, trans_b=True)  # c is a view of a and b
    np.testing.assert_allclose(d.T, expected, rtol=1e-13, atol=1e-13)


def test_gemm_shape_errors() -> None:
    f = np.ones
    with pytest.raises(ValueError, match="inner dimensions"):
        xsmmwrap.gemm(f((3, 4)), f((5, 2)))
    with pytest.raises(ValueError, match="inner dimensions"):
        xsmmwrap.gemm(f((3, 4)), f((4, 2)), trans_a=True)
    with pytest.raises(ValueError, match=r"c has shape \(2, 3\), expected \(3, 2\)"):
        xsmmwrap.gemm(f((3, 4)), f((4, 2)), f((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        xsmmwrap.gemm(f(4), f((4, 2)))
    with pytest.raises(ValueError, match="2-D"):
        xsmmwrap.gemm(f((2, 3, 4)), f((4, 2)))
    with pytest.raises(ValueError, match="2-D"):
        xsmmwrap.gemm(f((3, 4)), f((4, 2)), f((3, 2, 1)))
    readonly = f((3, 2))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        xsmmwrap.gemm(f((3, 4)), f((4, 2)), readonly)


def test_gemm_dtype_errors() -> None:
    a64, a32 = np.ones((2, 2)), np.ones((2, 2), np.float32)
    with pytest.raises(TypeError, match="same dtype"):
        xsmmwrap.gemm(a64, a32)
    with pytest.raises(TypeError, match="dtype"):
        xsmmwrap.gemm(a32, a32, np.ones((2, 2)))
    with pytest.raises(TypeError, match="float64 or float32"):
        xsmmwrap.gemm(np.ones((2, 2), int), np.ones((2, 2), int))
    with pytest.raises(TypeError, match="float64 or float32"):
        xsmmwrap.gemm(np.ones((2, 2), np.complex128), np.ones((2, 2), np.complex128))
    with pytest.raises(TypeError, match="ndarray"):
        xsmmwrap.gemm(a64, a64, [[0.0, 0.0], [0.0, 0.0]])  # type: ignore[arg-type]


# --- statistics, kernels, configuration ------------------------------------------------


def test_stats_count_gemm_calls() -> None:
    xsmmwrap.reset_stats()
    before = xsmmwrap.stats()
    a = np.ones((8, 8))
    for _ in range(5):
        xsmmwrap.gemm(a, a)
    xsmmwrap.gemm(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))
    after = xsmmwrap.stats()
    assert after.intercepted == before.intercepted + 6
    assert after.kernel_calls == before.kernel_calls + 6
    assert sum(after.by_route[r] for r in ROUTES) == after.kernel_calls
    assert sum(after.symbols.values()) == after.intercepted
    assert after.kernel_gflop == pytest.approx(before.kernel_gflop + 6 * 2 * 8**3 * 1e-9)
    assert after.kernels >= 2 and after.kernels >= after.jit_kernels
    assert after.memory_bytes >= after.code_bytes
    if after.jit_kernels:
        assert after.code_bytes > 0
    # a call above the size threshold leaves the kernel path: to the process's dgemm_,
    # counted under its reason, or, with none (as in numpy's wheels: scipy_ names only), to the
    # portable kernel, counted as portable (tests/c/test_api.c covers both deterministically)
    limit = xsmmwrap.config().max_mnk
    side = round(limit ** (1 / 3)) + 2
    big = np.ones((side, side))
    np.testing.assert_array_equal(xsmmwrap.gemm(big, big), np.full((side, side), float(side)))
    last = xsmmwrap.stats()
    assert last.intercepted == after.intercepted + 1
    forwarded = last.by_route["too_large"] - after.by_route["too_large"]
    assert forwarded in (0, 1)
    assert last.original_calls == after.original_calls + forwarded
    assert last.by_route["portable"] == after.by_route["portable"] + 1 - forwarded
    assert last.by_route["jit"] == after.by_route["jit"]
    # alpha = 0 at any size: C = beta*C by the wrapper, no kernel
    xsmmwrap.gemm(big, big, alpha=0.0)
    scaled = xsmmwrap.stats()
    assert scaled.scale_calls == last.scale_calls + 1 == scaled.by_route["scale"]
    assert scaled.kernel_calls == last.kernel_calls
    assert scaled.original_calls == last.original_calls
    assert scaled.intercepted == scaled.kernel_calls + scaled.scale_calls + scaled.original_calls
    assert set(scaled.by_route) == {
        "jit", "portable", "scale", "too_large", "unsupported", "invalid", "disabled",
        "registry_full", "lock_busy", "tuned_blas",
    }  # fmt: skip


def test_reset_stats_zeroes_counters() -> None:
    xsmmwrap.gemm(np.ones((4, 4)), np.ones((4, 4)))
    assert xsmmwrap.stats().intercepted > 0
    kernels_before = xsmmwrap.stats().kernels
    xsmmwrap.reset_stats()
    s = xsmmwrap.stats()
    assert s.intercepted == 0 and s.kernel_calls == 0 and s.original_calls == 0
    assert s.scale_calls == 0
    assert all(v == 0 for v in s.by_route.values())
    assert s.symbols == {}
    assert s.kernel_gflop == 0.0
    assert s.kernels == kernels_before  # the registry is not reset
    assert all(k.calls == 0 and k.gflop == 0.0 for k in xsmmwrap.kernels())


def test_kernels_describe_calls() -> None:
    xsmmwrap.reset_stats()
    rng = np.random.default_rng(1)
    a = np.asfortranarray(rng.uniform(size=(5, 3)))
    b = np.asfortranarray(rng.uniform(size=(3, 7)))
    c = np.zeros((5, 7), order="F")
    for _ in range(3):
        xsmmwrap.gemm(a, b, c)
    # float32, C order, alpha 0.7, beta -1: computed as C^T = B^T A^T, a 7x5 problem
    xsmmwrap.gemm(a.astype(np.float32, order="C"), b.astype(np.float32, order="C"),
                  np.zeros((5, 7), np.float32), alpha=0.7, beta=-1.0)  # fmt: skip
    used = {(k.precision, k.m, k.n, k.k, k.alpha_class, k.beta_class): k for k in xsmmwrap.kernels()
            if k.calls}  # fmt: skip
    k64 = used[("f64", 5, 7, 3, "1", "0")]
    assert (k64.trans_a, k64.trans_b, k64.lda, k64.ldb, k64.ldc) == ("N", "N", 5, 3, 5)
    assert k64.calls == 3
    assert k64.gflop == pytest.approx(3 * 2 * 5 * 7 * 3 * 1e-9)
    k32 = used[("f32", 7, 5, 3, "any", "-1")]
    assert (k32.trans_a, k32.trans_b, k32.lda, k32.ldb, k32.ldc) == ("N", "N", 7, 3, 7)
    assert k32.calls == 1
    for k in (k64, k32):
        assert k.target in TARGETS
        assert (k.code_bytes > 0) == k.jit
    assert len(used) == 2
    assert len(xsmmwrap.kernels()) == xsmmwrap.stats().kernels


def test_verbosity_round_trip() -> None:
    old = xsmmwrap.get_verbosity()
    try:
        xsmmwrap.set_verbosity(2)
        assert xsmmwrap.get_verbosity() == 2 and xsmmwrap.verbosity == 2
        assert xsmmwrap.config().verbosity == 2
        xsmmwrap.verbosity = 3
        assert xsmmwrap.get_verbosity() == 3 and xsmmwrap.verbosity == 3
        xsmmwrap.verbosity = 0
        assert xsmmwrap.get_verbosity() == 0
    finally:
        xsmmwrap.set_verbosity(old)
    assert xsmmwrap.verbosity == old


def test_config_sane() -> None:
    cfg = xsmmwrap.config()
    assert cfg.max_mnk > 0 and cfg.max_kernels > 0
    assert cfg.target in TARGETS and cfg.cpu_target in TARGETS
    order = ["generic", "avx2", "avx512"]
    assert order.index(cfg.target) <= order.index(cfg.cpu_target)
    assert isinstance(cfg.jit, bool) and isinstance(cfg.disabled, bool)
    assert isinstance(cfg.trylock, bool)
    assert cfg.verbosity == xsmmwrap.get_verbosity()


def test_write_json(tmp_path: Path) -> None:
    xsmmwrap.reset_stats()
    xsmmwrap.gemm(np.ones((3, 3)), np.ones((3, 3)))
    path = tmp_path / "stats.json"
    xsmmwrap.write_json(path)
    data = json.loads(path.read_text())
    s = xsmmwrap.stats()
    assert data["version"] == xsmmwrap.__version__
    assert data["target"] == xsmmwrap.config().target
    assert data["intercepted"] == s.intercepted == 1
    assert data["routes"] == s.by_route
    assert data["symbols"] == s.symbols
    assert len(data["kernels"]) == s.kernels
    assert data["memory"]["total_bytes"] == s.memory_bytes
    assert data["jit_failures"] == s.jit_failures


def test_write_json_error(tmp_path: Path) -> None:
    with pytest.raises(xsmmwrap.XsmmwrapError) as info:
        xsmmwrap.write_json(tmp_path / "no" / "such" / "dir.json")
    assert info.value.status == 3
    assert "could not be written" in str(info.value)


def test_paths_and_version() -> None:
    lib = xsmmwrap.library_path()
    assert lib.is_absolute() and lib.is_file() and lib.name == "libxsmmwrap.so"
    static = xsmmwrap.static_library_path()
    assert static.is_file() and static.name == "libxsmmwrap.a"
    assert (xsmmwrap.include_path() / "xsmmwrap.h").is_file()
    assert isinstance(xsmmwrap.__version__, str) and xsmmwrap.__version__
    for name in xsmmwrap.__all__:
        assert hasattr(xsmmwrap, name), name


def test_binding_follows_preload() -> None:
    """The pytest process binds the preloaded instance when there is one, else loads a file."""
    binding = _lib.binding()
    preloaded = "libxsmmwrap" in os.environ.get("LD_PRELOAD", "")
    assert binding.preloaded == preloaded
    assert (binding.path is None) == preloaded
    if not preloaded:
        assert binding.path == xsmmwrap.library_path()


def test_threadpoolctl_controller_reads_the_header() -> None:
    """_threadpoolctl.py has no second spelling of xsmmwrap_config (a ctypes mirror drifts, and
    a shorter one lets the library write past it): it binds the instance threadpoolctl found
    with the header's declarations, the binding's own, and loads nothing itself."""
    import ctypes

    pytest.importorskip("threadpoolctl")
    from xsmmwrap import _threadpoolctl

    mirrors = [
        v for v in vars(_threadpoolctl).values()
        if isinstance(v, type) and issubclass(v, ctypes.Structure)
    ]  # fmt: skip
    assert not mirrors
    path = _lib.binding().path or xsmmwrap.library_path()
    bound = _lib.instance(str(path))
    assert bound.ffi is _lib.binding().ffi
    raw = bound.ffi.new("xsmmwrap_config *")
    assert bound.lib.xsmmwrap_get_config(raw) == 0
    assert _lib.text(bound.lib.xsmmwrap_target_name(raw.target)) == xsmmwrap.config().target
    with pytest.raises(OSError):
        _lib.instance(str(path.with_name("libxsmmwrap-not-loaded.so")))


def test_scale_class_names_are_the_library_s() -> None:
    """KernelInfo's alpha_class and beta_class and the statistics' JSON spell the classes alike:
    the names come from the library's one table (xsmmwrap_scale_name)."""
    from xsmmwrap import _stats

    assert _stats.scale_class_names() == {1: "1", -1: "-1", 0: "0", 2: "any"}
    assert _stats.scale_class_name(7) == "7"
