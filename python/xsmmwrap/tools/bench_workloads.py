"""``xsmmwrap bench workloads``: the sample workloads, plain, with xsmmwrap and with LIBXSMM's.

Each workload (``examples/``: SPECFEM3D's stiffness kernel, Nek5000's Helmholtz operator,
CP2K/DBCSR block stacks) is a real computation through ``dgemm_`` that checks its own answer
and prints the time of its GEMM part (``time X ms``). It runs four ways:

plain
    against the system BLAS, nothing in front of it;
xsmmwrap
    the same program with ``libxsmmwrap.so`` in ``LD_PRELOAD`` (calls on the kernel path from
    ``XSMMWRAP_STATS_JSON``);
LIBXSMM
    ``NAME-libxsmm``, the same source linked with ``ld --wrap=dgemm_`` and LIBXSMM 1.17's own
    call wrapper (``libxsmmext.a``), where Debian's ``libxsmm-dev`` was there at build time;
GEMM-free
    the same program with ``gemm-free.so`` in ``LD_PRELOAD`` (``examples/gemm_free.c``: a
    ``dgemm_`` that skips the product, C := beta*C only): its time outside GEMM, so plain over it
    is the ceiling of what any GEMM can gain for it (its answers are wrong by design and its
    check's failure is not counted).

Each figure is the best of ``--runs`` runs, the ways taking turns (in reverse order every other
round), each run pinned to one CPU (``--cpu``, else the last allowed; so OpenBLAS and LIBXSMM's
OpenMP run one thread), with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed
(``--keep-openblas-env`` keeps them). A run that fails, or whose answer the program finds
wrong, fails the benchmark (exit status 1), the GEMM-free way's expected failure aside. With
``--tune`` the tuned way's ratio to the untuned one is the median of the rounds' ratios, beside
the same for a control way run exactly as the untuned one is.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import samples
from ._console import Progress, fmt_float, fmt_ratio, format_table
from .samples import SampleError

#: (program, what it computes, its GEMM shapes (M x N x K))
WORKLOADS: tuple[tuple[str, str, str], ...] = (
    ("specfem-stiffness", "SPECFEM3D stiffness, 5x5x5 elements", "5x25x5 5x5x5 25x5x5"),
    ("nek-axhelm", "Nek5000 Helmholtz + restriction", "8x64x8 8x8x8 64x8x8 ..."),
    ("cp2k-stack", "CP2K/DBCSR block stacks", "23x23x23 13x5x7 5x5x5 ..."),
)
#: Every program's arguments for --quick: 64 elements (entries), 2 repetitions.
QUICK_ARGS = ("64", "2")
WAYS = ("plain", "xsmmwrap", "libxsmm", "tuned")
#: The way whose dgemm_ skips the product (gemm_free.c): the program's time outside GEMM.
GEMM_FREE = "gemm-free"
GEMM_FREE_LIBRARY = "gemm-free.so"
_TIME = re.compile(r"^time\s+([0-9.]+)\s*ms", re.MULTILINE)


def _run_once(
    argv: Sequence[str], env: dict[str, str], cpu: int | None, *, wrong: bool = False
) -> tuple[float | None, str | None]:
    """The ``time X ms`` of one run in seconds, or None and why not.

    ``wrong``: the run's answers are wrong by design (the GEMM-free way), so its check's exit
    status is not an error; its time line still must be there.
    """

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    try:
        r = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=900, preexec_fn=pin
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, str(err)
    if r.returncode != 0 and not (wrong and r.returncode == 1):
        tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
        return None, f"exit status {r.returncode}: " + " / ".join(tail)
    m = _TIME.search(r.stdout)
    if not m:
        return None, "no 'time ... ms' line in its output"
    return float(m.group(1)) * 1e-3, None


def run(
    runs: int = 3,
    *,
    quick: bool = False,
    cpu: int | None = None,
    keep_openblas_env: bool = False,
    gemm_free: bool = True,
    tune: Path | None = None,
) -> dict[str, Any]:
    """Time every workload that was built, every way it was built; return the results.

    ``quick`` runs each program on a small problem (a check that everything runs, not a
    measurement); ``cpu`` is the CPU every run is pinned to (default: the last one allowed,
    where the platform can pin); ``gemm_free``: a way whose ``dgemm_`` skips the product
    (C := beta*C only), the program's time outside GEMM: plain over it is the most any GEMM can
    gain (``ceiling``), and (plain - it) / (xsmmwrap - it) what ours gained on the GEMM calls
    themselves (``gemm_speedup``); ``tune``, a tuning file (``xsmmwrap tune``): a fourth way,
    ``tuned``, preloads the wrapper with ``XSMMWRAP_TUNE`` naming it (the ``xsmmwrap`` way then
    runs with ``XSMMWRAP_TUNE=0``), and a fifth, ``control``, runs exactly as ``xsmmwrap``
    does: its ratio to it is the spread of identical runs, the floor of the tuned one's.

    Raises
    ------
    SampleError
        When no workload program is found.
    """
    found: list[tuple[tuple[str, str, str], dict[str, Path]]] = []
    stub = samples.find_file(GEMM_FREE_LIBRARY) if gemm_free else None
    for workload in WORKLOADS:
        name = workload[0]
        try:
            program = samples.find_program(name)
        except SampleError:
            continue  # specfem-stiffness needs a Fortran compiler at build time
        ways = {"plain": program, "xsmmwrap": program}
        try:
            ways["libxsmm"] = samples.find_program(f"{name}-libxsmm")
        except SampleError:
            pass
        if stub is not None:
            ways[GEMM_FREE] = program
        if tune is not None:
            ways["tuned"] = program
            ways["control"] = program  # the xsmmwrap way again: the floor of tuned/xsmmwrap
        found.append((workload, ways))
    if not found:
        samples.find_program(WORKLOADS[-1][0])  # raises, saying where it looked
    library = samples.library_for(found[0][1]["plain"])
    if cpu is None and hasattr(os, "sched_getaffinity"):
        cpu = max(os.sched_getaffinity(0))
    progress = Progress("xsmmwrap bench workloads")
    targets: tuple[str, str] | None = None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="xsmmwrap-workloads-") as tmp:
        for (name, what, shapes), ways in found:
            row: dict[str, Any] = {"workload": name, "computes": what, "shapes": shapes}
            row.update({way: None for way in (*WAYS, "control", GEMM_FREE)})
            errors: list[str] = []
            stats = Path(tmp) / f"{name}.json"
            tuned_stats = Path(tmp) / f"{name}-tuned.json"
            argv_args = list(QUICK_ARGS) if quick else []
            pairs: list[float] = []  # per round: xsmmwrap's time / tuned's
            again: list[float] = []  # per round: xsmmwrap's time / the control's
            for i in range(runs):
                # The ways take turns, in reverse order every other round: a way is not always
                # the one that runs after a given other.
                order = list(ways.items())
                this_round: dict[str, float] = {}
                for way, program in order if i % 2 == 0 else reversed(order):
                    progress.step(f"{name} {way} ({i + 1}/{runs})")
                    extra: dict[str, str] | None = None
                    if way == "xsmmwrap":
                        extra = {"XSMMWRAP_STATS_JSON": str(stats)}
                        if tune is not None:
                            extra["XSMMWRAP_TUNE"] = "0"
                    elif way == "control":
                        extra = {"XSMMWRAP_TUNE": "0"}
                    elif way == "tuned":
                        extra = {
                            "XSMMWRAP_STATS_JSON": str(tuned_stats),
                            "XSMMWRAP_TUNE": str(tune),
                        }
                    preload = library if way in ("xsmmwrap", "tuned", "control") else None
                    env = samples.sample_env(
                        preload=stub if way == GEMM_FREE else preload,
                        keep_openblas_env=keep_openblas_env,
                        extra=extra,
                    )
                    t, err = _run_once([str(program), *argv_args], env, cpu, wrong=way == GEMM_FREE)
                    if err:
                        errors.append(f"{way}: {err}")
                    elif t is not None:
                        this_round[way] = t
                        if row[way] is None or t < row[way]:
                            row[way] = t
                if this_round.get("xsmmwrap") and this_round.get("tuned"):
                    pairs.append(this_round["xsmmwrap"] / this_round["tuned"])
                if this_round.get("xsmmwrap") and this_round.get("control"):
                    again.append(this_round["xsmmwrap"] / this_round["control"])
            doc = samples.read_stats(stats)
            row["kernel_share"] = samples.kernel_path_share(doc)
            targets = targets or _targets(doc)
            if tune is not None:
                row["tuned_calls"] = _tuned_share(samples.read_stats(tuned_stats))
                # The median of the rounds' ratios: a program whose calls the file does not
                # move runs the same code either way, and best-of times of a memory-bound
                # program differ by more than that from run to run (specfem-stiffness: 67-104 ms).
                if pairs:
                    row["tuned_vs_xsmmwrap"] = statistics.median(pairs)
                if again:
                    row["control_vs_xsmmwrap"] = statistics.median(again)
            for way in ("xsmmwrap", "libxsmm", "tuned"):
                if row["plain"] and row[way]:
                    row[f"{way}_speedup"] = row["plain"] / row[way]
            if row["xsmmwrap"] and row["libxsmm"]:
                row["xsmmwrap_vs_libxsmm"] = row["libxsmm"] / row["xsmmwrap"]
            row["ceiling"], row["gemm_speedup"] = gemm_split(
                row["plain"], row["xsmmwrap"], row[GEMM_FREE]
            )
            row["error"] = "; ".join(dict.fromkeys(errors)) or None
            row["ok"] = not errors
            rows.append(row)
        progress.done()
    return {
        "kind": "bench-workloads",
        "tune": None if tune is None else str(tune),
        "gemm_free": None if stub is None else str(stub),
        "cpu_name": samples.cpu_name(),
        "target": targets[0] if targets else None,
        "cpu_target": targets[1] if targets else None,
        "runs": runs,
        "quick": quick,
        "cpu": cpu,
        "library": str(library),
        "workloads": rows,
        "ok": all(r["ok"] for r in rows),
    }


def gemm_split(
    plain: float | None, ours: float | None, free: float | None
) -> tuple[float | None, float | None]:
    """From the plain, wrapped and GEMM-free times: (the ceiling, the speed-up on GEMM).

    The ceiling is plain / GEMM-free, what a GEMM of no cost would give; the speed-up on GEMM
    is (plain - GEMM-free) / (ours - GEMM-free), the GEMM calls' share of each run compared.
    None where a time is missing, or where the difference is not positive (noise on a program
    that spends next to nothing in GEMM).
    """
    if not plain or not free:
        return None, None
    if not ours or ours <= free or plain <= free:
        return plain / free, None
    return plain / free, (plain - free) / (ours - free)


def _targets(stats: dict[str, Any] | None) -> tuple[str, str] | None:
    """The target a wrapped run used and the one its CPU offers, from its statistics."""
    if stats is None or "target" not in stats or "cpu_target" not in stats:
        return None
    return str(stats["target"]), str(stats["cpu_target"])


def _tuned_share(stats: dict[str, Any] | None) -> float | None:
    """The share of a run's calls that followed the tuning file; None without statistics."""
    if stats is None:
        return None
    try:
        calls, intercepted = int(stats["tune"]["calls"]), int(stats["intercepted"])
    except (KeyError, TypeError, ValueError):
        return None
    return calls / intercepted if intercepted else None


