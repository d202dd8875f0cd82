"""``xsmmwrap bench kernels``: the kernel performance benchmark (issue 3).

Runs the C program ``bench-kernels`` (``examples/bench_kernels.c``) on one pinned core, reads
the JSON document it prints and shows it as tables: per GEMM shape, our kernel alone, our
whole interposed ``dgemm_``, the original OpenBLAS ``dgemm_``, LIBXSMM 1.17's kernel and
``libxsmm_dgemm``, in ns per call, GFLOP/s and percent of the core's measured peak, with
ratio columns and their geometric means over the shapes. ``docs/BENCHMARKS.md`` explains every
column.

The program and the ``libxsmmwrap.so`` it loads are found as for the other sample programs
(:func:`xsmmwrap.samples.find_program`, :func:`xsmmwrap.samples.library_for`): the package's
``bin`` directory, then ``$XSMMWRAP_BUILD_DIR/examples``. Its environment is
:func:`xsmmwrap.samples.sample_env`: ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed (the
benchmark measures OpenBLAS as it tunes itself for this CPU) and libxsmmwrap taken out of
``LD_PRELOAD`` (the program dlopens it itself); plus ``OPENBLAS_NUM_THREADS=1`` (one core).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import samples
from ._console import fmt_ratio, format_table

PROGRAM = "bench-kernels"
#: --shapes: the most shapes, and the largest M, N or K, bench-kernels takes.
SHAPES_MAX, SHAPE_DIM_MAX = 64, 256

PEERS = ("ours_kernel", "ours_gemm", "blas", "libxsmm_kernel", "libxsmm_gemm")

#: (column title, our peer, the other peer): peer time / our time, > 1 means ours is faster.
RATIOS = (
    ("ours/LIBXSMM kern", "ours_kernel", "libxsmm_kernel"),
    ("ours/LIBXSMM gemm", "ours_gemm", "libxsmm_gemm"),
    ("ours/OpenBLAS", "ours_gemm", "blas"),
)


def _titles(prefix: str) -> dict[str, str]:
    return {
        "ours_kernel": "ours kernel",
        "ours_gemm": f"ours {prefix}gemm_",
        "blas": "OpenBLAS",
        "libxsmm_kernel": "LIBXSMM kernel",
        "libxsmm_gemm": f"libxsmm_{prefix}gemm",
    }


# ----------------------------------------------------------------------------------------------
# Running the program


def default_cpu() -> int:
    """The CPU to pin to: the highest-numbered one this process may run on."""
    try:
        return max(os.sched_getaffinity(0))
    except (AttributeError, OSError, ValueError):
        return 0


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    """``"MxNxK[,MxNxK...]"`` as a list of (M, N, K), each from 1 to :data:`SHAPE_DIM_MAX`.

    Raises
    ------
    ValueError
        On anything else.
    """
    shapes = []
    for item in text.split(","):
        dims = item.strip().lower().split("x")
        if len(dims) != 3 or not all(d.strip().isdigit() for d in dims):
            raise ValueError(f"{item!r} is not MxNxK")
        m, n, k = (int(d) for d in dims)
        if not all(1 <= d <= SHAPE_DIM_MAX for d in (m, n, k)):
            raise ValueError(f"{item!r}: each size must be 1..{SHAPE_DIM_MAX}")
        shapes.append((m, n, k))
    if not 1 <= len(shapes) <= SHAPES_MAX:
        raise ValueError(f"1 to {SHAPES_MAX} shapes")
    return shapes


def random_shapes(count: int, seed: int) -> list[tuple[int, int, int]]:
    """``count`` distinct shapes, sorted, each size 1..64 with M*N*K <= 64**3 (the default
    XSMMWRAP_MAX_MNK): shapes nobody tuned for, the same for the same seed."""
    import random

    if not 1 <= count <= SHAPES_MAX:
        raise ValueError(f"1 to {SHAPES_MAX} shapes")
    rng = random.Random(seed)
    found: set[tuple[int, int, int]] = set()
    while len(found) < count:
        m, n, k = (rng.randint(1, 64) for _ in range(3))
        if m * n * k <= 64**3:
            found.add((m, n, k))
    return sorted(found)


def shapes_from_stats(doc: dict[str, Any]) -> list[tuple[int, int, int]]:
    """The (M, N, K) of a statistics document's kernels (``XSMMWRAP_STATS_JSON``, ``xsmmwrap
    run --json``), most calls first: each M, N, K once, those with a size beyond
    :data:`SHAPE_DIM_MAX` left out, at most :data:`SHAPES_MAX`. Precision, transposes and
    scalars are not kept: the benchmark times DP NN alpha = beta = 1."""
    out: list[tuple[int, int, int]] = []
    for k in sorted(doc.get("kernels", []), key=lambda k: -int(k.get("calls", 0))):
        shape = (int(k["m"]), int(k["n"]), int(k["k"]))
        if k.get("calls", 0) and all(1 <= d <= SHAPE_DIM_MAX for d in shape) and shape not in out:
            out.append(shape)
    return out[:SHAPES_MAX]


def run(
    quick: bool = False,
    cpu: int | None = None,
    program: Path | None = None,
    extra_args: Sequence[str] = (),
    keep_openblas_env: bool = False,
    shapes: Sequence[tuple[int, int, int]] | None = None,
    dispatch_only: bool = False,
    families_only: bool = False,
    tune: Path | None = None,
    complex_only: bool = False,
    vs_target: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark; return its JSON document with ``"kind": "bench-kernels"`` and
    ``summary`` (the geometric means) added. With ``shapes``, only those are measured (DP, NN,
    alpha = beta = 1, cached and streamed), none of the other sections; with
    ``dispatch_only``, only the dispatch and memory sections; with ``complex_only``, only ZGEMM
    and CGEMM (cached; of ``shapes`` when given); with ``tune``, another instance of the
    library reads that tuning file and its whole ``dgemm_`` is a peer (``ours_tuned``), beside
    the control, an instance loaded the same way without it (``ours_control``); with
    ``vs_target`` (``avx2``), an instance started with ``XSMMWRAP_TARGET`` set to it is a peer
    (``ours_target``), beside the same control.

    The program pins itself to ``cpu`` before it measures anything. Its progress lines go to
    this process's stderr.

    Raises
    ------
    xsmmwrap.samples.SampleError
        When the program or the library is not found, the program fails, or it prints no
        JSON object.
    """
    exe = Path(program) if program is not None else samples.find_program(PROGRAM)
    cpu = default_cpu() if cpu is None else cpu
    argv = [str(exe), "--cpu", str(cpu), "--lib", str(samples.library_for(exe)), *extra_args]
    if quick:
        argv.append("--quick")
    if shapes:
        argv += ["--shapes", ",".join(f"{m}x{n}x{k}" for m, n, k in shapes)]
    if dispatch_only:
        argv.append("--dispatch-only")
    if families_only:
        argv.append("--families-only")
    if complex_only:
        argv.append("--complex")
    batch_blas = _batch_blas()
    if batch_blas:
        argv += ["--batch-blas", batch_blas]
    if tune is not None:
        argv += ["--tune", os.path.abspath(tune), "--recheck-below", str(TUNED_TARGET)]
    if vs_target is not None:
        argv += ["--vs-target", vs_target]
    env = samples.sample_env(
        keep_openblas_env=keep_openblas_env, extra={"OPENBLAS_NUM_THREADS": "1"}
    )
    sys.stdout.flush()
    sys.stderr.flush()
    data = {"kind": "bench-kernels", **samples.run_json(argv, env)}
    data["command"] = argv
    data["openblas_env_kept"] = keep_openblas_env
    data["summary"] = summary(data)
    return data


