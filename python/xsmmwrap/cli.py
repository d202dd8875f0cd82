"""The ``xsmmwrap`` command line.

Subcommands
-----------
run [-v N] [--json FILE] -- CMD ...
    Run CMD with libxsmmwrap preloaded (prepended to ``LD_PRELOAD``); --json: the statistics of
    every process of CMD, summed into FILE when CMD ends.
info
    Print the library's version, paths and configuration as JSON.
bench kernels [--quick] [--json FILE]
    Kernel benchmark: ours vs OpenBLAS vs LIBXSMM per shape (docs/BENCHMARKS.md).
bench workloads [--runs R] [--quick] [--json]
    The sample workloads (SPECFEM, Nek5000, CP2K): plain, with xsmmwrap, with LIBXSMM's wrapper.
bench enable [--sizes N ...] [--runs R] [--json]
    numpy matmul stacks and scipy dgemm: plain vs enable() vs LD_PRELOAD (in-process gain).
bench dispatch [n [threads]] | bench smm [case [m [n [k]]]] [--size MB] [--json] [--save F]
    Sample benchmarks: the way to a kernel; the SMM streaming cases, BLAS vs wrapper.
dgemm-test [ARG ...] [--json] [--save FILE]
    dgemm-test against the system BLAS, with ld --wrap and preloaded, in one table.
plot RESULTS.json ... [-o FILE]
    Chart the results of bench smm/dispatch and dgemm-test (matplotlib).
lapack-test [CASE ...] [--quick] [--target T] [--json FILE]
    LAPACK's test programs plain, preloaded, and with every GEMM on a kernel: pass/fail counts.
tune [--shapes S | --shapes-from STATS.json | --show FILE] [-o FILE]
    Measure kernels, plans and the original BLAS on this machine; write the tuning file.

``run`` and ``info`` are here; the others are in :mod:`xsmmwrap.tools`, whose module is
imported only for the command that runs. Adding a subcommand: write a function that takes its
parser, adds its arguments and sets ``func`` with ``set_defaults`` (a function that takes the
parsed arguments and returns the exit status), and add a row to :data:`COMMANDS` (a benchmark's
words begin with ``bench``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def _prepend_preload(library: str, current: str | None) -> str:
    """``library`` first, then the entries already in LD_PRELOAD (colon separated)."""
    entries = [e for e in (current or "").replace(" ", ":").split(":") if e and e != library]
    return ":".join([library, *entries])


def _cmd_run(args: argparse.Namespace) -> int:
    from . import _lib

    command: list[str] = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("xsmmwrap run: no command given (usage: xsmmwrap run -- CMD ...)", file=sys.stderr)
        return 2
    try:
        library = str(_lib.library_path())
    except FileNotFoundError as err:
        print(f"xsmmwrap run: library not found: {err}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["LD_PRELOAD"] = _prepend_preload(library, env.get("LD_PRELOAD"))
    if args.verbose is not None:
        env["LIBXSMM_VERBOSE"] = str(args.verbose)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if args.json is not None:
            return _run_and_merge(command, env, Path(os.path.abspath(args.json)))
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        print(f"xsmmwrap run: command not found: {command[0]}", file=sys.stderr)
        return 127
    except PermissionError as err:
        print(f"xsmmwrap run: cannot execute {command[0]}: {err.strerror}", file=sys.stderr)
        return 126
    except OSError as err:
        print(f"xsmmwrap run: cannot execute {command[0]}: {err}", file=sys.stderr)
        return 126
    return 0  # not reached: execvpe replaced the process


def _run_and_merge(command: list[str], env: dict[str, str], out: Path) -> int:
    """Runs ``command`` as a child, each of its processes writing its statistics to a file of
    its own (``%p``: process id), and writes their sum (:mod:`xsmmwrap.merge`) to ``out``. The
    child gets the terminal's interrupts itself; a SIGTERM or SIGHUP sent to us is passed on.
    Returns the child's exit status; when a signal ended it, ends this process the same way."""
    from . import merge

    with tempfile.TemporaryDirectory(prefix="xsmmwrap-run-") as tmp:
        env = {**env, "XSMMWRAP_STATS_JSON": os.path.join(tmp, "%p.json")}
        child = subprocess.Popen(command, env=env)
        forward = {signal.SIGTERM, signal.SIGHUP}
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGQUIT, *forward)}
        for sig in previous:
            signal.signal(
                sig,
                (lambda s, _f: child.send_signal(s)) if sig in forward else signal.SIG_IGN,
            )
        try:
            status = child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        data = merge.merge_files(sorted(Path(tmp).glob("*.json")))
    out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if status < 0:  # killed by a signal: so are we, as if we had been the child
        sys.stdout.flush()
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    return status if status >= 0 else 128 - status


