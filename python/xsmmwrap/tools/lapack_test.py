"""``xsmmwrap lapack-test``: LAPACK's own test programs, plain and with the wrapper preloaded.

LAPACK's test programs (Debian's ``liblapack-test``: ``xlintstd``, ``xeigtstz``... in
``/usr/lib/<multiarch>/lapack`` with their inputs ``dtest.in``, ``ded.in``...) are linked
against ``libblas.so.3`` and ``liblapack.so.3``, which Debian's alternatives point at OpenBLAS
when it is installed. Each program reads its input on stdin and ends each test path with a
summary line, e.g. ``DEV:    4 out of  1096 tests failed to pass the threshold`` or ``All tests
for DEV passed the threshold (  1092 tests run)``. A generated kernel must give an element the
same value whatever the call's shape (issue 12), so every program must pass and fail exactly
the same tests with the wrapper as without it, except where the original BLAS fails that very
check (:data:`PLAIN_MAY_FAIL`): there the wrapped runs must pass every test.

Every case of :data:`CASES` runs in a scratch directory once per configuration:

plain
    no wrapper (any libxsmmwrap taken out of ``LD_PRELOAD``);
wrapped
    libxsmmwrap preloaded (the package's, or ``$XSMMWRAP_LIBRARY``, as ``xsmmwrap run``),
    the environment's settings (by default, kernels for M*N*K <= 64**3);
kernels
    preloaded with ``XSMMWRAP_MAX_MNK=1000000000``: every GEMM call on a kernel.

``--target T`` (repeatable) runs the two wrapped configurations with ``XSMMWRAP_TARGET=T``.
Every run gets ``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` of ``--threads`` (1), and
otherwise the caller's environment, ``OPENBLAS_CORETYPE`` included. A case is ok when each
run exits with status 0, prints ``End of tests`` and at least one summary, every wrapped run's
statistics (``XSMMWRAP_STATS_JSON``) show GEMM calls on the kernel path where the case makes
any, and each wrapped run has the plain run's paths with the same numbers of tests and
failures, and as many lines reporting other errors (error exits, illegal values, error codes).
A crash, a timeout or an output without summary is a failure, never a pass.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import _lib, merge
from . import samples
from ._console import Progress, fmt_count, format_table
from .samples import SampleError

__all__ = [
    "CASES",
    "KERNELS_ONLY_MNK",
    "Case",
    "Config",
    "Output",
    "Run",
    "configure",
    "compare",
    "configs",
    "find_directory",
    "format_report",
    "parse_output",
    "run",
    "run_case",
    "select",
]


@dataclass(frozen=True)
class Case:
    """One test program with one input file."""

    program: str
    input: str
    covers: str
    quick: bool  #: in ``--quick`` (and in tests/test_lapack.py)
    gemm: bool  #: makes GEMM calls through ?gemm_: wrapped runs must serve some
    #: paths whose plain run may fail tests that the wrapped runs then pass (:data:`PLAIN_MAY_FAIL`)
    plain_may_fail: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``program:input``, what the command line selects a case by."""
        return f"{self.program}:{self.input}"