def _batch_blas() -> str | None:
    """An OpenBLAS whose dgemm_batch_strided_ works on small products (scipy-openblas32 0.3.34;
    the numpy and scipy wheels' 0.3.30/0.3.31 crash below 100^3), None when not installed."""
    try:
        import scipy_openblas32  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    path = Path(scipy_openblas32.get_lib_dir()) / f"lib{scipy_openblas32.get_library()}.so"
    return str(path) if path.is_file() else None


# ----------------------------------------------------------------------------------------------
# Figures


def ns_of(case: dict[str, Any], peer: str, section: str = "cached") -> float | None:
    """ns per call of one peer in one case, None when the peer is absent."""
    cell = (case.get(section) or {}).get(peer)
    if not cell:
        return None
    ns = cell.get("ns")
    return float(ns) if ns is not None else None


def ratio(case: dict[str, Any], ours: str, other: str, section: str = "cached") -> float | None:
    """The other peer's time over ours (> 1: ours is faster), None when either is absent."""
    a, b = ns_of(case, ours, section), ns_of(case, other, section)
    if not a or not b:
        return None
    return b / a


def geomean(values: Iterable[float | None]) -> float | None:
    """Geometric mean of the positive values, None when there are none."""
    logs = [math.log(v) for v in values if v is not None and v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """Geometric means of the ratio columns over the shapes, per section."""
    out: dict[str, Any] = {}
    for key, section in (("dp_cached", "cached"), ("dp_streamed", "streamed")):
        cases = data.get("dp") or []
        out[key] = {
            title: geomean(ratio(c, ours, other, section) for c in cases)
            for title, ours, other in RATIOS
        }
    cases = data.get("sp") or []
    out["sp_cached"] = {
        title: geomean(ratio(c, ours, other) for c in cases) for title, ours, other in RATIOS
    }
    gen = [c.get("ours_jit") for c in (data.get("dp") or []) + (data.get("sp") or [])]
    out["ours_kernels"] = (
        "-" if not gen else "jit" if all(gen) else "portable" if not any(gen) else "mixed"
    )
    return out


# ----------------------------------------------------------------------------------------------
# Tables


def _fmt_ns(ns: float | None) -> str:
    if ns is None:
        return "-"
    return f"{ns:.0f}" if ns >= 1000 else f"{ns:.1f}"


def _fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    if abs(n) >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if abs(n) >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n:.0f} B"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    return format_table(header, rows, left=left).rstrip("\n").split("\n")


