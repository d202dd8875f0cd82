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
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import _lib

__all__ = [
    "BUILD_DIR_ENV",
    "OPENBLAS_ENV",
    "SampleError",
    "add_json_option",
    "add_keep_env_option",
    "emit",
    "cpu_name",
    "cpu_line",
    "find_file",
    "find_program",
    "kernel_path_calls",
    "kernel_path_share",
    "read_stats",
    "library_for",
    "run_command",
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


def cpu_name() -> str:
    """This machine's CPU as every benchmark figure names it: its model name, family and model
    number (Linux's ``/proc/cpuinfo``), else what the platform says."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine() or "unknown CPU"
    return (
        f"{fields['model name']} (family {fields.get('cpu family', '?')}, "
        f"model {fields.get('model', '?')})"
    )


def cpu_line(name: object, pinning: str, target: object, cpu_target: object) -> str:
    """The first line of a benchmark's table: the CPU (:func:`cpu_name` where the figures were
    taken), how the runs were pinned, and the target they used beside the one the CPU offers."""
    return f"CPU: {name}, {pinning}; xsmmwrap target {target} (the CPU offers {cpu_target})"


def find_file(name: str) -> Path | None:
    """A file installed beside the sample programs (as :func:`find_program` looks), or None."""
    return next((path for path in _candidates(name) if path.is_file()), None)


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


def read_stats(stats_file: Path) -> dict[str, Any] | None:
    """The document of an ``XSMMWRAP_STATS_JSON`` file; None when it is missing or not JSON."""
    try:
        doc = json.loads(Path(stats_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def kernel_path_calls(stats: dict[str, Any] | None) -> tuple[int, int]:
    """(calls on the kernel path, calls intercepted) from a run's statistics (:func:`read_stats`).

    Raises
    ------
    KeyError, TypeError
        When there are none or they are not the library's statistics.
    """
    if stats is None:
        raise KeyError("no statistics")
    routes = stats["routes"]
    return int(routes.get("jit", 0)) + int(routes.get("portable", 0)), int(stats["intercepted"])


def kernel_path_share(stats: dict[str, Any] | None) -> float | None:
    """The share of a run's calls on the kernel path; None without statistics."""
    try:
        kernel, intercepted = kernel_path_calls(stats)
    except (KeyError, TypeError, ValueError):
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