#: The cases: ``{p}`` is d, s, z or c (a row without it is one case); quick: the precisions
#: whose case is in ``--quick``; GEMM: the case calls ?gemm_ (wrapped runs must serve some).
#: A plain run takes (2-core Xeon, one thread): svd 1.9-2.9 s, xlintst 1.5 s, dec 1.3 s, ded
#: sed sep se2 dsg 0.2-0.4 s, others less; complex programs about twice as long.
_TABLE: tuple[tuple[str, str, str, bool, str], ...] = (
    # program        input             quick   GEMM   what it tests
    ("xlintst{p}",   "{p}test.in",     "ds",   True,  "linear equations and least squares"),
    ("xlintstrf{p}", "{p}test_rfp.in", "",     True,  "linear equations, RFP format"),
    ("xlintstds",    "dstest.in",      "",     True,  "mixed-precision linear equations"),
    ("xlintstzc",    "zctest.in",      "",     True,  "mixed-precision linear equations"),
    ("xeigtst{p}",   "nep.in",         "",     True,  "nonsymmetric eigenvalue routines"),
    ("xeigtst{p}",   "sep.in",         "",     True,  "symmetric eigenvalue routines"),
    ("xeigtst{p}",   "se2.in",         "",     True,  "symmetric eigenvalue, 2-stage"),
    ("xeigtst{p}",   "svd.in",         "",     True,  "singular value decomposition"),
    ("xeigtst{p}",   "{p}ec.in",       "",     True,  "eigen-condition routines"),
    ("xeigtst{p}",   "{p}ed.in",       "dsz",  True,  "nonsymmetric eigenvalue drivers (geev...)"),
    ("xeigtst{p}",   "{p}gg.in",       "",     True,  "generalized nonsymmetric eigenvalue"),
    ("xeigtst{p}",   "{p}gd.in",       "ds",   True,  "generalized eigenvalue drivers (ggev...)"),
    ("xeigtst{p}",   "{p}sb.in",       "",     True,  "symmetric band reduction"),
    ("xeigtst{p}",   "{p}sg.in",       "",     True,  "generalized symmetric eigenvalue"),
    ("xeigtst{p}",   "{p}bb.in",       "",     False, "banded singular value reduction"),
    ("xeigtst{p}",   "glm.in",         "ds",   False, "generalized linear regression model"),
    ("xeigtst{p}",   "gqr.in",         "ds",   True,  "generalized QR and RQ factorizations"),
    ("xeigtst{p}",   "gsv.in",         "ds",   True,  "generalized singular value decomposition"),
    ("xeigtst{p}",   "csd.in",         "ds",   True,  "CS decomposition"),
    ("xeigtst{p}",   "lse.in",         "ds",   True,  "constrained linear least squares"),
    ("xeigtst{p}",   "{p}bal.in",      "",     False, "balancing (no threshold)"),
    ("xeigtst{p}",   "{p}bak.in",      "",     False, "back transformation"),
    ("xeigtst{p}",   "{p}gbal.in",     "",     False, "generalized balancing"),
    ("xeigtst{p}",   "{p}gbak.in",     "",     True,  "generalized back transformation"),
)  # fmt: skip

#: Paths in which the plain run may fail tests that every wrapped run passes, by case. OpenBLAS
#: 0.3.21's zgemm and cgemm (its SkylakeX and Haswell kernels) give an element a value that
#: depends on the call's shape, and test 5 of ZDRVEV and ZDRGEV (the same eigenvalues whether
#: eigenvectors are computed or not) catches it: ``xeigtstz < zed.in`` fails 12 of 1104 ZEV tests
#: plain on the Xeon here (4 with OPENBLAS_CORETYPE=Haswell; none with Sandybridge's kernels or
#: the reference BLAS), every wrapped run none. A failed test adds tests, so the counts of tests
#: may differ too. With OpenBLAS's Haswell kernels (what an AVX2-only CPU gets; here through
#: tools/as_avx2_only.sh) ``xeigtsts < nep.in`` fails 2 of 1764 SHS tests plain: the inverse
#: iteration residuals (tests 11 and 13) of one matrix (order 10, type 12) at 24.9 and 25.5
#: against a threshold of 20; none with the reference BLAS or wrapped. In such a path a wrapped
#: run must fail no test at all.
PLAIN_MAY_FAIL: dict[str, tuple[str, ...]] = {
    "xeigtstz:zed.in": ("ZEV",),
    "xeigtstz:zgd.in": ("ZGV drivers",),
    "xeigtstc:ced.in": ("CEV",),
    "xeigtstc:cgd.in": ("CGV drivers",),
    "xeigtsts:nep.in": ("SHS",),
}

#: Every case: real double, single, then complex double, single (zgemm_, cgemm_).
CASES: tuple[Case, ...] = tuple(
    dict.fromkeys(
        Case(
            program.format(p=p),
            inp.format(p=p),
            covers,
            p in quick,
            gemm,
            PLAIN_MAY_FAIL.get(f"{program.format(p=p)}:{inp.format(p=p)}", ()),
        )
        for p in "dszc"
        for program, inp, quick, gemm, covers in _TABLE
        if "{p}" in program or program.endswith(("ds", "zc")[p in "zc"])
    )
)

#: XSMMWRAP_MAX_MNK of the ``kernels`` configuration: every GEMM call on a kernel; and a
#: registry large enough for every shape (xlintstd's GEMV and GEMM calls make ~26000 kernels).
KERNELS_ONLY_MNK = "1000000000"
KERNELS_ONLY_REGISTRY = "1000000"
#: The line every LAPACK test program prints last.
_END = "End of tests"