def _shape(case: dict[str, Any]) -> str:
    return f"{case['m']}x{case['n']}x{case['k']}"


def _kind(case: dict[str, Any]) -> str:
    jit = case.get("ours_jit")
    return "-" if jit is None else "jit" if jit else "portable"


#: The peers and ratios of the complex tables: LIBXSMM 1.17 has no complex GEMM.
COMPLEX_PEERS = ("ours_kernel", "ours_gemm", "blas")
COMPLEX_RATIOS = (("ours/OpenBLAS", "ours_gemm", "blas"),)


def _ns_table(
    cases: Sequence[dict[str, Any]],
    section: str,
    prefix: str,
    peers: Sequence[str] = PEERS,
    ratios: Sequence[tuple[str, str, str]] = RATIOS,
) -> list[str]:
    titles = _titles(prefix)
    header = ["MxNxK", "kernel", "route", *[titles[p] for p in peers], *[t for t, _, _ in ratios]]
    rows = []
    for c in cases:
        rows.append(
            [
                _shape(c),
                _kind(c),
                c.get("route") or "-",
                *[_fmt_ns(ns_of(c, p, section)) for p in peers],
                *[fmt_ratio(ratio(c, o, x, section)) for _, o, x in ratios],
            ]
        )
    rows.append(
        [
            "geomean",
            "",
            "",
            *["" for _ in peers],
            *[fmt_ratio(geomean(ratio(c, o, x, section) for c in cases)) for _, o, x in ratios],
        ]
    )
    return _table(header, rows, left=3)


def _gf_table(
    cases: Sequence[dict[str, Any]], section: str, prefix: str, peers: Sequence[str] = PEERS
) -> list[str]:
    titles = _titles(prefix)
    header = ["MxNxK", *[titles[p] for p in peers]]
    rows = []
    gfs: dict[str, list[float | None]] = {p: [] for p in peers}
    for c in cases:
        cells = [_shape(c)]
        for p in peers:
            cell = (c.get(section) or {}).get(p)
            if not cell:
                cells.append("-")
                gfs[p].append(None)
                continue
            gfs[p].append(cell.get("gflops"))
            pct = cell.get("peak_pct")
            cells.append(
                f"{cell['gflops']:.2f} ({pct:.0f}%)" if pct is not None else f"{cell['gflops']:.2f}"
            )
        rows.append(cells)
    rows.append(["geomean", *[_fmt_gf(geomean(gfs[p])) for p in peers]])
    return _table(header, rows)


def _fmt_gf(g: float | None) -> str:
    return "-" if g is None else f"{g:.2f}"


def _variants_table(
    cases: Sequence[dict[str, Any]], prefix: str = "d", peers: Sequence[str] = PEERS
) -> list[str]:
    titles = _titles(prefix)
    header = ["MxNxK", "variant", "kernel", *[titles[p] for p in peers]]
    nn: dict[str, dict[str, Any]] = {}
    for c in cases:
        if c.get("variant") == "NN":
            nn[_shape(c)] = c
    rows = []
    for c in cases:
        base = nn.get(_shape(c))
        cells = [_shape(c), str(c.get("variant")), _kind(c)]
        for p in peers:
            ns = ns_of(c, p)
            ref = ns_of(base, p) if base else None
            if ns is None:
                cells.append("-")
            elif ref:
                cells.append(f"{_fmt_ns(ns)} ({ns / ref:.2f}x)")
            else:
                cells.append(_fmt_ns(ns))
        rows.append(cells)
    return _table(header, rows, left=3)


#: Issue 13: with a tuning file, every shape at least this share of the faster of the original
#: BLAS alone and the untuned wrapper (cached and streamed).
TUNED_TARGET = 0.97
#: Issue 11: the default target at least this share of XSMMWRAP_TARGET=avx2's speed, every shape.
TARGET_FLOOR = 0.95


def tuned_gain(case: dict[str, Any], section: str) -> float | None:
    """The faster of the untuned ``dgemm_`` and the original BLAS over the tuned ``dgemm_``
    (>= 1: the tuned wrapper is as fast or faster), None without a tuned peer. The untuned
    ``dgemm_`` is the control (``ours_control``): a copy of the library loaded as the tuned one
    is, without the file, so that the two differ by the file alone; the first instance
    (``ours_gemm``) when there is no control. A case below :data:`TUNED_TARGET` in the first
    pass was timed again (``<section>_recheck``, three times the rounds): that pass decides."""
    if case.get(f"{section}_recheck"):
        section = f"{section}_recheck"
    tuned = ns_of(case, "ours_tuned", section)
    untuned = ns_of(case, "ours_control", section) or ns_of(case, "ours_gemm", section)
    refs = [x for x in (untuned, ns_of(case, "blas", section)) if x]
    return min(refs) / tuned if tuned and refs else None


