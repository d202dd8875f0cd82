"""``xsmmwrap tune``: routing and plans measured on this machine (issue 13, docs/TUNING.md).

For each GEMM call descriptor (precision, transposes, M, N, K, leading dimensions, scale classes
of alpha and beta) the C program ``tune-kernels`` (``examples/tune_kernels.c``) times, on one
pinned core, every candidate the wrapper could run: the generated kernel of each target the CPU
supports with the plans its cost model finds close, and the original BLAS, with the operands
cached and streamed. This module picks each descriptor's winner (:func:`choose`) and writes the
tuning file the library reads at start (``XSMMWRAP_TUNE``, else the per-user cache file of this
CPU). ``xsmmwrap tune --show FILE`` prints a file as a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import samples
from ._console import Progress, format_table

PROGRAM = "tune-kernels"
SCHEMA = "xsmmwrap-tune/1"
#: The rule :func:`choose` applies, recorded in each file.
RULE = (
    "max-min-gain/1: the highest worst gain (cached, streamed) over the faster of the untuned "
    "wrapper and the BLAS; the untuned wrapper kept within 3%"
)
#: Another candidate replaces the untuned wrapper's choice only when its worst gain is higher
#: by more than this share.
KEEP_UNTUNED = 0.03
#: Shapes up to this M*N*K are tuned (128^3), each size up to the generator's 4096.
MNK_MAX, DIM_MAX = 128**3, 4096
#: The untuned wrapper's threshold (XSMMWRAP_MAX_MNK's default).
DEFAULT_MAX_MNK = 64**3

#: The 17 shapes of ``xsmmwrap bench kernels`` (the cost model's own) and the region around the
#: threshold: cubes from 32 to 128, and rectangles with M*N*K near 64^3 and up to 128^3.
BENCH_SHAPES = (
    (4, 4, 4), (5, 5, 5), (8, 8, 8), (13, 13, 13), (16, 16, 16), (23, 23, 23), (24, 24, 24),
    (32, 32, 32), (48, 48, 48), (64, 64, 64), (5, 25, 5), (25, 5, 5), (5, 5, 25), (25, 25, 5),
    (8, 64, 8), (64, 8, 8), (13, 5, 7),
)  # fmt: skip
THRESHOLD_SHAPES = (
    (40, 40, 40), (56, 56, 56), (72, 72, 72), (80, 80, 80), (96, 96, 96), (112, 112, 112),
    (128, 128, 128), (32, 32, 128), (32, 128, 32), (128, 32, 32), (64, 64, 32), (64, 32, 64),
    (32, 64, 64), (64, 64, 128), (64, 128, 64), (128, 64, 64), (96, 96, 48), (48, 96, 96),
    (80, 80, 40), (16, 128, 128), (128, 16, 128), (128, 128, 16),
)  # fmt: skip


@dataclass(frozen=True)
class Descriptor:
    """One GEMM call as the wrapper keys it (column-major view)."""

    precision: str  # "f64" or "f32"
    trans_a: str  # "N" or "T"
    trans_b: str
    m: int
    n: int
    k: int
    lda: int
    ldb: int
    ldc: int
    alpha: str  # a scale class as the library names it: "1", "-1" or "any"
    beta: str  # "1", "-1", "0" or "any"

    def line(self) -> str:
        """The program's input line."""
        return (
            f"{self.precision} {self.trans_a} {self.trans_b} {self.m} {self.n} {self.k} "
            f"{self.lda} {self.ldb} {self.ldc} {self.alpha} {self.beta}"
        )

    def name(self) -> str:
        """As the report names kernels, without the target: ``dgemm_nn_8x8x8_lda8_..._a1_b0``."""
        return (
            f"{'d' if self.precision == 'f64' else 's'}gemm_{self.trans_a.lower()}"
            f"{self.trans_b.lower()}_{self.m}x{self.n}x{self.k}_lda{self.lda}_ldb{self.ldb}"
            f"_ldc{self.ldc}_a{_word(self.alpha)}_b{_word(self.beta)}"
        )


def _word(scale: str) -> str:
    """A scale class in a kernel's name, which keeps to [a-z0-9_]: "-1" is "m1"."""
    return scale.replace("-", "m")


