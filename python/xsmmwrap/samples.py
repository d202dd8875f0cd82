"""What the sample drivers share: finding the sample programs, their environment, running them.

The sample programs (``examples/*.c``, ``examples/*.f90``) are installed into the package's
``bin`` directory; in a build tree configured with ``-Dexamples=true`` they are in
``$XSMMWRAP_BUILD_DIR/examples``. :func:`find_program` looks in that order. The library a
program is run with is the one that belongs to it: ``$XSMMWRAP_LIBRARY`` when set, else
``libxsmmwrap.so`` of the same build tree, else the package's own.

Benchmarks run with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from their
environment (only theirs): some machines set them to work around old OpenBLAS builds, and they
make a current OpenBLAS much slower, which would flatter the wrapper. ``keep_openblas_env``
keeps them (the tests do).

:func:`register` adds the sample subcommands to the ``xsmmwrap`` command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from . import _lib

__all__ = [
    "BUILD_DIR_ENV",
    "OPENBLAS_ENV",
    "Progress",
    "SampleError",
    "find_program",
    "kernel_path_calls",
    "kernel_path_share",
    "run_command",
    "format_table",
    "library_for",
    "register",
    "run_json",
    "sample_env",
]

BUILD_DIR_ENV = "XSMMWRAP_BUILD_DIR"
#: Removed from a benchmark's environment unless asked to keep them.
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class SampleError(RuntimeError):
    """A sample program is missing, failed, or printed something unexpected."""


def _candidates(name: str) -> list[Path]:
    found: list[Path] = []
    try:
        found.append(_lib.package_file("bin", name))
    except FileNotFoundError:
        pass
    build = os.environ.get(BUILD_DIR_ENV)
    if build:
        found.append(Path(build).expanduser().resolve() / "examples" / name)
    return found


def find_program(name: str) -> Path:
    """A sample executable: the package's ``bin`` directory, then ``$XSMMWRAP_BUILD_DIR``.

    Raises
    ------
    SampleError
        When neither has it.
    """
    for path in _candidates(name):
        if path.is_file() and os.access(path, os.X_OK):
            return path
    where = [str(Path(__file__).resolve().parent / "bin")]
    if os.environ.get(BUILD_DIR_ENV):
        where.append(f"${BUILD_DIR_ENV}/examples")
    raise SampleError(
        f"{name} not found in {' nor '.join(where)}: install the package with the examples "
        f"built (-Dexamples=true), or set {BUILD_DIR_ENV} to a Meson build directory "
        "configured with -Dexamples=true"
    )


def library_for(program: Path) -> Path:
    """The ``libxsmmwrap.so`` to preload into ``program``.

    ``$XSMMWRAP_LIBRARY`` when set; else the one of the build tree the program comes from
    (``<build>/examples/prog`` -> ``<build>/libxsmmwrap.so``); else the package's.
    """
    if os.environ.get(_lib.LIBRARY_ENV):
        return _lib.library_path()
    sibling = program.resolve().parent.parent / "libxsmmwrap.so"
    if program.resolve().parent.name == "examples" and sibling.is_file():
        return sibling
    try:
        return _lib.library_path()
    except FileNotFoundError as err:
        raise SampleError(f"libxsmmwrap.so not found: {err}") from None


def _without(preload: str, library: Path | None) -> str:
    """LD_PRELOAD without any libxsmmwrap entry (and without ``library``)."""
    entries = [e for e in preload.replace(" ", ":").split(":") if e]
    keep = [
        e
        for e in entries
        if not Path(e).name.startswith("libxsmmwrap") and (library is None or e != str(library))
    ]
    return ":".join(keep)


def sample_env(
    *,
    preload: Path | None = None,
    keep_openblas_env: bool = False,
    label: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one sample run.

    Parameters
    ----------
    preload : Path, optional
        Put this library first in ``LD_PRELOAD``; without it, libxsmmwrap is taken out of
        ``LD_PRELOAD`` so that the run is a plain one.
    keep_openblas_env : bool
        Keep ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (removed by default).
    label : str, optional
        Shown in the program's progress line (``SAMPLE_PROGRESS_LABEL``).
    extra : dict, optional
        More variables to set.
    """
    env = dict(os.environ)
    env.pop("XSMMWRAP_STATS_JSON", None)  # each run that wants it gets its own file
    if not keep_openblas_env:
        for name in OPENBLAS_ENV:
            env.pop(name, None)
    rest = _without(env.get("LD_PRELOAD", ""), preload)
    if preload is not None:
        env["LD_PRELOAD"] = ":".join(p for p in (str(preload), rest) if p)
    elif rest:
        env["LD_PRELOAD"] = rest
    else:
        env.pop("LD_PRELOAD", None)
    if label:
        env["SAMPLE_PROGRESS_LABEL"] = label
    env.update(extra or {})
    return env