#: The peers of the comparison, as the tuned table shows them.
_TUNED_PEERS = ("ours_control", "blas", "ours_tuned")


def _tuned_table(data: dict[str, Any]) -> list[str]:
    t = data.get("tune") or {}
    cases = data.get("dp") or []
    state = "in use" if t.get("in_use") else f"IGNORED ({t.get('reason')})"
    out = [
        f"Tuning file {t.get('file')} ({state}, {t.get('entries')} descriptors): the whole "
        "dgemm_ of a library instance that read it (tuned) against one loaded the same way "
        "without it (untuned) and OpenBLAS; x = the faster of those two over the tuned one; "
        "first = the untuned dgemm_ of the first instance (loaded by path, before the others) "
        "over the untuned copy's: how far identical code differs between instances in this run"
    ]
    header = ["MxNxK", "file"]
    for mode in ("cached", "streamed"):
        header += [f"{mode}: untuned", "OpenBLAS", "tuned", "x", "first"]
    rows = []
    gains: list[float] = []
    moved: list[float] = []
    spread: list[float] = []
    rechecked: list[str] = []
    for c in cases:
        follows = c.get("tune_followed")
        cells = [_shape(c), "-" if follows is None else "moved" if follows else "kept"]
        for mode in ("cached", "streamed"):
            g = tuned_gain(c, mode)
            if g is not None:
                gains.append(g)
                if follows:
                    moved.append(g)
            shown = f"{mode}_recheck" if c.get(f"{mode}_recheck") else mode
            cells += [_fmt_ns(ns_of(c, p, shown)) for p in _TUNED_PEERS]
            cells.append(fmt_ratio(g) + ("*" if shown != mode else ""))
            first, copy = ns_of(c, "ours_gemm", shown), ns_of(c, "ours_control", shown)
            if first and copy:
                spread.append(first / copy)
            cells.append(fmt_ratio(first / copy if first and copy else None))
            if shown != mode:
                was = [_fmt_ns(ns_of(c, p, mode)) for p in _TUNED_PEERS]
                rechecked.append(f"{_shape(c)} {mode} {' / '.join(was)}")
        rows.append(cells)
    geo = [geomean(tuned_gain(c, m) for c in cases) for m in ("cached", "streamed")]
    blank = ["", "", ""]
    rows.append(["geomean", "", *blank, fmt_ratio(geo[0]), "", *blank, fmt_ratio(geo[1]), ""])
    out += _table(header, rows)
    if rechecked:
        out.append(
            f"* below {TUNED_TARGET:.2f}x in the first pass, timed again with three times the "
            "rounds (shown); first pass untuned / OpenBLAS / tuned ns: " + "; ".join(rechecked)
        )
    low = min(gains) if gains else None
    verdict = "" if low is None else " (met)" if low >= TUNED_TARGET else " (NOT met)"
    out.append(
        f"lowest x over shapes and modes: {fmt_ratio(low)} (target >= {TUNED_TARGET:.2f}x){verdict}"
    )
    if spread:
        out.append(
            f"first instance over the untuned copy: {fmt_ratio(min(spread))} to "
            f"{fmt_ratio(max(spread))} (the same code: the spread of instances in this run)"
        )
    # A call the file keeps runs the same code in both instances: its x is the spread of this
    # measurement, the file's own effect is in the calls it moves.
    out.append(
        f"the file moves {sum(1 for c in cases if c.get('tune_followed'))} of "
        f"{len(cases)} shapes (file: moved; kept: the same kernel both ways); lowest x over "
        f"those it moves: {fmt_ratio(min(moved) if moved else None)}"
    )
    return out


def target_ratio(case: dict[str, Any], section: str) -> float | None:
    """The other target's ``dgemm_`` time over the default target's (>= 1: the default is as
    fast or faster), both instances loaded the same way (``ours_target``, ``ours_control``);
    None without them."""
    return ratio(case, "ours_control", "ours_target", section)