def _scales() -> dict[int, str]:
    """The scale classes' names by their number (0: zero), from the library."""
    from .._stats import scale_class_names

    return scale_class_names()


def _check(d: Descriptor) -> Descriptor:
    if d.trans_a not in ("N", "T") or d.trans_b not in ("N", "T"):
        raise ValueError(f"{d.name()}: only real GEMM kernels (N, T) are tuned")
    if not all(1 <= x <= DIM_MAX for x in (d.m, d.n, d.k)):
        raise ValueError(f"{d.name()}: each of M, N, K must be 1..{DIM_MAX}")
    if d.m * d.n * d.k > MNK_MAX:
        raise ValueError(f"{d.name()}: M*N*K above 128^3 is not tuned")
    rows_a = d.k if d.trans_a == "T" else d.m
    rows_b = d.n if d.trans_b == "T" else d.k
    if d.lda < rows_a or d.ldb < rows_b or d.ldc < d.m:
        raise ValueError(f"{d.name()}: a leading dimension below its rows")
    scales = _scales()
    if d.alpha not in scales.values() or d.beta not in scales.values():
        raise ValueError(f"{d.name()}: alpha, beta: one of {', '.join(scales.values())}")
    if d.alpha == scales[0]:
        raise ValueError(f"{d.name()}: alpha 0 never reaches a kernel")
    return d


def square(m: int, n: int, k: int, precision: str = "f64", beta: str = "1") -> Descriptor:
    """M x N x K, NN, tight leading dimensions, alpha 1: what ``--shapes`` means."""
    return _check(Descriptor(precision, "N", "N", m, n, k, m, k, m, "1", beta))


_NAME = re.compile(
    r"^([ds])gemm_(?:(?:avx512|avx2|portable)_)?([nt])([nt])_(\d+)x(\d+)x(\d+)_lda(\d+)_ldb(\d+)"
    r"_ldc(\d+)_a([a-z0-9]+)_b([a-z0-9]+)(?:_p\d+x\d+)?$"
)


def parse_descriptor(text: str) -> Descriptor:
    """``MxNxK`` (NN, tight leading dimensions, alpha = beta = 1, f64), or a kernel's name as
    the report prints it (``dgemm_avx512_nt_8x8x8_lda8_ldb8_ldc8_a1_b0``; the target is
    optional): that exact descriptor.

    Raises
    ------
    ValueError
        On anything else, and on descriptors that are not tuned (see :data:`MNK_MAX`).
    """
    item = text.strip()
    dims = item.lower().split("x")
    if len(dims) == 3 and all(x.isdigit() for x in dims):
        return square(int(dims[0]), int(dims[1]), int(dims[2]))
    m = _NAME.match(item)
    scales = _scales()
    scale = {_word(s): s for s in scales.values()}
    # A kernel's alpha is never of class 0 (the route serves alpha = 0 without one).
    if not m or m[10] not in scale or m[11] not in scale or scale[m[10]] == scales[0]:
        raise ValueError(f"{item!r} is neither MxNxK nor a kernel name")
    p, ta, tb, *nums, a, b = m.groups()
    mm, nn, kk, lda, ldb, ldc = (int(x) for x in nums)
    return _check(
        Descriptor(
            "f64" if p == "d" else "f32", ta.upper(), tb.upper(), mm, nn, kk, lda, ldb, ldc,
            scale[a], scale[b],
        )
    )  # fmt: skip


def descriptors_from_stats(doc: dict[str, Any]) -> list[tuple[Descriptor, int]]:
    """The descriptors of a statistics document's kernels (``xsmmwrap run --json``) with their
    calls, most calls first, each once; those not tuned (complex ones, M*N*K above 128^3)
    left out."""
    calls: dict[Descriptor, int] = {}
    for k in doc.get("kernels", []):
        if k.get("precision") not in ("f64", "f32"):
            continue
        try:
            d = _check(
                Descriptor(
                    str(k["precision"]), str(k["trans_a"]), str(k["trans_b"]), int(k["m"]),
                    int(k["n"]), int(k["k"]), int(k["lda"]), int(k["ldb"]), int(k["ldc"]),
                    str(k["alpha"]), str(k["beta"]),
                )
            )  # fmt: skip
        except ValueError:
            continue
        calls[d] = calls.get(d, 0) + int(k.get("calls", 0))
    return sorted(calls.items(), key=lambda item: -item[1])