def _configure_run(p: argparse.ArgumentParser) -> None:
    p.description = "Run CMD with libxsmmwrap prepended to LD_PRELOAD."
    p.add_argument(
        "-v",
        "--verbose",
        type=int,
        metavar="N",
        help="report on stderr when CMD ends (sets LIBXSMM_VERBOSE=N): 1 a summary, 2 adds a "
        "table per kernel, 3 a line per kernel made; without it the wrapper prints nothing",
    )
    p.add_argument(
        "--json",
        metavar="FILE",
        help="write the statistics as JSON when CMD ends: those of every process CMD ran, "
        "summed, with the list of processes (each writes XSMMWRAP_STATS_JSON=DIR/%%p.json)",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    p.set_defaults(func=_cmd_run)


def _path_or_none(get: Callable[[], Path]) -> str | None:
    try:
        return str(get())
    except FileNotFoundError:
        return None


def info() -> dict[str, Any]:
    """What ``xsmmwrap info`` prints, as a dictionary."""
    from . import __version__, _lib, config, include_path, library_path, static_library_path

    binding = _lib.binding()
    cfg = config()
    return {
        "version": __version__,
        "library_path": _path_or_none(library_path),
        "static_library_path": _path_or_none(static_library_path),
        "include_path": _path_or_none(include_path),
        "preloaded": binding.preloaded,
        "loaded_from": None if binding.path is None else str(binding.path),
        "cpu_target": cfg.cpu_target,
        "target": cfg.target,
        "config": dataclasses.asdict(cfg),
    }


def _cmd_info(args: argparse.Namespace) -> int:
    try:
        data = info()
    except (FileNotFoundError, OSError) as err:
        print(f"xsmmwrap info: cannot load the library: {err}", file=sys.stderr)
        return 1
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _configure_info(p: argparse.ArgumentParser) -> None:
    p.set_defaults(func=_cmd_info)


def _configure_bench(p: argparse.ArgumentParser) -> Any:
    p.description = "Benchmarks that print figures (see docs/BENCHMARKS.md)."
    return p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)


#: Every subcommand, the one place that lists them: its words, its help line, and the function
#: that adds its arguments and sets ``func`` (which takes the parsed arguments and returns the
#: exit status), as ``module:function`` in this package. A command with subcommands (bench)
#: is configured always, and its function returns their subparsers; any other command's module
#: is imported only when that command runs (or for the whole parser, ``build_parser()``).
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("run", "run a command with libxsmmwrap preloaded", "cli:_configure_run"),
    ("info", "print version, paths and configuration as JSON", "cli:_configure_info"),
    ("bench", "run a benchmark and print its figures", "cli:_configure_bench"),
    ("bench kernels", "kernel benchmark: ours vs OpenBLAS vs LIBXSMM per shape, dispatch, memory",
     "tools.bench_kernels:configure"),
    ("bench enable", "numpy matmul stacks and scipy dgemm: plain vs enable() vs LD_PRELOAD",
     "tools.bench_enable:configure"),
    ("bench workloads", "the sample workloads plain, with xsmmwrap and with LIBXSMM's call "
     "wrapper", "tools.bench_workloads:configure"),
    ("bench dispatch", "cost of an empty call, of finding a kernel (cached or not), of "
     "generating one", "tools.bench:configure_dispatch"),
    ("bench smm", "SMM streaming cases: original BLAS vs the wrapper (GFLOP/s, GB/s, "
     "FLOPS/cycle)", "tools.bench:configure_smm"),
    ("dgemm-test", "run dgemm-test plain, with ld --wrap, preloaded and with LIBXSMM's wrapper",
     "tools.dgemm_test:configure"),
    ("plot", "chart benchmark results (bench smm/dispatch, dgemm-test --json) with matplotlib",
     "tools.plot:configure"),
    ("lapack-test", "run LAPACK's test programs plain and with the wrapper; compare pass/fail "
     "counts", "tools.lapack_test:configure"),
    ("tune", "measure kernels, plans and the original BLAS on this machine; write a tuning "
     "file", "tools.tune:configure"),
)  # fmt: skip


def _function(where: str) -> Callable[[argparse.ArgumentParser], Any]:
    """The function ``module:function`` of :data:`COMMANDS` (importing its module)."""
    module, name = where.split(":")
    found: Callable[[argparse.ArgumentParser], Any] = getattr(
        importlib.import_module(f"{__package__}.{module}"), name
    )
    return found


def _chosen(argv: Sequence[str]) -> tuple[str, ...]:
    """The words of the command ``argv`` runs, as far as :data:`COMMANDS` knows them."""
    known = {tuple(words.split()) for words, _, _ in COMMANDS}
    path: tuple[str, ...] = ()
    for arg in argv:
        if arg.startswith("-"):
            continue  # -h, --help: the only options before a command's own
        if path + (arg,) not in known:
            break
        path += (arg,)
        if not any(w[: len(path)] == path and len(w) > len(path) for w in known):
            break  # a command without subcommands: the rest is its arguments
    return path


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser. Every subcommand of :data:`COMMANDS` is listed; with ``argv``, only
    the one it runs gets its arguments (its module imported), without it all of them do."""
    parser = argparse.ArgumentParser(
        prog="xsmmwrap", description="BLAS GEMM call wrapper: run programs with it, inspect it."
    )
    chosen = None if argv is None else _chosen(argv)
    groups: dict[tuple[str, ...], Any] = {
        (): parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    }
    for words, help_line, where in COMMANDS:
        path = tuple(words.split())
        p = groups[path[:-1]].add_parser(path[-1], help=help_line)
        if any(w.startswith(words + " ") for w, _, _ in COMMANDS):
            groups[path] = _function(where)(p)
        elif chosen is None or chosen == path:
            _function(where)(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xsmmwrap`` command; returns the exit status."""
    args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    try:
        status: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `xsmmwrap info | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