def _geomean(values: Sequence[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def format_report(data: dict[str, Any]) -> str:
    """The table of one :func:`run` result."""
    fmt = fmt_float
    ways = [*(WAYS if data.get("tune") else WAYS[:3])]
    ratios = ["xsmmwrap_speedup", "libxsmm_speedup", "xsmmwrap_vs_libxsmm"]
    if data.get("gemm_free"):
        ways.append(GEMM_FREE)
        ratios += ["gemm_speedup", "ceiling"]
    rows = []
    for r in data["workloads"]:
        ms = [fmt(None if r.get(w) is None else 1e3 * r[w], ".1f") for w in ways]
        share = r.get("kernel_share")
        rows.append(
            [
                r["workload"],
                r["shapes"],
                *ms,
                *(fmt_ratio(r.get(key)) for key in ratios),
                "-" if share is None else f"{100 * share:.0f}%",
                *_tuned_cells(r, data),
                "ok" if r["ok"] else "FAILED",
            ]
        )
    geo = [_geomean([r[key] for r in data["workloads"] if r.get(key)]) for key in ratios]
    tuned_geo = [
        _geomean([r[key] for r in data["workloads"] if r.get(key)])
        for key in ("tuned_vs_xsmmwrap", "control_vs_xsmmwrap")
    ]
    rows.append(
        ["geomean", "", *["" for _ in ways], *(fmt_ratio(g) for g in geo), ""]
        + ([fmt_ratio(tuned_geo[0]), "", fmt_ratio(tuned_geo[1])] if data.get("tune") else [])
        + [""]
    )
    header = [
        "workload",
        "GEMM shapes",
        "plain ms",
        "xsmmwrap ms",
        "LIBXSMM ms",
        *(["GEMM-free ms"] if data.get("gemm_free") else []),
        "xsmmwrap x",
        "LIBXSMM x",
        "xsmmwrap/LIBXSMM",
        *(["xsmmwrap x on GEMM", "ceiling x"] if data.get("gemm_free") else []),
        "kernel path",
        *(["tuned/xsmmwrap", "followed file", "control/xsmmwrap"] if data.get("tune") else []),
        "check",
    ]
    if data.get("tune"):
        header.insert(5, "tuned ms")
    head = (
        samples.cpu_line(
            data.get("cpu_name"),
            f"every run pinned to CPU {data.get('cpu')}",
            data.get("target"),
            data.get("cpu_target"),
        )
        + "\n"
        f"Workloads, best of {data['runs']} runs; x = plain time / time; xsmmwrap/LIBXSMM = "
        "LIBXSMM's wrapper's time / ours (> 1: ours faster)\n"
    )
    if data.get("gemm_free"):
        head += (
            "GEMM-free: the program with a dgemm_ that skips the product (its time outside GEMM); "
            "ceiling = plain / GEMM-free, the most any GEMM could gain; xsmmwrap x on GEMM = "
            "(plain - GEMM-free) / (xsmmwrap - GEMM-free)\n"
        )
    if data.get("quick"):
        head += "--quick: small problems, whose times are mostly start-up (kernel generation)\n"
    if data.get("tune"):
        head += (
            f"tuned: preloaded with XSMMWRAP_TUNE={data['tune']} (xsmmwrap: XSMMWRAP_TUNE=0); "
            "tuned/xsmmwrap = the median over the rounds of xsmmwrap's time / tuned's in the "
            "same round (>= 1: the file made it no slower); control/xsmmwrap = the same for a "
            "fifth way run exactly as xsmmwrap is (the spread of identical runs)\n"
        )
    table = format_table(header, rows, left=2)
    errors = "".join(f"{r['workload']}: {r['error']}\n" for r in data["workloads"] if r["error"])
    return head + table + errors


def _tuned_cells(r: dict[str, Any], data: dict[str, Any]) -> list[str]:
    if not data.get("tune"):
        return []
    g, share, c = r.get("tuned_vs_xsmmwrap"), r.get("tuned_calls"), r.get("control_vs_xsmmwrap")
    return [
        fmt_ratio(g),
        "-" if share is None else f"{100 * share:.0f}%",
        fmt_ratio(c),
    ]


def _cmd(args: argparse.Namespace) -> int:
    return samples.run_command(
        "xsmmwrap bench workloads",
        lambda: run(
            args.runs,
            quick=args.quick,
            cpu=args.cpu,
            keep_openblas_env=args.keep_openblas_env,
            tune=args.tune,
        ),
        format_report,
        args,
    )


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap bench workloads`` (cli.py lists the command)."""
    p.description = __doc__
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--runs", type=int, default=3, help="runs of each way, best kept (3)")
    p.add_argument(
        "--quick", action="store_true", help="small problems: checks that all runs, times nothing"
    )
    p.add_argument("--cpu", type=int, help="the CPU to pin the runs to (default: the last one)")
    p.add_argument(
        "--tune",
        type=Path,
        metavar="FILE",
        help="a fourth way: preloaded with this tuning file (xsmmwrap tune --shapes-from)",
    )
    samples.add_json_option(p)
    samples.add_keep_env_option(p)
    p.set_defaults(func=_cmd)