def default_descriptors() -> list[Descriptor]:
    """The default set: the benchmark's 17 shapes and the region around the threshold (DP, NN,
    tight leading dimensions, alpha 1; beta 1 and, for the benchmark's shapes, beta 0)."""
    out = [square(*s) for s in BENCH_SHAPES]
    out += [square(*s, beta="0") for s in BENCH_SHAPES]
    out += [square(*s) for s in THRESHOLD_SHAPES]
    return out


# ----------------------------------------------------------------------------------------------
# Measuring


def measure(
    descriptors: Sequence[Descriptor],
    *,
    cpu: int | None = None,
    blas: str | None = None,
    min_time: float = 0.002,
    repeats: int = 20,
    program: Path | None = None,
    stream_mb: int | None = None,
) -> dict[str, Any]:
    """Run ``tune-kernels`` on the descriptors; return its JSON document. A progress bar goes to
    stderr when it is a terminal.

    Raises
    ------
    xsmmwrap.samples.SampleError
        When the program is missing, fails, or prints no JSON.
    """
    exe = Path(program) if program is not None else samples.find_program(PROGRAM)
    if cpu is None:
        cpu = max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    argv = [str(exe), "--cpu", str(cpu), "--min-time", str(min_time), "--repeats", str(repeats)]
    if blas:
        argv += ["--blas", blas]
    if stream_mb:
        argv += ["--stream-mb", str(stream_mb)]
    # The BLAS is measured as the programs meet it: the environment is kept (OPENBLAS_CORETYPE
    # included: the core is part of the BLAS's identity in the file), libxsmmwrap not preloaded.
    env = samples.sample_env(keep_openblas_env=True)
    # The document goes to a file: a pipe would fill while we read the progress on stderr.
    out_file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    try:
        proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=out_file, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
    except OSError as err:
        out_file.close()
        raise samples.SampleError(f"cannot run {exe}: {err}") from None
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write("".join(d.line() + "\n" for d in descriptors))
    proc.stdin.close()
    progress = Progress("xsmmwrap tune", delay=0.0)
    step = re.compile(r"^tune_kernels: \[(\d+)/(\d+)\] (\S+)")
    for line in proc.stderr:
        m = step.match(line)
        if m:
            progress.count(int(m.group(1)), int(m.group(2)), m.group(3))
        else:
            sys.stderr.write(line)
    progress.done()
    status = proc.wait()
    out_file.seek(0)
    out = out_file.read()
    out_file.close()
    if status != 0:
        raise samples.SampleError(f"{exe.name} exited with status {proc.returncode}")
    try:
        data: dict[str, Any] = json.loads(out)
    except json.JSONDecodeError as err:
        raise samples.SampleError(f"{exe.name} printed no valid JSON ({err})") from None
    return data


# ----------------------------------------------------------------------------------------------
# Choosing


def _mnk(entry: dict[str, Any]) -> int:
    return int(entry["m"]) * int(entry["n"]) * int(entry["k"])


def untuned_index(entry: dict[str, Any], target: str, max_mnk: int = DEFAULT_MAX_MNK) -> int | None:
    """The candidate the wrapper runs without a tuning file: the kernel of the configured
    target with the cost model's own plan when M*N*K is within the threshold, else the BLAS."""
    for i, c in enumerate(entry["candidates"]):
        if _mnk(entry) > max_mnk:
            if c["route"] == "blas":
                return i
        elif (
            c["route"] == "kernel" and c["target"] == target and not c["mb_max"] and not c["nb_max"]
        ):
            return i
    return None


def gains(
    entry: dict[str, Any], i: int, target: str, max_mnk: int = DEFAULT_MAX_MNK
) -> list[float]:
    """Candidate i's gain in each mode (cached, streamed): the faster of the untuned wrapper
    and the BLAS over the candidate's time (> 1: the candidate is faster than both)."""
    cands = entry["candidates"]
    u = untuned_index(entry, target, max_mnk)
    refs = [c for c in cands if c["route"] == "blas"] + ([cands[u]] if u is not None else [])
    out = []
    for mode in ("cached_ns", "streamed_ns"):
        ref = min((c[mode] for c in refs), default=cands[i][mode])
        out.append(ref / cands[i][mode] if cands[i][mode] > 0 else 1.0)
    return out