@dataclass(frozen=True)
class Config:
    """One way of running the cases: plain, or preloaded with these settings."""

    name: str
    preload: bool
    env: Mapping[str, str] = field(default_factory=dict)


def configs(targets: Sequence[str] = ()) -> list[Config]:
    """``plain``, then ``wrapped`` and ``kernels`` once per target (``wrapped@avx2``...), or
    once with the environment's target when ``targets`` is empty."""
    out = [Config("plain", False)]
    for target in targets or [""]:
        forced = {"XSMMWRAP_TARGET": target} if target else {}
        suffix = f"@{target}" if target else ""
        out.append(Config("wrapped" + suffix, True, forced))
        out.append(
            Config(
                "kernels" + suffix,
                True,
                {
                    **forced,
                    "XSMMWRAP_MAX_MNK": KERNELS_ONLY_MNK,
                    "XSMMWRAP_MAX_KERNELS": KERNELS_ONLY_REGISTRY,
                },
            )
        )
    return out


def select(names: Sequence[str] = (), *, quick: bool = False) -> list[Case]:
    """The cases named (``ded``, ``ded.in``, ``xeigtstd:ded.in``; ``nep`` selects both
    precisions'), or every case (``quick``: those of the fast subset).

    Raises
    ------
    ValueError
        When a name matches no case.
    """
    chosen = [c for c in CASES if c.quick or not quick]
    if not names:
        return chosen
    picked: list[Case] = []
    for name in names:
        program, _, inp = name.rpartition(":")
        inp = inp if inp.endswith(".in") else inp + ".in"
        found = [c for c in chosen if c.input == inp and program in ("", c.program)]
        if not found:
            raise ValueError(f"no LAPACK test case {name!r} (inputs: {_inputs(chosen)})")
        picked += [c for c in found if c not in picked]
    return picked


def _inputs(cases: Sequence[Case]) -> str:
    return " ".join(dict.fromkeys(c.input.removesuffix(".in") for c in cases))


def find_directory(directory: str | os.PathLike[str] | None = None) -> Path:
    """Where the test programs and their inputs are: ``directory``, else Debian's
    ``/usr/lib/<multiarch>/lapack``.

    Raises
    ------
    SampleError
        When there is no such directory.
    """
    if directory is not None:
        found = Path(directory).expanduser().resolve()
    else:
        arch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
        found = Path("/usr/lib") / str(arch) / "lapack"
    if not found.is_dir():
        raise SampleError(
            f"{found}: no LAPACK test programs (install Debian's liblapack-test: tools/setup.sh "
            "does; or give --dir)"
        )
    return found


# --------------------------------------------------------------------------- the output

#: ``All tests for DEV passed the threshold (  1092 tests run)``; also ``for DGE drivers  passed
#: the threshold``, ``for the RFP conversion routines passed (``, and without a count (DGEEQU).
_PASS = re.compile(
    r"All tests for (?P<label>.+?)\s+passed(?:\s+the\s+threshold)?"
    r"(?:\s*\(\s*(?P<tests>\d+)\s+tests run\))?\s*$"
)
#: ``DEV:    4 out of  1096 tests failed to pass the threshold`` (also ``DGE drivers:``,
#: ``STFSM auxiliary routine:``).
_FAIL = re.compile(
    r"^\s*(?P<label>\S.*?)\s*:\s*(?P<failed>\d+)\s+out of\s+(?P<tests>\d+)\s+"
    r"tests failed to pass the threshold\s*$"
)
#: The balancing programs (``dbal.in``...) print values, not a summary line.
_BAL_HEAD = re.compile(r"\.\. test output of (?P<label>\S+) \.\.")
_BAL_TESTS = re.compile(r"^\s*total number of examples tested\s*=\s*(?P<n>\d+)\s*$")
_BAL_FAILED = re.compile(r"^\s*number of examples where info is not 0\s*=\s*(?P<n>\d+)\s*$")
_BAL_WHERE = re.compile(r"^\s*example number where (?P<what>.+?)\s*=\s*(?P<n>\d+)\s*$")
_BAL_VALUES = re.compile(r"^\s*(value of largest test error|example number having largest)")
#: A line that reports trouble outside the summaries: a failed error-exit test, an error code
#: (ALAERH: ``*** ... INFO``), an illegal value seen by XERBLA, DCHKEC's ``Error in``, a count
#: too wide for its format (``****``).
_TROUBLE = re.compile(r"(?i:fail|error|illegal|xerbla|not detected)|\bINFO\b|\*\*\*")
#: Not trouble: a passed error-exit test, a line of the legend of test ratios printed above
#: failures (``5: norm( X - XACT ) / ( norm(XACT) * (error bound) )``).
_BENIGN = re.compile(r"passed the tests of the error exits|^\s*\d+\s*[:=]\s")


