"""``xsmmwrap bench enable``: what in-process interposition gains, next to LD_PRELOAD.

Measures, in ns per matrix, ``np.matmul(a, b, out=c)`` on stacks of ``--stack`` (10000)
n x n matrices for n = 4, 8, 16, 32 (``--dtype``, float64) and n = 8 in complex128
(``--complex-sizes``: numpy's complex matmul calls zgemm), and one ``scipy.linalg.blas.dgemm``
call on 8 x 8 matrices (Python's call overhead included), three ways in the same run:

plain
    numpy and scipy as they are (their OpenBLAS);
enable()
    the same process after ``xsmmwrap.enable()``;
LD_PRELOAD
    a second process with libxsmmwrap preloaded;

and, for scale, ``np.add(a, b, out=c)`` over the same stacks ("a+b"): it reads and writes the
bytes the matmul must, so no GEMM, however fast, makes a stack much quicker than that, and
"plain/a+b" is about the most any wrapper can gain over plain where the stacks do not fit in
the caches (n = 16 and 32 here, 61 and 246 MB).

Each figure is the best over ``--runs`` processes of each kind (taking turns) and, in each,
``--rounds`` turns of ``--repeats`` timings, every series after one warm-up call (which also
generates the kernel); plain and enable() take turns within one process, so that both see the
same machine load. A process keeps what it was dealt (physical pages, cache sets), so more
processes, not more timings, bring the kinds together: on a 2-core VM, with two processes of
each kind enable() and LD_PRELOAD differed at n = 8 by up to 10%, either way, from one run of
the command to the next; with eight, by 1-7%. Every stack starts 16 bytes past a 2 MiB
boundary (where malloc puts large blocks, relative to a page), so that the processes differ by
the redirection, not by where their arrays landed.

The measuring processes run with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from
their environment (OpenBLAS as it tunes itself for this CPU), pinned to one CPU (``--cpu``,
else the last allowed) unless ``--no-pin``. The counts of intercepted calls are checked: a run
whose calls did not all reach the wrapper, or whose plain turns reached it, fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import samples
from ._console import format_table
from .samples import OPENBLAS_ENV

SIZES = (4, 8, 16, 32)
COMPLEX_SIZES = (8,)
COMPLEX_DTYPE = "complex128"
SCIPY_CASE = "scipy dgemm 8x8"
#: numpy's calls that reach GEMV and SYRK (issue 15): np.matvec on a C-ordered stack (one
#: cblas_dgemv per matrix), ``a @ v`` and ``a @ a.T`` on one 8 x 8 matrix in a Python loop.
MATVEC_CASE = "matvec 8x8 float64"
LOOP_CASES = ("a @ v 8x8 (loop)", "a @ a.T 8x8 (loop)")
TRAFFIC = "a+b"  # np.add over the stacks: the memory traffic alone


def _case_name(n: int, dtype: str) -> str:
    return f"matmul {n}x{n} {dtype}"


class _Cases:
    """The arrays of every case, made once; :meth:`time` gives ns per matrix for each."""

    def __init__(self, args: argparse.Namespace) -> None:
        import numpy as np
        import scipy.linalg.blas as blas  # type: ignore[import-untyped]

        rng = np.random.default_rng(1)
        self.args = args
        self.stacks: list[tuple[str, Any, Any, Any]] = []
        sizes = [(n, args.dtype) for n in args.sizes]
        sizes += [(n, COMPLEX_DTYPE) for n in args.complex_sizes]
        for n, dtype in sizes:
            shape = (args.stack, n, n)
            a, b, c = (_placed(shape, dtype) for _ in range(3))
            for x in (a, b):
                x.real = rng.standard_normal(shape)
                if dtype == COMPLEX_DTYPE:
                    x.imag = rng.standard_normal(shape)
            self.stacks.append((_case_name(n, dtype), a, b, c))
        self.x = np.asfortranarray(rng.standard_normal((8, 8)))
        self.y = np.asfortranarray(rng.standard_normal((8, 8)))
        self.z = np.zeros((8, 8), order="F")
        self.calls: int = max(1, int(args.stack) // 2)
        self.mv_a = _placed((args.stack, 8, 8), args.dtype)
        self.mv_a[...] = rng.standard_normal((args.stack, 8, 8))
        self.mv_v = rng.standard_normal((args.stack, 8)).astype(args.dtype)
        self.mv_y = np.empty((args.stack, 8), args.dtype)
        self.m8 = rng.standard_normal((8, 8)).astype(args.dtype)
        self.v8 = rng.standard_normal(8).astype(args.dtype)
        self.dgemm = blas.dgemm
        self.matmul = np.matmul
        self.matvec = np.matvec
        self.add = np.add

    def _per_matrix(self, op: Any) -> dict[str, float]:
        """``op(a, b, out=c)`` over each case's stacks: the best of ``repeats`` after a warm-up
        call, per matrix."""
        result: dict[str, float] = {}
        for name, a, b, c in self.stacks:
            times = []
            for _ in range(self.args.repeats + 1):
                t0 = time.perf_counter_ns()
                op(a, b, out=c)
                times.append(time.perf_counter_ns() - t0)
            result[name] = min(times[1:]) / self.args.stack  # the first one warms up
        return result

    def _scipy(self) -> None:
        dgemm, x, y, z = self.dgemm, self.x, self.y, self.z
        for _ in range(self.calls):
            dgemm(1.0, x, y, 0.0, z, overwrite_c=1)

    def _loops(self) -> tuple[float, float]:
        m, v, matmul = self.m8, self.v8, self.matmul
        t0 = time.perf_counter_ns()
        for _ in range(self.calls):
            matmul(m, v)
        t1 = time.perf_counter_ns()
        mt = m.T
        for _ in range(self.calls):
            matmul(m, mt)
        return float(t1 - t0), float(time.perf_counter_ns() - t1)

    def matrices(self) -> int:
        """Calls (GEMM, GEMV, SYRK) of one :meth:`time` call per repeat."""
        return int(self.args.stack) * (len(self.stacks) + 1) + 3 * self.calls

    def time(self) -> dict[str, float]:
        """Best of ``repeats`` per case, each after one warm-up call."""
        result = self._per_matrix(self.matmul)
        times = [_timed(self._scipy) for _ in range(self.args.repeats + 1)]
        result[SCIPY_CASE] = min(times[1:]) / self.calls
        mv = []
        for _ in range(self.args.repeats + 1):
            t0 = time.perf_counter_ns()
            self.matvec(self.mv_a, self.mv_v, out=self.mv_y)
            mv.append(time.perf_counter_ns() - t0)
        result[MATVEC_CASE] = min(mv[1:]) / self.args.stack
        loops = [self._loops() for _ in range(self.args.repeats + 1)][1:]
        for i, case in enumerate(LOOP_CASES):
            result[case] = min(t[i] for t in loops) / self.calls
        return result

    def traffic(self) -> dict[str, float]:
        """Per matrix, ``np.add(a, b, out=c)`` over each case's stacks: the bytes the matmul
        must read and write, at numpy's streaming speed (no GEMM call)."""
        return self._per_matrix(self.add)