def choose(entry: dict[str, Any], target: str, max_mnk: int = DEFAULT_MAX_MNK) -> int:
    """The winner among an entry's candidates (each with ``cached_ns`` and ``streamed_ns``).

    The rule (the issue's promise, never slower than the faster of the original BLAS and the
    untuned wrapper): each candidate's gain in a mode is that faster time over its own
    (:func:`gains`); its worst gain is the lower of cached and streamed; the highest worst gain
    wins, among candidates within 1% of it the highest geometric mean of the two gains. The
    untuned wrapper's choice (:func:`untuned_index`) is kept unless the winner's worst gain is
    higher by more than :data:`KEEP_UNTUNED`: a difference within the noise of a shared machine
    changes nothing. Ties go to the earlier candidate (the program lists each target's kernels
    with the cost model's own plan first, the BLAS last).
    """
    cands = entry["candidates"]
    g = [gains(entry, i, target, max_mnk) for i in range(len(cands))]
    worst = [min(x) for x in g]
    top = max(worst)
    near = [i for i in range(len(cands)) if worst[i] >= top / 1.01]
    best = max(near, key=lambda i: (math.sqrt(g[i][0] * g[i][1]), -i))
    keep = untuned_index(entry, target, max_mnk)
    if keep is not None and worst[best] <= worst[keep] * (1.0 + KEEP_UNTUNED):
        return keep
    return best


_CANDIDATE_KEYS = {
    "kernel": ("route", "target", "mb_max", "nb_max", "model_cost", "cached_ns", "streamed_ns"),
    "blas": ("route", "cached_ns", "streamed_ns"),
}
_ENTRY_KEYS = (
    "precision",
    "trans_a",
    "trans_b",
    "m",
    "n",
    "k",
    "lda",
    "ldb",
    "ldc",
    "alpha",
    "beta",
)


def _desc_of(d: dict[str, Any]) -> Descriptor:
    return Descriptor(**{k: d[k] for k in _ENTRY_KEYS})


def changed(measured: dict[str, Any], max_mnk: int = DEFAULT_MAX_MNK) -> list[Descriptor]:
    """The descriptors of a ``tune-kernels`` document whose winner is not the untuned
    wrapper's choice: the ones :func:`confirm` measures again."""
    doc = tuning_file(measured, max_mnk=max_mnk)
    target = str(measured["target"])
    return [
        _desc_of(e) for e in doc["entries"] if e["choice"] != untuned_index(e, target, max_mnk)
    ]


def merge_best(first: dict[str, Any], again: dict[str, Any]) -> dict[str, Any]:
    """``first`` with each candidate's times the better of both documents' (a noisy round of a
    shared machine only ever makes a time slower)."""
    out: dict[str, Any] = json.loads(json.dumps(first))
    more = {_desc_of(d): d for d in again["descriptors"]}
    for d in out["descriptors"]:
        other = more.get(_desc_of(d))
        if other is None or len(other["candidates"]) != len(d["candidates"]):
            continue
        for c, o in zip(d["candidates"], other["candidates"]):
            c["exact"] = bool(c.get("exact")) and bool(o.get("exact"))
            for mode in ("cached_ns", "streamed_ns"):
                times = [t for t in (c.get(mode), o.get(mode)) if t is not None]
                c[mode] = min(times) if times else None
    return out