def run_json(argv: Sequence[str | os.PathLike[str]], env: dict[str, str]) -> dict[str, Any]:
    """Run a sample program that prints one JSON object on stdout; return the object.

    stderr is not captured: progress lines reach the terminal.

    Raises
    ------
    SampleError
        When the program cannot start, exits non-zero or prints no JSON object.
    """
    args = [str(a) for a in argv]
    try:
        proc = subprocess.run(args, env=env, stdout=subprocess.PIPE, text=True, check=False)
    except OSError as err:
        raise SampleError(f"cannot run {args[0]}: {err}") from None
    name = Path(args[0]).name
    if proc.returncode != 0:
        raise SampleError(f"{name} exited with status {proc.returncode}")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise SampleError(f"{name} printed no valid JSON ({err}): {proc.stdout[:200]!r}") from None
    if not isinstance(data, dict):
        raise SampleError(f"{name} printed JSON that is not an object")
    return data


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain-text table: the first ``left`` columns left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)]) + "\n"


@dataclass
class Progress:
    """One status line on stderr for a multi-step driver: only on a terminal, after 2 s.

    The sample programs draw their own progress; this names the step between them.
    """

    title: str
    stream: TextIO = sys.stderr
    delay: float = 2.0

    def __post_init__(self) -> None:
        self._start = time.monotonic()
        self._shown = 0
        try:
            self._tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False

    def step(self, text: str) -> None:
        """Show ``title: text`` when the driver has run long enough."""
        if not self._tty or time.monotonic() - self._start < self.delay:
            return
        line = f"{self.title}: {text}"
        self.stream.write("\r" + line.ljust(self._shown))
        self.stream.flush()
        self._shown = len(line)

    def done(self) -> None:
        """Erase the status line."""
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0


def fmt_float(x: float | None, spec: str = ".2f", none: str = "-") -> str:
    """``format(x, spec)``, or ``none`` for a missing value."""
    return none if x is None else format(x, spec)


def fmt_count(x: float | None) -> str:
    """A count with k/M/G suffixes (``1.23M``)."""
    if x is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def add_keep_env_option(parser: Any) -> None:
    """The ``--keep-openblas-env`` flag every benchmark subcommand has."""
    parser.add_argument(
        "--keep-openblas-env",
        action="store_true",
        help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (by default removed for the runs: they "
        "slow a current OpenBLAS down)",
    )


def add_json_option(parser: Any) -> None:
    """``--json`` (the results as JSON on stdout, instead of the table) and ``--save FILE``."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the results as JSON instead of the table (input for `xsmmwrap plot`)",
    )
    parser.add_argument("--save", metavar="FILE", help="also write the results as JSON to FILE")


def kernel_path_calls(stats_file: Path) -> tuple[int, int]:
    """(calls on the kernel path, calls intercepted) from an ``XSMMWRAP_STATS_JSON`` file.

    Raises
    ------
    OSError, ValueError, KeyError, TypeError
        When the file is missing or is not the library's statistics.
    """
    data = json.loads(Path(stats_file).read_text(encoding="utf-8"))
    routes = data["routes"]
    return int(routes.get("jit", 0)) + int(routes.get("portable", 0)), int(data["intercepted"])


def kernel_path_share(stats_file: Path) -> float | None:
    """The share of a run's calls on the kernel path; None without (readable) statistics."""
    try:
        kernel, intercepted = kernel_path_calls(stats_file)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return kernel / intercepted if intercepted else None


def run_command(
    name: str,
    produce: Callable[[], dict[str, Any]],
    table: Callable[[dict[str, Any]], str],
    args: Any,
    *,
    missing_status: int = 2,
    ok: Callable[[dict[str, Any]], bool] = lambda data: bool(data["ok"]),
) -> int:
    """A sample subcommand's end: ``produce()`` the results, :func:`emit` them, return 0 when
    ``ok``, else 1; ``missing_status`` when a program is not found (:class:`SampleError`)."""
    try:
        data = produce()
    except SampleError as err:
        print(f"{name}: {err}", file=sys.stderr)
        return missing_status
    emit(data, table(data), args)
    return 0 if ok(data) else 1


def emit(data: dict[str, Any], table: str, args: Any) -> None:
    """Print ``table``, or the JSON document with ``--json``; write it to ``--save FILE``."""
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(table)
    if args.save:
        with open(args.save, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")


def register(subparsers: Any) -> None:
    """Add ``dgemm-test``, ``plot`` to the ``xsmmwrap`` subcommands."""
    from . import dgemm_test, plot

    dgemm_test.add_parser(subparsers)
    plot.add_parser(subparsers)