def _target_table(data: dict[str, Any]) -> list[str]:
    v = data.get("vs_target") or {}
    cases = data.get("dp") or []
    other, default = v.get("target"), v.get("control_target")
    out = [
        f"Default target ({default}) against XSMMWRAP_TARGET={v.get('requested')} (in use: "
        f"{other}): the whole dgemm_ of two library instances loaded the same way; x = the "
        f"{other} one's time over the default one's (< 1: the default is slower)"
    ]
    header = ["MxNxK"]
    for mode in ("cached", "streamed"):
        header += [f"{mode}: {default}", str(other), "x"]
    rows = []
    lows: dict[str, tuple[float, str]] = {}
    for c in cases:
        cells = [_shape(c)]
        for mode in ("cached", "streamed"):
            x = target_ratio(c, mode)
            cells += [_fmt_ns(ns_of(c, p, mode)) for p in ("ours_control", "ours_target")]
            cells.append(fmt_ratio(x))
            if x is not None and (mode not in lows or x < lows[mode][0]):
                lows[mode] = (x, _shape(c))
        rows.append(cells)
    geo = [geomean(target_ratio(c, m) for c in cases) for m in ("cached", "streamed")]
    rows.append(["geomean", "", "", fmt_ratio(geo[0]), "", "", fmt_ratio(geo[1])])
    out += _table(header, rows)
    for mode in ("cached", "streamed"):
        slower = sum(1 for c in cases if (target_ratio(c, mode) or 1) < TARGET_FLOOR)
        if mode in lows:
            x, shape = lows[mode]
            out.append(
                f"{mode}: lowest x {fmt_ratio(x)} ({shape}); shapes where the default is more "
                f"than {100 * (1 - TARGET_FLOOR):.0f}% slower: {slower} of {len(cases)}"
            )
    return out


def _dispatch_table(data: dict[str, Any]) -> list[str]:
    d = data.get("dispatch") or {}
    ours = d.get("ours") or {}
    lx = d.get("libxsmm") or {}

    def num(src: dict[str, Any], key: str, fmt: str) -> str:
        v = src.get(key)
        return "-" if v is None else format(v, fmt)

    n = d.get("kernels", 1000)
    rows = [
        [
            "find a known kernel, same shape (ns)",
            num(ours, "find_same_ns", ".1f"),
            num(lx, "find_same_ns", ".1f"),
        ],
        [
            f"find a known kernel, cycling over {n} shapes (ns)",
            num(ours, "find_cycle_ns", ".1f"),
            num(lx, "find_cycle_ns", ".1f"),
        ],
        [
            "create a new kernel, median (us)",
            num(ours, "create_median_us", ".2f"),
            num(lx, "create_median_us", ".2f"),
        ],
        [
            "create a new kernel, mean (us)",
            num(ours, "create_mean_us", ".2f"),
            num(lx, "create_mean_us", ".2f"),
        ],
        [
            f"memory added by {n} kernels",
            _fmt_bytes(ours.get("memory_delta_bytes")),
            _fmt_bytes(lx.get("registry_delta_bytes")),
        ],
        ["  of which generated code", _fmt_bytes(ours.get("code_delta_bytes")), "-"],
        [
            "memory held in all (registry + code)",
            _fmt_bytes(ours.get("memory_bytes")),
            _fmt_bytes(lx.get("registry_nbytes")),
        ],
        [
            f"RSS added by creating {n} kernels",
            _fmt_bytes(_kib(ours.get("rss_delta_kb"))),
            _fmt_bytes(_kib(lx.get("rss_delta_kb"))),
        ],
    ]
    return _table(["dispatch", "ours", "LIBXSMM 1.17"], rows)


def _kib(kb: float | None) -> float | None:
    return None if kb is None else kb * 1024.0


#: Issue 11: the resident set added by the kernels made through dgemm_, at most this share of
#: LIBXSMM's for the same shapes.
MEMORY_TARGET = 0.5


def memory_ratio(data: dict[str, Any]) -> float | None:
    """Our resident-set growth over LIBXSMM's for the memory section's kernels (< 1: ours is
    smaller), None when either is missing."""
    mem = data.get("memory") or {}
    ours = (mem.get("ours") or {}).get("rss_delta_kb")
    lx = (mem.get("libxsmm") or {}).get("rss_delta_kb")
    return ours / lx if ours is not None and lx else None


def _memory_table(data: dict[str, Any]) -> list[str]:
    mem = data.get("memory") or {}
    ours = mem.get("ours") or {}
    lx = mem.get("libxsmm") or {}

    def kib(key: str) -> list[str]:
        return [_fmt_bytes(_kib(src.get(key))) for src in (ours, lx)]

    def us(src: dict[str, Any]) -> str:
        v = src.get("first_call_median_us")
        return "-" if v is None else f"{v:.2f}"

    rows = [
        ["VmRSS added", *kib("rss_delta_kb")],
        ["  anonymous (heap, tables)", *kib("rss_anon_delta_kb")],
        ["  shared (code memory)", *kib("rss_shmem_delta_kb")],
        [
            "reported added (memory_bytes / registry nbytes)",
            _fmt_bytes(ours.get("memory_delta_bytes")),
            _fmt_bytes(lx.get("registry_delta_bytes")),
        ],
        ["  of which generated code", _fmt_bytes(ours.get("code_delta_bytes")), "-"],
        [
            "kernels made",
            str(ours.get("kernels_delta", "-")),
            str(lx.get("registry_delta_size", "-")),
        ],
        ["first call of a new shape, median (us)", us(ours), us(lx)],
    ]
    n = mem.get("kernels", 1000)
    out = [
        f"Memory of {n} kernels made through {mem.get('ours_call', 'dgemm_')} and "
        f"{mem.get('libxsmm_call', 'libxsmm_dgemm')}: {mem.get('shapes')}"
    ]
    out += _table(["memory", "ours", "LIBXSMM 1.17"], rows)
    r = memory_ratio(data)
    verdict = "" if r is None else " (met)" if r <= MEMORY_TARGET else " (NOT met)"
    out.append(
        f"VmRSS added, ours / LIBXSMM: {'-' if r is None else f'{r:.2f}x'} "
        f"(target <= {MEMORY_TARGET:.2f}x){verdict}"
    )
    return out