def tuning_file(
    measured: dict[str, Any],
    calls: dict[Descriptor, int] | None = None,
    max_mnk: int = DEFAULT_MAX_MNK,
) -> dict[str, Any]:
    """The tuning file (schema :data:`SCHEMA`) from a ``tune-kernels`` document: per
    descriptor, the candidates that kept the arithmetic contract and were timed, and the
    winner (:func:`choose`)."""
    target = str(measured["target"])
    entries = []
    for d in measured["descriptors"]:
        cands = [
            {k: c[k] for k in _CANDIDATE_KEYS[c["route"]]}
            for c in d["candidates"]
            if c.get("exact")
            and c.get("cached_ns") is not None
            and c.get("streamed_ns") is not None
        ]
        if not cands:
            continue
        entry: dict[str, Any] = {k: d[k] for k in _ENTRY_KEYS}
        desc = Descriptor(**{k: d[k] for k in _ENTRY_KEYS})
        entry["calls"] = (calls or {}).get(desc, 0)
        entry["candidates"] = cands
        entry["choice"] = choose(entry, target, max_mnk)
        entries.append(entry)
    m = measured["measurement"]
    return {
        "schema": SCHEMA,
        "library": measured["library"],
        "cpu": measured["cpu"],
        "blas": {k: measured["blas"][k] for k in ("path", "bytes", "config")},
        "measurement": {
            "pinned_cpu": m["pinned_cpu"],
            "min_time_s": m["min_time_s"],
            "repeats": m["repeats"],
            "stream_bytes": m["stream_bytes"],
            "blas_threads": m["blas_threads"],
            "rule": RULE,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "entries": entries,
    }


def default_path() -> Path | None:
    """This CPU's per-user cache file, as the library names it (``xsmmwrap.config()``)."""
    from .. import config

    p = config().tune_default
    return Path(p) if p else None


# ----------------------------------------------------------------------------------------------
# Showing


def _label(c: dict[str, Any]) -> str:
    if c["route"] == "blas":
        return "BLAS"
    plan = "" if not (c["mb_max"] or c["nb_max"]) else f" p{c['mb_max']}x{c['nb_max']}"
    return f"{c['target']}{plan}"


def _ns(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def format_file(doc: dict[str, Any]) -> str:
    """A tuning file as a table: per descriptor the choice, and the cached and streamed times
    of the choice, the untuned wrapper and the BLAS, with the gain over the faster of the two."""
    cpu, blas, ms = doc["cpu"], doc["blas"], doc["measurement"]
    head = [
        f"tuning file {doc['schema']}, xsmmwrap {doc['library']}, made {ms['created']}",
        f"CPU: {cpu['vendor']} family {cpu['family']} model {cpu['model']} stepping "
        f"{cpu['stepping']} ({cpu['isa']}), pinned to CPU {ms['pinned_cpu']}",
        f"BLAS: {blas['path']} ({blas['bytes']} bytes)"
        + (f": {blas['config']}" if blas["config"] else ""),
        f"rule: {ms['rule']}",
        "x: the faster of the untuned wrapper and the BLAS over the choice, worse of cached and "
        "streamed (>= 1: the choice is as fast or faster)",
    ]
    rows = []
    for e in doc["entries"]:
        cands = e["candidates"]
        pick = cands[e["choice"]]
        target = doc["cpu"]["isa"]
        u = untuned_index(e, target)
        b = next((c for c in cands if c["route"] == "blas"), None)
        cells = [Descriptor(**{k: e[k] for k in _ENTRY_KEYS}).name(), str(e["calls"]), _label(pick)]
        ratio = math.inf
        for mode in ("cached_ns", "streamed_ns"):
            untuned = cands[u][mode] if u is not None else None
            blas_ns = b[mode] if b else None
            cells += [_ns(pick[mode]), _ns(untuned), _ns(blas_ns)]
            others = [x for x in (untuned, blas_ns) if x is not None]
            if others and pick[mode] > 0:
                ratio = min(ratio, min(others) / pick[mode])
        cells.append("-" if ratio == math.inf else f"{ratio:.2f}")
        rows.append(cells)
    header = [
        "descriptor", "calls", "choice", "cached", "untuned", "BLAS", "streamed", "untuned",
        "BLAS", "x",
    ]  # fmt: skip
    return "\n".join(head) + "\n\n" + format_table(header, rows, left=3)


# ----------------------------------------------------------------------------------------------
# Command line


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one


def _descriptors(args: argparse.Namespace) -> tuple[list[Descriptor], dict[Descriptor, int]]:
    if args.shapes is not None:
        return list(dict.fromkeys(args.shapes)), {}
    if args.shapes_from is not None:
        doc = json.loads(Path(args.shapes_from).read_text(encoding="utf-8"))
        found = descriptors_from_stats(doc)
        return [d for d, _ in found], dict(found)
    return default_descriptors(), {}


def main(args: argparse.Namespace) -> int:
    """``xsmmwrap tune``: measure and write the tuning file, or ``--show`` one."""
    if args.show is not None:
        try:
            doc = json.loads(Path(args.show).read_text(encoding="utf-8"))
            sys.stdout.write(format_file(doc))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
            print(
                f"xsmmwrap tune --show: {args.show}: not a readable tuning file ({err})",
                file=sys.stderr,
            )
            return 2
        return 0
    try:
        descs, calls = _descriptors(args)
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"xsmmwrap tune: {args.shapes_from}: {err}", file=sys.stderr)
        return 2
    if not descs:
        print("xsmmwrap tune: no descriptor to tune (kernels with M*N*K <= 128^3)", file=sys.stderr)
        return 2
    out = Path(args.output) if args.output else default_path()
    if out is None:
        print("xsmmwrap tune: no home directory for the cache file: give -o FILE", file=sys.stderr)
        return 2
    try:
        measured = measure(
            descs, cpu=args.cpu, blas=args.blas, min_time=args.min_time, repeats=args.repeats,
            program=args.program,
        )  # fmt: skip
        # A choice other than the untuned wrapper's is measured again before it is believed:
        # every candidate of those descriptors keeps its better time of the two passes.
        again = changed(measured)
        if again:
            measured = merge_best(
                measured,
                measure(
                    again, cpu=args.cpu, blas=args.blas, min_time=args.min_time,
                    repeats=args.repeats, program=args.program,
                ),
            )  # fmt: skip
    except samples.SampleError as err:
        print(f"xsmmwrap tune: {err}", file=sys.stderr)
        return 1
    doc = tuning_file(measured, calls)
    _write(out, doc)
    if not args.quiet:
        sys.stdout.write(format_file(doc))
    print(f"xsmmwrap tune: {len(doc['entries'])} descriptors written to {out}", file=sys.stderr)
    return 0


def _descriptor_list(text: str) -> list[Descriptor]:
    try:
        return [parse_descriptor(item) for item in text.split(",") if item.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap tune`` (cli.py lists the command)."""
    p.description = __doc__
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--shapes",
        type=_descriptor_list,
        metavar="MxNxK[,...]",
        help="these shapes (DP, NN, tight leading dimensions, alpha = beta = 1), or kernel "
        "names as the report prints them (dgemm_avx2_nt_8x8x8_lda8_ldb8_ldc8_a1_b0)",
    )
    which.add_argument(
        "--shapes-from",
        metavar="STATS.json",
        help="the calls of a run's statistics (xsmmwrap run --json): their exact descriptors",
    )
    which.add_argument("--show", metavar="FILE", help="print a tuning file as a table")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="the file to write (default: this CPU's cache file)"
    )
    p.add_argument(
        "--blas",
        metavar="LIB",
        help="the original BLAS (default: $XSMMWRAP_BLAS, else libblas.so.3)",
    )
    p.add_argument("--cpu", type=int, metavar="N", help="the CPU to pin to (default: the last one)")
    p.add_argument("--min-time", type=float, default=0.002, help="seconds per timed loop (0.002)")
    p.add_argument("--repeats", type=int, default=20, help="interleaved rounds, best kept (20)")
    p.add_argument("--program", type=Path, metavar="PATH", help="the tune-kernels executable")
    p.add_argument("-q", "--quiet", action="store_true", help="no table")
    p.set_defaults(func=main)


def entries_by_descriptor(doc: dict[str, Any]) -> dict[Descriptor, dict[str, Any]]:
    """A tuning file's entries by descriptor."""
    return {Descriptor(**{k: e[k] for k in _ENTRY_KEYS}): e for e in doc["entries"]}


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A tuning file's JSON (no check: the library is the judge)."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


__all__ = [
    "Descriptor",
    "configure",
    "choose",
    "default_descriptors",
    "descriptors_from_stats",
    "entries_by_descriptor",
    "format_file",
    "load",
    "measure",
    "parse_descriptor",
    "square",
    "tuning_file",
]