#: Where each stack starts: HUGE-aligned plus the 16 bytes by which malloc's large blocks
#: (so numpy's large arrays) are offset from a page.
HUGE = 2 << 20
OFFSET = 16


def _placed(shape: tuple[int, ...], dtype: str) -> Any:
    """An uninitialised array at the same place relative to 2 MiB pages in every process.

    Left to malloc, where a stack lands (and so whether it gets transparent huge pages and how
    its address relates to the other stacks') depends on what the process allocated before,
    which differs between the in-process and the LD_PRELOAD process: their figures would then
    differ by the placement rather than by the way calls are redirected.
    """
    import numpy as np

    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + HUGE + OFFSET, np.uint8)
    start = -raw.ctypes.data % HUGE + OFFSET
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def _timed(func: Any) -> float:
    t0 = time.perf_counter_ns()
    func()
    return float(time.perf_counter_ns() - t0)


def _best(into: dict[str, float], new: dict[str, float]) -> None:
    for case, value in new.items():
        into[case] = min(into.get(case, value), value)


def _worker(args: argparse.Namespace) -> dict[str, Any]:
    """Runs in a measuring process: ``inprocess`` (plain and enable() taking turns, so that
    both see the same machine load) or ``preload``."""
    if args.pin and hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    import xsmmwrap
    from xsmmwrap import _lib

    cases = _Cases(args)
    out: dict[str, Any] = {}
    counts: dict[str, int] = {}
    modes = ["LD_PRELOAD"] if args.worker == "preload" else ["plain", "enable()"]
    if args.worker == "preload" and not _lib.binding().preloaded:
        raise SystemExit("bench_enable: the library is not preloaded in the LD_PRELOAD run")
    for _ in range(args.rounds):
        for mode in modes:
            if mode == "enable()":
                out["patched"] = [f"{os.path.basename(p)}:{s}" for p, s in xsmmwrap.enable()]
            before = xsmmwrap.stats().intercepted
            _best(out.setdefault(mode, {}), cases.time())
            if mode == "plain":
                _best(out.setdefault(TRAFFIC, {}), cases.traffic())
            counts[mode] = counts.get(mode, 0) + xsmmwrap.stats().intercepted - before
            if mode == "enable()":
                xsmmwrap.disable()
    out["calls"] = counts
    out["expected calls"] = cases.matrices() * (args.repeats + 1) * args.rounds
    cfg = xsmmwrap.config()
    out["target"], out["cpu_target"] = cfg.target, cfg.cpu_target
    out["pinned"] = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return out