def _ratio_of(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{b / a:.2f}x"


def _gemv_table(cases: Sequence[dict[str, Any]]) -> list[str]:
    header = ["trans", "m x n", "ours kernel", "ours dgemv_", "OpenBLAS", "ours/OpenBLAS"]
    rows = []
    for c in cases:
        ns = c.get("ns") or {}
        rows.append(
            [
                str(c["trans"]),
                f"{c['m']}x{c['n']}",
                _fmt_ns(ns.get("ours_kernel")),
                _fmt_ns(ns.get("ours_gemv")),
                _fmt_ns(ns.get("blas")),
                _ratio_of(ns.get("ours_gemv"), ns.get("blas")),
            ]
        )
    return _table(header, rows, left=2)


def _batch_table(batch: dict[str, Any]) -> list[str]:
    header = ["MxNxK x count", "ours batch", "ours dgemm_ calls", "OpenBLAS batch",
              "OpenBLAS dgemm_ calls", "stream loop", "batch/calls (ours)",
              "ours/OpenBLAS batch", "stream loop/ours"]  # fmt: skip
    rows = []
    for c in batch.get("cases") or []:
        ns = c.get("ns_per_product") or {}
        rows.append(
            [
                f"{c['m']}x{c['n']}x{c['k']} x {c['count']}",
                _fmt_ns(ns.get("ours_batch")),
                _fmt_ns(ns.get("ours_calls")),
                _fmt_ns(ns.get("blas_batch")),
                _fmt_ns(ns.get("blas_calls")),
                _fmt_ns(ns.get("stream_loop")),
                _ratio_of(ns.get("ours_batch"), ns.get("ours_calls")),
                _ratio_of(ns.get("ours_batch"), ns.get("blas_batch")),
                _ratio_of(ns.get("ours_batch"), ns.get("stream_loop")),
            ]
        )
    return _table(header, rows)


def format_report(data: dict[str, Any]) -> str:
    """The readable report of one benchmark document."""
    m = data.get("machine") or {}
    pk = data.get("peak") or {}
    xw = data.get("xsmmwrap") or {}
    bl = data.get("blas") or {}
    lx = data.get("libxsmm") or {}
    ld = data.get("load") or {}
    reg = data.get("registry") or {}
    summ = data.get("summary") or summary(data)
    out: list[str] = []
    add = out.append

    add(
        f"CPU: {m.get('cpu_model')} (family {m.get('cpu_family')}, model "
        f"{m.get('cpu_model_number')}), {m.get('cpus_online')} CPUs online, pinned to CPU "
        f"{m.get('pinned_cpu')}"
    )
    dp_peak = pk.get("dp_gflops")
    if dp_peak is not None:
        add(
            f"Peak of this core ({pk.get('isa')} FMA loop): {dp_peak:.1f} GFLOP/s DP, "
            f"{pk.get('sp_gflops', 0):.1f} SP (= {pk.get('ghz_at_2_fma_per_cycle', 0):.2f} GHz "
            "at 2 FMA/cycle)"
        )
    kinds = summ.get("ours_kernels")
    add(
        f"xsmmwrap {xw.get('version')}: target {xw.get('target')} (CPU offers "
        f"{xw.get('cpu_target')}), max_mnk {xw.get('max_mnk')}; kernels in this run: {kinds} "
        f"({reg.get('jit_kernels')} of {reg.get('kernels')} generated, "
        f"{reg.get('jit_failures')} generation failures)"
    )
    add(f"  library {xw.get('library')}")
    add(
        f"Original BLAS: {bl.get('path') or 'absent'}; OpenBLAS core "
        f"{bl.get('openblas_corename') or '-'} ({bl.get('openblas_config') or '-'})"
    )
    if lx.get("present"):
        add(f"LIBXSMM {lx.get('version')}: target {lx.get('target')} (linked statically)")
    else:
        add("LIBXSMM: absent (libxsmm-dev not found at build time): its columns are '-'")
    add(
        f"Timing: best of {data.get('repeats')} interleaved rounds of loops of "
        f">= {data.get('min_time_s')} s"
        + (" (--quick)" if data.get("quick") else "")
        + f"; streamed batch {_fmt_bytes(data.get('stream_bytes'))}"
    )
    if data.get("openblas_env_kept"):
        add("OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE were kept (--keep-openblas-env)")
    add("Ratios are the other peer's time over ours: > 1 means ours is faster.")
    add("")

    dp = data.get("dp") or []
    if dp:
        add("DP, NN, alpha=1, beta=1, cached operands: ns per call")
        out.extend(_ns_table(dp, "cached", "d"))
        add("")
        add("DP, NN, alpha=1, beta=1, cached operands: GFLOP/s (% of peak)")
        out.extend(_gf_table(dp, "cached", "d"))
        add("")
        add("DP, NN, alpha=1, beta=1, streamed operands (batch >> caches): ns per call")
        out.extend(_ns_table(dp, "streamed", "d"))
        add("")
        add("DP, NN, alpha=1, beta=1, streamed operands: GFLOP/s (% of peak)")
        out.extend(_gf_table(dp, "streamed", "d"))
        add("")
        if (data.get("tune") or {}).get("file"):
            out.extend(_tuned_table(data))
            add("")
        if (data.get("vs_target") or {}).get("target"):
            out.extend(_target_table(data))
            add("")
    variants = data.get("variants") or []
    if variants:
        add("DP transposes and general scalars, cached: ns per call (x time of NN alpha=1 beta=1)")
        out.extend(_variants_table(variants))
        add("")
    sp = data.get("sp") or []
    if sp:
        add("SP, NN, alpha=1, beta=1, cached operands: ns per call")
        out.extend(_ns_table(sp, "cached", "s"))
        add("")
        add("SP, cached: GFLOP/s (% of SP peak)")
        out.extend(_gf_table(sp, "cached", "s"))
        add("")
    for gemm in ("zgemm", "cgemm"):
        cases = [c for c in data.get("complex") or [] if c.get("gemm") == gemm]
        nn = [c for c in cases if not c.get("variant")]
        if nn:
            what = f"{gemm.upper()}, NN, alpha=1, beta=1, cached operands"
            add(f"{what}: ns per call (no LIBXSMM peer: LIBXSMM 1.17 has no complex GEMM)")
            out.extend(_ns_table(nn, "cached", gemm[0], COMPLEX_PEERS, COMPLEX_RATIOS))
            add("")
            add(f"{what}: GFLOP/s (% of peak; 8*M*N*K real flops a product)")
            out.extend(_gf_table(nn, "cached", gemm[0], COMPLEX_PEERS))
            add("")
        if len(nn) < len(cases):
            add(f"{gemm.upper()} transposes (C conjugate) and scalars, cached: ns per call")
            variants = [c for c in cases if c.get("variant")]
            out.extend(_variants_table(variants, gemm[0], COMPLEX_PEERS))
            add("")
    gemv = data.get("gemv") or []
    if gemv:
        add("GEMV y = op(A)x + y, A m x n (lda = m), unit increments, cached: ns per call")
        out.extend(_gemv_table(gemv))
        add("")
    batch = data.get("batch") or {}
    if batch.get("cases"):
        add(
            "dgemm_batch_strided_, NN, alpha = beta = 1, operands packed: ns per product; stream "
            "loop: a plain loop reading A, B, C and writing C product after product (where it is "
            "no faster than our batch, the batch runs at the memory's pace); "
            f"OpenBLAS batch: {batch.get('blas_batch') or 'absent'}"
        )
        out.extend(_batch_table(batch))
        add("")
    if data.get("dispatch"):
        out.extend(_dispatch_table(data))
        add("")
    if data.get("memory"):
        out.extend(_memory_table(data))
        add("")
    add(
        f"Loading libxsmmwrap.so ({_fmt_bytes(ld.get('library_file_bytes'))} file) into a "
        f"process: RSS +{_fmt_bytes(_kib(ld.get('dlopen_rss_delta_kb')))} at dlopen, "
        f"+{_fmt_bytes(_kib(ld.get('first_call_rss_delta_kb')))} more at its first dgemm_ call"
    )
    bad = _errors(data)
    if bad:
        add("")
        add("WARNING: results that differ from the portable reference kernel:")
        out.extend(f"  {b}" for b in bad)
    return "\n".join(out) + "\n"


def _errors(data: dict[str, Any]) -> list[str]:
    bad = []
    for section, tol in (("dp", 1e-12), ("variants", 1e-12), ("sp", 1e-5), ("complex", 1e-5)):
        for c in data.get(section) or []:
            for peer, err in (c.get("max_rel_err") or {}).items():
                if err is not None and err > tol * (c["k"] + 1):
                    tag = c.get("variant") or "NN"
                    bad.append(f"{section} {tag} {_shape(c)} {peer}: relative error {err:.3g}")
    return bad


# ----------------------------------------------------------------------------------------------
# Command line


def main(args: argparse.Namespace) -> int:
    """``xsmmwrap bench kernels``: run, print the tables (or the JSON), save the JSON."""
    if args.complex and (args.dispatch_only or args.families_only):
        print(
            "xsmmwrap bench kernels: --complex is not allowed with --dispatch-only or "
            "--families-only",
            file=sys.stderr,
        )
        return 2
    shapes = args.shapes
    if args.random is not None:
        try:
            shapes = random_shapes(args.random, args.seed)
        except ValueError as err:
            print(f"xsmmwrap bench kernels: --random: {err}", file=sys.stderr)
            return 2
        print(
            f"{len(shapes)} random shapes (seed {args.seed}): "
            + ", ".join(f"{m}x{n}x{k}" for m, n, k in shapes),
            file=sys.stderr,
        )
    if args.shapes_from is not None:
        try:
            shapes = shapes_from_stats(json.loads(Path(args.shapes_from).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as err:
            print(f"xsmmwrap bench kernels: {args.shapes_from}: {err}", file=sys.stderr)
            return 2
        if not shapes:
            print(
                f"xsmmwrap bench kernels: {args.shapes_from}: no kernel with calls and sizes "
                f"1..{SHAPE_DIM_MAX}",
                file=sys.stderr,
            )
            return 2
        print(
            f"shapes from {args.shapes_from} (most calls first; timed as DP NN alpha=1 beta=1): "
            + ", ".join(f"{m}x{n}x{k}" for m, n, k in shapes),
            file=sys.stderr,
        )
    try:
        data = run(
            quick=args.quick,
            cpu=args.cpu,
            program=args.program,
            keep_openblas_env=args.keep_openblas_env,
            shapes=shapes,
            dispatch_only=args.dispatch_only,
            families_only=args.families_only,
            tune=args.tune,
            complex_only=args.complex,
            vs_target=args.vs_target,
        )
    except samples.SampleError as err:
        print(f"xsmmwrap bench kernels: {err}", file=sys.stderr)
        return 1
    if args.json == "-":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_report(data))
    for path in {p for p in (args.json, args.save) if p and p != "-"}:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        print(f"JSON written to {path}", file=sys.stderr)
    return 0


def _shapes_arg(text: str) -> list[tuple[int, int, int]]:
    try:
        return parse_shapes(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap bench kernels`` (cli.py lists the command)."""
    p.description = (
        "Run bench-kernels on one pinned core and print ns/call, GFLOP/s, % of peak and "
        "ratios per GEMM shape, dispatch cost and memory (see docs/BENCHMARKS.md)."
    )
    p.add_argument("--quick", action="store_true", help="shorter timings (noisier figures)")
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="also write the full results as JSON to FILE; without FILE, print the JSON on "
        "stdout instead of the tables",
    )
    p.add_argument("--save", metavar="FILE", help="the same as --json FILE")
    p.add_argument("--cpu", type=int, metavar="N", help="CPU to pin to (default: the last one)")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--shapes",
        type=_shapes_arg,
        metavar="MxNxK[,...]",
        help="measure only these shapes (yours): DP, NN, alpha = beta = 1, cached and streamed, "
        "against OpenBLAS and LIBXSMM; the other sections are skipped",
    )
    which.add_argument(
        "--shapes-from",
        metavar="STATS.json",
        help="the same for the shapes of a statistics file (xsmmwrap run --json), most calls first",
    )
    which.add_argument(
        "--random",
        type=int,
        metavar="N",
        help=f"the same for N (1..{SHAPES_MAX}) random shapes, sizes 1..64, M*N*K <= 64^3: "
        "shapes nobody tuned for",
    )
    which.add_argument(
        "--dispatch-only",
        action="store_true",
        help="only the dispatch cost and the memory of 1000 kernels (through dgemm_ and "
        "libxsmm_dgemm): a few seconds",
    )
    which.add_argument(
        "--families-only",
        action="store_true",
        help="only GEMV (dgemv_ against OpenBLAS's) and dgemm_batch_strided_ (10000 and 1000 "
        "products: our batch, our single calls, OpenBLAS's batch and calls, a stream loop over "
        "the same bytes): seconds",
    )
    p.add_argument(
        "--complex",
        action="store_true",
        help="only ZGEMM and CGEMM (zgemm_/cgemm_ against OpenBLAS's, cached; of --shapes when "
        "given): NN and, without --shapes, transposes and scalars",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of --random (1)")
    p.add_argument(
        "--vs-target",
        choices=("avx2", "avx512", "generic"),
        metavar="TARGET",
        help="also time the whole dgemm_ of an instance started with XSMMWRAP_TARGET=TARGET "
        "(avx2, avx512, generic) against one with the default target, loaded the same way "
        "(issue 11: the default never more than 5%% slower than avx2)",
    )
    p.add_argument(
        "--tune",
        type=Path,
        metavar="FILE",
        help="also time the whole dgemm_ with this tuning file (xsmmwrap tune), against the "
        "untuned dgemm_ and OpenBLAS (issue 13's target: every shape >= 0.97x)",
    )
    p.add_argument(
        "--program", type=Path, metavar="PATH", help="the bench-kernels executable to run"
    )
    samples.add_keep_env_option(p)
    p.set_defaults(func=main)