@dataclass
class Counts:
    """The numbers of one test path (``DEV``) in one output, summed over its summaries."""

    tests: int = 0
    failed: int = 0


@dataclass
class Output:
    """What one run of a test program printed, as numbers."""

    paths: dict[str, Counts] = field(default_factory=dict)
    #: lines that report trouble outside the summaries (and summary-like lines not understood)
    trouble: list[str] = field(default_factory=list)
    complete: bool = False  #: ``End of tests`` was printed

    def add(self, label: str, tests: int, failed: int) -> None:
        """Count ``tests`` and ``failed`` for the path ``label`` (normalised)."""
        path = self.paths.setdefault(_label(label), Counts())
        path.tests += tests
        path.failed += failed


def _label(text: str) -> str:
    """The path a summary names, the same in its passing and its failing form: ``DGE
    routines`` and ``DGE`` are ``DGE``, ``the RFP conversion routines`` is ``RFP conversion``."""
    words = text.split()
    if words[:1] == ["the"]:
        words = words[1:]
    if words[-1:] in (["routines"], ["routine"]):
        words = words[:-1]
    return " ".join(words)


def parse_output(text: str) -> Output:
    """The summaries of a LAPACK test program's output (:class:`Output`)."""
    out = Output()
    balancing: str | None = None
    bal_failed = 0
    for line in text.splitlines():
        if _END in line:
            out.complete = True
        elif m := _PASS.search(line):
            out.add(m["label"], int(m["tests"] or 0), 0)
        elif m := _FAIL.match(line):
            out.add(m["label"], int(m["tests"]), int(m["failed"]))
        elif m := _BAL_HEAD.search(line):
            balancing, bal_failed = m["label"], 0
        elif balancing and (m := _BAL_FAILED.match(line)):
            bal_failed = int(m["n"])
        elif balancing and (m := _BAL_TESTS.match(line)):
            out.add(balancing, int(m["n"]), bal_failed)
            balancing = None
        elif balancing and (m := _BAL_WHERE.match(line)):
            if int(m["n"]):
                out.trouble.append(line.strip())
        elif balancing and _BAL_VALUES.match(line):
            pass
        elif "All tests for" in line or "out of" in line or _TROUBLE.search(line):
            if not _BENIGN.search(line):
                out.trouble.append(line.strip())
    return out


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """One run of one case in one configuration."""

    config: str
    time_s: float | None = None
    returncode: int | None = None
    output: Output = field(default_factory=Output)
    kernel_calls: int | None = None  #: GEMM calls on the kernel path (wrapped runs)
    scale_calls: int | None = None  #: GEMM calls with nothing to multiply (route "scale")
    #: GEMV calls with a negative increment, which the wrapper passes on (route "unsupported")
    unsupported_calls: int | None = None
    intercepted: int | None = None
    target: str | None = None  #: the wrapper's target in this run
    error: str | None = None  #: why this run cannot be compared (crash, timeout...)