def _run_worker(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    from .. import _lib

    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_ENV and k != "LD_PRELOAD"}
    if mode == "preload":
        env["LD_PRELOAD"] = str(_lib.library_path())
    command = [sys.executable, "-m", "xsmmwrap.tools.bench_enable", "--worker", mode]
    command += ["--stack", str(args.stack), "--repeats", str(args.repeats), "--dtype", args.dtype]
    command += ["--rounds", str(args.rounds)]
    command += ["--sizes", *(str(n) for n in args.sizes)]
    command += ["--complex-sizes", *(str(n) for n in args.complex_sizes)]
    if not args.pin:
        command.append("--no-pin")
    elif args.cpu is not None:
        command += ["--cpu", str(args.cpu)]
    r = subprocess.run(command, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"bench_enable: the {mode} run failed:\n{r.stdout}{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _table(results: dict[str, Any], cases: Sequence[str]) -> str:
    header: tuple[str, ...] = ("case", "plain ns", "enable() ns", "LD_PRELOAD ns")
    header += ("enable() x", "LD_PRELOAD x", "a+b ns", "plain/a+b")
    rows: list[tuple[str, ...]] = []
    for case in cases:
        plain = results["plain"][case]
        enabled = results["enable()"][case]
        preload = results["LD_PRELOAD"][case]
        traffic = results[TRAFFIC].get(case)
        rows.append(
            (
                case,
                f"{plain:.1f}",
                f"{enabled:.1f}",
                f"{preload:.1f}",
                f"{plain / enabled:.2f}",
                f"{plain / preload:.2f}",
                "-" if traffic is None else f"{traffic:.1f}",
                "-" if traffic is None else f"{plain / traffic:.2f}",
            )
        )
    return format_table(header, rows)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", type=int, default=10000, help="matrices per stack (10000)")
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="n of n x n")
    p.add_argument(
        "--complex-sizes",
        type=int,
        nargs="*",
        default=list(COMPLEX_SIZES),
        help="n of the complex128 n x n stacks (8; none: no complex row)",
    )
    p.add_argument("--repeats", type=int, default=7, help="timings per case, best kept (7)")
    p.add_argument("--rounds", type=int, default=2, help="turns of plain/enable() (2)")
    p.add_argument("--runs", type=int, default=8, help="processes of each kind, alternating (8)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--cpu", type=int, help="the CPU to pin to (default: the last one allowed)")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin to one CPU")
    p.add_argument("--json", action="store_true", help="also print the figures as JSON")
    p.add_argument("--worker", choices=("inprocess", "preload"), help=argparse.SUPPRESS)


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap bench enable`` (cli.py lists the command)."""
    p.description = __doc__
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    _arguments(p)
    p.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m xsmmwrap.tools.bench_enable``: the same as ``xsmmwrap bench enable``."""
    p = argparse.ArgumentParser(
        prog="python -m xsmmwrap.tools.bench_enable",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _arguments(p)
    return run(p.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print its table; ``--json`` prints the raw figures too."""
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0

    results: dict[str, Any] = {"plain": {}, "enable()": {}, "LD_PRELOAD": {}, TRAFFIC: {}}
    for _ in range(args.runs):  # alternating, so that a change of machine load hits both
        for kind in ("inprocess", "preload"):
            got = _run_worker(args, kind)
            for mode, count in got["calls"].items():
                _best(results[mode], got[mode])
                # Only the enable() and LD_PRELOAD turns may reach the wrapper, all of them.
                if count != (0 if mode == "plain" else got["expected calls"]):
                    raise SystemExit(f"bench_enable: {count} calls intercepted in {mode}: {got}")
            _best(results[TRAFFIC], got.get(TRAFFIC, {}))
            results["patched"] = got.get("patched", results.get("patched"))
            for key in ("target", "cpu_target", "pinned"):
                results[key] = got.get(key)
    cases = [_case_name(n, args.dtype) for n in args.sizes]
    cases += [_case_name(n, COMPLEX_DTYPE) for n in args.complex_sizes]
    cases += [SCIPY_CASE, MATVEC_CASE, *LOOP_CASES]
    pinned = ",".join(str(c) for c in results.get("pinned") or []) or "?"
    print(
        samples.cpu_line(
            samples.cpu_name(),
            f"measuring processes on CPU {pinned}",
            results.get("target"),
            results.get("cpu_target"),
        )
    )
    print(
        f"ns per matrix (best of {args.runs} x {args.rounds} x {args.repeats}; stacks of "
        f"{args.stack}); x = plain / time"
    )
    sys.stdout.write(_table(results, cases))
    by_module: dict[str, list[str]] = {}
    for entry in results["patched"]:
        module, symbol = entry.rsplit(":", 1)
        by_module.setdefault(module.split(".", 1)[0], []).append(symbol)
    listed = "; ".join(f"{m} ({', '.join(s)})" for m, s in by_module.items())
    print(f"redirected by enable(): {listed}")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
