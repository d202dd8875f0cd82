"""``xsmmwrap dgemm-test``: one program, three ways of reaching the wrapper and LIBXSMM's.

``dgemm-test`` (``examples/dgemm_test.c``) calls ``dgemm_`` in a loop and knows nothing of the
wrapper. It runs as

blas
    ``dgemm-test-blas``, dynamically linked against the system BLAS: the reference;
wrap
    ``dgemm-test-wrap``, the same source linked with ``ld --wrap=dgemm_`` and ``libxsmmwrap.a``
    (kernel-path calls from ``xsmmwrap_get_stats``, which that program prints);
preload
    ``dgemm-test-blas`` with ``libxsmmwrap.so`` in ``LD_PRELOAD`` (kernel-path calls from the
    statistics file ``XSMMWRAP_STATS_JSON``);
libxsmm
    ``dgemm-test-libxsmm``, the same source linked with ``ld --wrap=dgemm_`` and LIBXSMM 1.17's
    own call wrapper (``libxsmmext.a``): the peer. Built only where Debian's ``libxsmm-dev``
    was installed; left out of the table otherwise.

Each run writes its result matrix; the wrapped runs must match the plain one within rounding
(``max|C - C_blas| <= 1e-12 * k * max|C_blas|``). The exit status is non-zero when a run
fails or differs. Arguments are the program's: ``[nrepeat]`` or
``m [n [k [lda [ldb [ldc [alpha [beta [nrepeat]]]]]]]]``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import samples
from ._console import Progress, fmt_count, fmt_float, fmt_ratio, format_table
from .samples import SampleError

__all__ = ["VARIANTS", "configure", "format_report", "main", "run"]

#: (variant, program, preloaded, description)
VARIANTS: tuple[tuple[str, str, bool, str], ...] = (
    ("blas", "dgemm-test-blas", False, "system BLAS, dynamically linked"),
    ("wrap", "dgemm-test-wrap", False, "ld --wrap=dgemm_ + libxsmmwrap.a"),
    ("preload", "dgemm-test-blas", True, "LD_PRELOAD=libxsmmwrap.so"),
    ("libxsmm", "dgemm-test-libxsmm", False, "ld --wrap=dgemm_ + LIBXSMM 1.17 (peer)"),
)
#: Variants whose program may be missing (built only when its library was there).
OPTIONAL = frozenset({"libxsmm"})

RELATIVE_TOLERANCE = 1e-12  #: per term of the inner product (times k)


def _matrix(path: Path) -> array[float]:
    values: array[float] = array("d")
    values.frombytes(path.read_bytes())
    return values


def rel_diff(got: Sequence[float], ref: Sequence[float]) -> float:
    """``max|got - ref| / max|ref|`` (inf for NaN or different lengths)."""
    if len(got) != len(ref):
        return math.inf
    diff = max((abs(g - r) for g, r in zip(got, ref)), default=0.0)
    scale = max((abs(r) for r in ref), default=0.0)
    if math.isnan(diff):
        return math.inf
    return diff / (scale if scale > 0 else 1.0)


def _run_variant(
    name: str,
    program: Path,
    preload: Path | None,
    description: str,
    args: Sequence[str],
    keep_openblas_env: bool,
    tmp: Path,
) -> tuple[dict[str, Any], dict[str, Any], array[float] | None]:
    """One run: its table row, the program's JSON, its result matrix (None when it failed)."""
    row: dict[str, Any] = {
        "variant": name,
        "description": description,
        "program": str(program),
        "ok": False,
        "error": None,
        "kernel_calls": None,
    }
    result_file = tmp / f"{name}.bin"
    stats_file = tmp / f"{name}.stats.json"
    env = samples.sample_env(
        preload=preload,
        keep_openblas_env=keep_openblas_env,
        label=f"dgemm-test {name}",
        extra={"XSMMWRAP_STATS_JSON": str(stats_file)} if preload else None,
    )
    try:
        data = samples.run_json([program, "--json", "--out", result_file, *args], env)
        matrix = _matrix(result_file)
    except (SampleError, OSError) as err:
        row["error"] = str(err)
        return row, {}, None
    for key in ("time_s", "calls_per_s", "gflops", "checksum", "nrepeat"):
        row[key] = data.get(key)
    try:
        if preload is not None:
            row["kernel_calls"] = samples.kernel_path_calls(samples.read_stats(stats_file))[0]
        elif data.get("wrapper"):
            row["kernel_calls"] = int(data["wrapper"]["kernel_calls"])
    except (ValueError, KeyError, TypeError):
        row["error"] = "no wrapper statistics (XSMMWRAP_STATS_JSON not written)"
    return row, data, matrix