def _status_text(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _env(config: Config, library: Path, stats_dir: Path, threads: int) -> dict[str, str]:
    extra = {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    if config.preload:
        extra |= {"XSMMWRAP_STATS_JSON": str(stats_dir / "%p.json"), **config.env}
    return samples.sample_env(
        preload=library if config.preload else None, keep_openblas_env=True, extra=extra
    )


def run_case(
    directory: Path,
    case: Case,
    config: Config,
    library: Path,
    *,
    threads: int = 1,
    timeout: float = 600.0,
    save: Path | None = None,
) -> Run:
    """Run ``case`` once in ``config`` in a scratch directory; never raises for the program's
    failures (they are the :attr:`Run.error`)."""
    result = Run(config.name)
    program, inp = directory / case.program, directory / case.input
    with tempfile.TemporaryDirectory(prefix="xsmmwrap-lapack-") as scratch:
        tmp = Path(scratch)
        (tmp / "stats").mkdir()
        out_file, err_file = tmp / "stdout", tmp / "stderr"
        env = _env(config, library, tmp / "stats", threads)
        start = time.monotonic()
        try:
            with open(inp, "rb") as stdin, open(out_file, "wb") as out, open(err_file, "wb") as err:
                child = subprocess.Popen(
                    [str(program)], stdin=stdin, stdout=out, stderr=err, cwd=tmp, env=env,
                    start_new_session=True,
                )  # fmt: skip
                try:
                    result.returncode = child.wait(timeout=timeout)
                except BaseException:  # the timeout, or ^C: end the program and its children
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                    raise
        except subprocess.TimeoutExpired:
            result.error = f"timed out after {timeout:g} s"
        except OSError as err:
            result.error = f"cannot run {program.name} < {inp.name}: {err}"
            return result
        result.time_s = time.monotonic() - start
        text = out_file.read_text(encoding="utf-8", errors="replace")
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{case.program}_{Path(case.input).stem}_{config.name}.out").write_text(text)
        result.output = parse_output(text)
        if config.preload:  # a process that made no GEMM call writes no statistics
            stats = merge.merge_files(sorted((tmp / "stats").glob("*.json")))
            result.intercepted = int(stats["intercepted"])
            routes = stats["routes"]
            result.kernel_calls = int(routes.get("jit", 0)) + int(routes.get("portable", 0))
            result.scale_calls = int(routes.get("scale", 0))
            result.unsupported_calls = int(routes.get("unsupported", 0))
            result.target = stats.get("target")
        if result.error is None:
            result.error = _run_error(result, err_file)
    return result


def _run_error(result: Run, err_file: Path) -> str | None:
    """Why a finished run cannot be compared, or None."""
    problems = []
    if result.returncode:
        last = err_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        problems.append(_status_text(result.returncode) + "".join(f": {t}" for t in last))
    if not result.output.complete:
        problems.append(f"output incomplete (no '{_END}')")
    if not result.output.paths:
        problems.append("no summary line in the output")
    return "; ".join(problems) or None


def plain_only_failures(case: Case, runs: Sequence[Run]) -> list[str]:
    """The paths of ``case.plain_may_fail`` in which the plain run (the first) failed tests and
    every other run none: the original BLAS's failures (:data:`PLAIN_MAY_FAIL`)."""
    found = []
    for label in case.plain_may_fail:
        a = runs[0].output.paths.get(label)
        others = [r.output.paths.get(label) for r in runs[1:]]
        if a and a.failed and all(b is not None and b.failed == 0 for b in others):
            found.append(label)
    return found


def compare(case: Case, runs: Sequence[Run]) -> list[str]:
    """Why ``runs`` (the plain one first) do not show the same passes and failures; empty
    when they do (or when, in a path of ``case.plain_may_fail``, a wrapped run fails none)."""
    problems = [f"{r.config}: {r.error}" for r in runs if r.error]
    plain = runs[0]
    for r in runs[1:]:
        if case.gemm and r.kernel_calls == 0:
            problems.append(f"{r.config}: no GEMM call on a kernel (the wrapper served none)")
        for label in dict.fromkeys([*plain.output.paths, *r.output.paths]):
            a, b = plain.output.paths.get(label), r.output.paths.get(label)
            if a is None or b is None:
                problems.append(f"{r.config}: {label} {'only plain' if b is None else 'not plain'}")
            elif label in case.plain_may_fail and b.failed == 0:
                continue  # the original BLAS's failures, if any (PLAIN_MAY_FAIL)
            elif (a.tests, a.failed) != (b.tests, b.failed):
                problems.append(
                    f"{r.config}: {label} {b.failed} of {b.tests} failed "
                    f"(plain: {a.failed} of {a.tests})"
                )
        if len(r.output.trouble) != len(plain.output.trouble):
            problems.append(
                f"{r.config}: {len(r.output.trouble)} lines report errors "
                f"(plain: {len(plain.output.trouble)})"
            )
    return problems


def linked_libraries(program: Path) -> dict[str, str]:
    """The BLAS and LAPACK ``program`` loads (``ldd``; symbolic links resolved), by soname."""
    try:
        text = subprocess.run(
            ["ldd", str(program)], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found = {}
    for m in re.finditer(r"^\s*(lib(?:blas|lapack)\S*)\s+=>\s+(\S+)", text, re.M):
        found[m[1]] = os.path.realpath(m[2])
    return found


def run(
    cases: Sequence[Case],
    *,
    targets: Sequence[str] = (),
    directory: str | os.PathLike[str] | None = None,
    threads: int = 1,
    timeout: float = 600.0,
    save: Path | None = None,
) -> dict[str, Any]:
    """Run ``cases`` in every configuration of :func:`configs`; return the results.

    Raises
    ------
    SampleError
        When the programs, their inputs or libxsmmwrap are not found.
    """
    where = find_directory(directory)
    for case in cases:
        for name in (case.program, case.input):
            if not (where / name).is_file():
                raise SampleError(f"{where / name} not found (is liblapack-test installed?)")
    try:
        library = _lib.library_path()
    except FileNotFoundError as err:
        raise SampleError(f"libxsmmwrap.so not found: {err}") from None
    chosen = configs(targets)
    progress = Progress("xsmmwrap lapack-test")
    results = []
    for i, case in enumerate(cases):
        runs = []
        for config in chosen:
            progress.step(f"{case.program} < {case.input} {config.name} ({i + 1}/{len(cases)})")
            runs.append(
                run_case(where, case, config, library, threads=threads, timeout=timeout, save=save)
            )
        problems = compare(case, runs)
        results.append(
            {
                "program": case.program,
                "input": case.input,
                "covers": case.covers,
                "gemm": case.gemm,
                "runs": {r.config: _run_dict(r) for r in runs},
                "plain_only_failures": plain_only_failures(case, runs),
                "problems": problems,
                "ok": not problems,
            }
        )
    progress.done()
    first = where / cases[0].program if cases else None
    return {
        "kind": "lapack-test",
        "directory": str(where),
        "library": str(library),
        "linked": linked_libraries(first) if first else {},
        "threads": threads,
        "environment": {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("XSMMWRAP_", "LIBXSMM_")) and k not in _SET_PER_RUN
        },
        "configs": [
            asdict(c) | {"env": dict(c.env), "targets": _targets(c, results)} for c in chosen
        ],
        "cases": results,
        "ok": all(r["ok"] for r in results),
    }


#: Set or replaced for each run, so not the caller's settings.
_SET_PER_RUN = (
    "XSMMWRAP_LIBRARY",
    "XSMMWRAP_STATS_JSON",
    "XSMMWRAP_MAX_MNK",
    "XSMMWRAP_MAX_KERNELS",
    "XSMMWRAP_TARGET",
)


def _targets(config: Config, results: Sequence[dict[str, Any]]) -> list[str]:
    """The targets the wrapper ran at in ``config`` (from its statistics)."""
    seen = (r["runs"][config.name]["target"] for r in results)
    return sorted({t for t in seen if t})


def _run_dict(r: Run) -> dict[str, Any]:
    out = asdict(r)
    out["output"] = {
        "paths": {k: asdict(v) for k, v in r.output.paths.items()},
        "trouble": r.output.trouble,
        "complete": r.output.complete,
    }
    return out


# --------------------------------------------------------------------------- the report


def _joined(values: Sequence[Any]) -> str:
    """One value when all are equal, else all of them: ``1092/1096/1096``."""
    shown = ["-" if v is None else str(v) for v in values]
    return shown[0] if len(set(shown)) == 1 else "/".join(shown)


def format_report(data: dict[str, Any]) -> str:
    """The table of one :func:`run` result: a row per test path."""
    names = [c["name"] for c in data["configs"]]
    lines = [
        f"LAPACK test programs: {data['directory']} (threads: {data['threads']})",
        *(f"  {so} -> {path}" for so, path in data.get("linked", {}).items()),
        f"libxsmmwrap: {data['library']}",
        *(f"  {k}={v} (from the environment)" for k, v in data["environment"].items()),
        *(f"  {_config_text(c)}" for c in data["configs"]),
    ]
    rows = []
    for case in data["cases"]:
        runs = [case["runs"][n] for n in names]
        labels = dict.fromkeys(lb for r in runs for lb in r["output"]["paths"])
        times = "/".join("-" if r["time_s"] is None else f"{r['time_s']:.2f}" for r in runs)
        calls = "/".join(fmt_count(r["kernel_calls"]) for r in runs[1:])
        first = [case["program"], case["input"], times, calls]
        troubled = any(r["output"]["trouble"] for r in runs)
        for j, label in enumerate([*labels, *(["(error lines)"] if troubled else [])]):
            if label == "(error lines)":
                tests: list[int | None] = [None]
                failed: list[int | None] = [len(r["output"]["trouble"]) for r in runs]
            else:
                got = [r["output"]["paths"].get(label) for r in runs]
                tests = [None if g is None else g["tests"] for g in got]
                failed = [None if g is None else g["failed"] for g in got]
            same = len({str(f) for f in failed}) == 1 and len({str(t) for t in tests}) == 1
            plain_only = label in case.get("plain_only_failures", ())
            rows.append(
                [
                    *(first[:2] if j == 0 else ["", ""]),
                    label,
                    _joined(tests),
                    *("-" if f is None else str(f) for f in failed),
                    "ok" if same else "ok*" if plain_only else "DIFFERS",
                    *(first[2:] if j == 0 else ["", ""]),
                ]
            )
        if not labels:
            rows.append([*first[:2], "(none)", "-", *("-" for _ in runs), "FAILED", *first[2:]])
    header = ["program", "input", "path", "tests", *names, "check", "time s", "kernel calls"]
    table = format_table(header, rows, left=3)
    if any(c.get("plain_only_failures") for c in data["cases"]):
        table += (
            "ok*: the plain run fails tests that every wrapped run passes: the original BLAS's "
            "own failures, known by path (PLAIN_MAY_FAIL)\n"
        )
    problems = [f"{c['program']} < {c['input']}: {p}" for c in data["cases"] for p in c["problems"]]
    fewer = any(c.get("plain_only_failures") for c in data["cases"])
    verdict = (
        f"all {len(data['cases'])} cases: the same passes and failures in every run"
        + (" (but the ok* paths: fewer failures wrapped)\n" if fewer else "\n")
        if data["ok"]
        else f"{sum(not c['ok'] for c in data['cases'])} of {len(data['cases'])} cases differ "
        "or failed:\n" + "".join(f"  {p}\n" for p in problems)
    )
    return "\n".join(lines) + "\n" + table + verdict


def _config_text(config: dict[str, Any]) -> str:
    if not config["preload"]:
        return f"{config['name']}: no wrapper"
    settings = "".join(f" {k}={v}" for k, v in config["env"].items())
    ran = f" (target {', '.join(config['targets'])})" if config["targets"] else ""
    return f"{config['name']}: preloaded{settings}{ran}"


# --------------------------------------------------------------------------- the command


def main(args: argparse.Namespace) -> int:
    """``xsmmwrap lapack-test``."""
    try:
        cases = select(args.cases, quick=args.quick)
    except ValueError as err:
        print(f"xsmmwrap lapack-test: {err}", file=sys.stderr)
        return 2

    def produce() -> dict[str, Any]:
        return run(
            cases,
            targets=args.target or (),
            directory=args.dir,
            threads=args.threads,
            timeout=args.timeout,
            save=None if args.outputs is None else Path(args.outputs),
        )

    # The table on stdout; --json FILE is what the other commands call --save FILE.
    shown = argparse.Namespace(json=False, save=args.json)
    return samples.run_command("xsmmwrap lapack-test", produce, format_report, shown)


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap lapack-test`` (cli.py lists the command)."""
    p.description = (
        "Run LAPACK's test programs (Debian's liblapack-test) with their inputs plain, with "
        "libxsmmwrap preloaded, and preloaded with XSMMWRAP_MAX_MNK=1000000000 (every GEMM "
        "call on a kernel); print a row per test path with the tests run and failed in "
        "each run. Exit status 1 when a count differs, a run crashed, timed out or printed "
        "no summary, or a wrapped run served no GEMM call; 2 when the programs are missing."
    )
    p.add_argument(
        "cases",
        nargs="*",
        metavar="CASE",
        help="inputs to run (ded, ded.in, xeigtstd:ded.in; default: all of them, "
        f"real and complex, double and single): {_inputs(CASES)}",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"the fast subset the test suite runs: {_inputs(select(quick=True))}",
    )
    p.add_argument(
        "--target",
        action="append",
        metavar="T",
        help="run the wrapped configurations with XSMMWRAP_TARGET=T (avx512, avx2, generic); "
        "repeat for several",
    )
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--dir", metavar="DIR", help="the programs and inputs (default: Debian's)")
    p.add_argument(
        "--threads", type=int, default=1, help="OPENBLAS_NUM_THREADS of every run (default 1)"
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="seconds a run may take (default 600)"
    )
    p.add_argument("--outputs", metavar="DIR", help="keep every run's output in DIR")
    p.set_defaults(func=main)