def run(args: Sequence[str], *, keep_openblas_env: bool = False) -> dict[str, Any]:
    """Run the variants with the program arguments ``args``; return the results.

    Raises
    ------
    SampleError
        When the programs are not found (a failing run is reported in the results); only
        the optional variants' may be missing, and are then left out.
    """
    programs: dict[str, Path] = {}
    variants = []
    for variant in VARIANTS:
        name, prog = variant[:2]
        try:
            programs[prog] = programs.get(prog) or samples.find_program(prog)
        except SampleError:
            if name in OPTIONAL:
                continue
            raise
        variants.append(variant)
    library = samples.library_for(programs["dgemm-test-blas"])
    progress = Progress("xsmmwrap dgemm-test")
    results: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    reference: array[float] | None = None
    with tempfile.TemporaryDirectory(prefix="xsmmwrap-dgemm-test-") as tmp:
        for i, (name, prog, preloaded, description) in enumerate(variants):
            progress.step(f"{name} ({i + 1}/{len(variants)})")
            row, data, matrix = _run_variant(
                name,
                programs[prog],
                library if preloaded else None,
                description,
                args,
                keep_openblas_env,
                Path(tmp),
            )
            results.append(row)
            if matrix is None:
                continue
            if name == "blas":
                info = {
                    key: data.get(key)
                    for key in (
                        "m",
                        "n",
                        "k",
                        "lda",
                        "ldb",
                        "ldc",
                        "alpha",
                        "beta",
                        "nrepeat",
                        "blas_core",
                    )
                }
                reference = matrix
            problems = [row["error"]] if row["error"] else []
            if reference is None:
                problems.append("no reference result (the plain BLAS run failed)")
            else:
                row["max_rel_diff"] = rel_diff(matrix, reference)
                row["tolerance"] = RELATIVE_TOLERANCE * max(int(info.get("k") or 1), 1)
                if not row["max_rel_diff"] <= row["tolerance"]:
                    problems.append("result differs from the plain BLAS run")
            row["error"] = "; ".join(problems) or None
            row["ok"] = not problems
        progress.done()
    base = next((r for r in results if r["variant"] == "blas" and r.get("time_s")), None)
    for row in results:
        if base is not None and row.get("time_s"):
            row["speedup"] = base["time_s"] / row["time_s"]
    return {
        "kind": "dgemm-test",
        "args": list(args),
        **info,
        "library": str(library),
        "variants": results,
        "ok": all(r["ok"] for r in results),
    }


def format_report(data: dict[str, Any]) -> str:
    """The table of one :func:`run` result."""
    fmt = fmt_float
    head = (
        f"dgemm-test {data.get('m')}x{data.get('n')}x{data.get('k')} (lda {data.get('lda')}, "
        f"ldb {data.get('ldb')}, ldc {data.get('ldc')}, alpha {data.get('alpha')}, beta "
        f"{data.get('beta')}), {data.get('nrepeat')} calls; BLAS core "
        f"{data.get('blas_core') or 'unknown (not OpenBLAS)'}\n"
    )
    rows = []
    for r in data["variants"]:
        calls = r.get("kernel_calls")
        nrep = r.get("nrepeat")
        path = (
            "-"
            if calls is None
            else (f"{calls} ({100.0 * calls / nrep:.0f}%)" if nrep else str(calls))
        )
        diff = r.get("max_rel_diff")
        rows.append(
            [
                r["variant"],
                r["description"],
                fmt(r.get("time_s"), ".3f") + (" s" if r.get("time_s") is not None else ""),
                fmt_count(r.get("calls_per_s")),
                fmt(r.get("gflops")),
                fmt_ratio(r.get("speedup")),
                path,
                "-" if diff is None else f"{diff:.1e}",
                "ok" if r["ok"] else "FAILED",
            ]
        )
    table = format_table(
        [
            "variant",
            "how",
            "wall time",
            "calls/s",
            "GFLOP/s",
            "speed-up",
            "kernel path",
            "max rel. diff",
            "check",
        ],
        rows,
        left=2,
    )
    errors = "".join(f"{r['variant']}: {r['error']}\n" for r in data["variants"] if r.get("error"))
    return head + table + _against_peer(data["variants"]) + errors


def _against_peer(variants: Sequence[dict[str, Any]]) -> str:
    """One line: LIBXSMM's wrapper's time over each of ours (> 1: ours faster)."""
    by = {r["variant"]: r.get("time_s") for r in variants}
    peer = by.get("libxsmm")
    ours = [(name, by.get(name)) for name in ("wrap", "preload")]
    if not peer or not all(t for _, t in ours):
        return ""
    ratios = ", ".join(f"{name} {peer / t:.2f}x" for name, t in ours if t)
    return f"against LIBXSMM's call wrapper (its time / ours): {ratios}\n"


def main(args: argparse.Namespace) -> int:
    """``xsmmwrap dgemm-test``."""
    return samples.run_command(
        "xsmmwrap dgemm-test",
        lambda: run(args.args, keep_openblas_env=args.keep_openblas_env),
        format_report,
        args,
    )


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap dgemm-test`` (cli.py lists the command)."""
    p.description = (
        "Run the dgemm-test program against the system BLAS, linked with ld --wrap and "
        "libxsmmwrap.a, under LD_PRELOAD, and linked with LIBXSMM 1.17's call wrapper "
        "(when it was built); print one table (time, calls/s, GFLOP/s, speed-up, calls on "
        "the kernel path, difference from the plain result). Exit status 1 when a run "
        "fails or its result differs beyond rounding."
    )
    p.add_argument(
        "args",
        nargs="*",
        metavar="ARG",
        help="[nrepeat] or m [n [k [lda [ldb [ldc [alpha [beta [nrepeat]]]]]]]] "
        "(default 23x23x23, alpha = beta = 1, about a second of BLAS time)",
    )
    samples.add_json_option(p)
    samples.add_keep_env_option(p)
    p.set_defaults(func=main)
