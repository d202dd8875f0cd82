"""LAPACK's own test programs pass and fail the same tests with the wrapper as without (issue 12:
a generated kernel gives an element the same value whatever the call's shape; dgeev must return
the same eigenvalues with and without eigenvectors).

The suite runs ``xsmmwrap lapack-test --quick`` (the CLI from this checkout, the library of the
``cbuild`` fixture) once, at the CPU's best target and at AVX2, plain, preloaded, and preloaded
with every GEMM on a kernel, and checks each case of the subset. Then it checks that the
comparison can fail: a saved output with failures, and fake test programs that fail, crash,
hang or print nothing when preloaded, must each make the command exit 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import xsmmwrap
from conftest import ROOT, clean_env
from xsmmwrap.tools import lapack_test

QUICK = lapack_test.select(quick=True)
TARGETS = list(dict.fromkeys([xsmmwrap.config().cpu_target, "avx2"]))


def _env(libpath: Path, **extra: str) -> dict[str, str]:
    python_dir = str(ROOT / "python")
    return clean_env(
        XSMMWRAP_LIBRARY=str(libpath),
        PYTHONPATH=os.pathsep.join(filter(None, [python_dir, os.environ.get("PYTHONPATH")])),
        **extra,
    )


def _lapack_test(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsmmwrap", "lapack-test", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def quick(libpath: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The results of ``xsmmwrap lapack-test --quick`` at every target of TARGETS."""
    directory = lapack_test.find_directory()  # raises: tools/setup.sh installs liblapack-test
    tmp = tmp_path_factory.mktemp("lapack")
    targets = [arg for t in TARGETS for arg in ("--target", t)]
    args = ["--quick", *targets, "--json", str(tmp / "quick.json"), "--outputs", str(tmp)]
    r = _lapack_test(_env(libpath), *args)
    assert r.returncode in (0, 1), f"exit status {r.returncode}\n{r.stdout}\n{r.stderr}"
    data: dict[str, Any] = json.loads((tmp / "quick.json").read_text())
    data.update(returncode=r.returncode, stdout=r.stdout, outputs=tmp, directory=directory)
    return data


def _case(data: dict[str, Any], case: lapack_test.Case) -> dict[str, Any]:
    found = [c for c in data["cases"] if (c["program"], c["input"]) == (case.program, case.input)]
    assert len(found) == 1, f"{case.name} not run once"
    return found[0]


def test_the_quick_subset_covers_what_issue_12_asks() -> None:
    names = {c.name for c in QUICK}
    assert "xeigtstd:ded.in" in names  # what found the bug
    for program in ("xlintstd", "xlintsts", "xeigtstd", "xeigtsts"):
        assert any(c.program == program for c in QUICK), program
    for inp in ("dgd.in", "sgd.in", "lse.in", "glm.in"):  # generalized drivers, least squares
        assert any(c.input == inp for c in QUICK), inp
    assert "xeigtstz:zed.in" in names  # zgeev: complex GEMM keeps the contract too


def test_every_complex_program_is_a_case() -> None:
    """xlintstz/c, xlintstrfz/c, xlintstzc and xeigtstz/c with each input the real ones have."""
    programs = {c.program for c in lapack_test.CASES}
    assert {"xlintstz", "xlintstc", "xlintstrfz", "xlintstrfc", "xlintstzc"} <= programs
    for p in "zc":
        inputs = {c.input for c in lapack_test.CASES if c.program == f"xeigtst{p}"}
        real = {c.input.replace("d", p, 1) if c.input[0] == "d" else c.input
                for c in lapack_test.CASES if c.program == "xeigtstd"}
        assert inputs == real, (p, inputs ^ real)


@pytest.mark.parametrize("case", QUICK, ids=[c.name for c in QUICK])
def test_same_passes_and_failures_with_the_wrapper(
    quick: dict[str, Any], case: lapack_test.Case
) -> None:
    result = _case(quick, case)
    runs = result["runs"]
    assert list(runs) == [
        "plain",
        *(f"{kind}@{t}" for t in TARGETS for kind in ("wrapped", "kernels")),
    ]
    assert runs["plain"]["output"]["paths"], "the plain run printed no summary"
    assert result["ok"], f"{case.name}:\n" + "\n".join(result["problems"])


@pytest.mark.parametrize("case", [c for c in QUICK if c.gemm], ids=lambda c: c.name)
def test_the_wrapper_served_the_gemm_calls(quick: dict[str, Any], case: lapack_test.Case) -> None:
    runs = _case(quick, case)["runs"]
    for t in TARGETS:
        for kind in ("wrapped", "kernels"):
            run = runs[f"{kind}@{t}"]
            assert run["kernel_calls"] > 0, f"{kind}@{t}: no call on the kernel path"
            assert run["target"] == t, f"{kind}@{t} ran at {run['target']}"
        # Every call within the threshold: the kernel-only run serves them all (those with
        # nothing to multiply, alpha or K zero, by the route's C = beta*C), but for GEMV calls
        # with a negative increment, which go to the original (route unsupported).
        kernels = runs[f"kernels@{t}"]
        served = kernels["kernel_calls"] + kernels["scale_calls"]
        assert served + kernels["unsupported_calls"] == kernels["intercepted"]


def test_the_command_reports_what_it_found(quick: dict[str, Any]) -> None:
    assert quick["returncode"] == (0 if quick["ok"] else 1)
    assert quick["ok"] == all(c["ok"] for c in quick["cases"])
    table = quick["stdout"]
    for line in ("DEV", "DVX", "DGV drivers", "SEV", "DLS drivers", "SLS drivers", "LSE"):
        assert f"  {line} " in table, f"no row for {line}"
    assert (quick["outputs"] / "xeigtstd_ded_plain.out").read_text().count("End of tests") == 1


def test_portable_kernel_gives_the_same_counts(libpath: Path, tmp_path: Path) -> None:
    """XSMMWRAP_JIT=0: the portable kernel serves every call; ded.in passes as without."""
    save = tmp_path / "ded.json"
    r = _lapack_test(_env(libpath, XSMMWRAP_JIT="0"), "xeigtstd:ded.in", "--json", str(save))
    assert r.returncode == 0, r.stdout + r.stderr
    runs = json.loads(save.read_text())["cases"][0]["runs"]
    assert runs["kernels"]["kernel_calls"] > 0 and runs["kernels"]["target"] == "generic"


# ------------------------------------------------------------------ the comparison can fail

#: From ``xeigtstd < ded.in`` with the wrapper preloaded, before issue 12 was fixed (the
#: legend and the matrix list cut short).
DED_WRAPPED = """\
 Tests of the Nonsymmetric Eigenvalue Problem Driver
    DGEEV (eigenvalues and eigevectors)
 DGEEV passed the tests of the error exits (  7 tests done)

 DEV -- Real Eigenvalue-Eigenvector Decomposition Driver
 1 = | A VR - VR W | / ( n |A| ulp )
 5 = 0 if W same no matter if VR or VL computed, 1/ulp otherwise

 N=   20, IWK= 1, seed=1806,1737,2298,2165, type 10, test( 5)= 0.450E+16
 N=   20, IWK= 2, seed=1806,1737,2298,2165, type 10, test( 5)= 0.450E+16
 N=   20, IWK= 1, seed= 863,2912,3458, 529, type 19, test( 5)= 0.450E+16
 N=   20, IWK= 2, seed= 863,2912,3458, 529, type 19, test( 5)= 0.450E+16
 DEV:    4 out of  1096 tests failed to pass the threshold

 All tests for DES passed the threshold (  3822 tests run)

 End of tests
 Total time used =         0.38 seconds
"""
DED_PLAIN = """\
 DGEEV passed the tests of the error exits (  7 tests done)

 All tests for DEV passed the threshold (  1092 tests run)

 All tests for DES passed the threshold (  3822 tests run)

 End of tests
"""


def test_parser_reads_a_saved_failure() -> None:
    out = lapack_test.parse_output(DED_WRAPPED)
    assert out.complete and out.trouble == []
    assert {k: (v.tests, v.failed) for k, v in out.paths.items()} == {
        "DEV": (1096, 4),
        "DES": (3822, 0),
    }
    case = lapack_test.select(["xeigtstd:ded"])[0]
    runs = [lapack_test.Run("plain"), lapack_test.Run("wrapped", kernel_calls=10)]
    runs[0].output, runs[1].output = lapack_test.parse_output(DED_PLAIN), out
    assert lapack_test.compare(case, runs) == ["wrapped: DEV 4 of 1096 failed (plain: 0 of 1092)"]
    runs[1].output = lapack_test.parse_output(DED_PLAIN)
    assert lapack_test.compare(case, runs) == []
    runs[1].kernel_calls = 0  # equal, but the wrapper served nothing: not a pass
    assert lapack_test.compare(case, runs) != []


#: xeigtstz < zed.in plain with OpenBLAS 0.3.21 (SkylakeX kernels), cut short: its zgemm gives
#: shape-dependent results, which test 5 (eigenvalues with and without eigenvectors) catches.
ZED_PLAIN = """\
 N=   20, IWK= 1, seed= 421,2122, 191,1785, type 10, test( 5)= 0.450E+16
 ZEV:   12 out of  1104 tests failed to pass the threshold
 All tests for ZES passed the threshold (  3822 tests run)
 End of tests
"""
ZED_PASSED = """\
 All tests for ZEV passed the threshold (  1092 tests run)
 All tests for ZES passed the threshold (  3822 tests run)
 End of tests
"""


def test_plain_failures_the_wrapper_passes() -> None:
    """In a path of PLAIN_MAY_FAIL a wrapped run may pass tests the plain run fails, never fail
    one; anywhere else a difference is a difference."""
    case = lapack_test.select(["xeigtstz:zed"])[0]
    assert case.plain_may_fail == ("ZEV",)
    runs = [lapack_test.Run("plain"), lapack_test.Run("wrapped", kernel_calls=10)]
    runs[0].output = lapack_test.parse_output(ZED_PLAIN)
    runs[1].output = lapack_test.parse_output(ZED_PASSED)
    assert lapack_test.compare(case, runs) == []
    assert lapack_test.plain_only_failures(case, runs) == ["ZEV"]
    # The other way round (the wrapper fails, plain passes) is a difference.
    runs[0].output, runs[1].output = runs[1].output, runs[0].output
    assert lapack_test.compare(case, runs) == [
        "wrapped: ZEV 12 of 1104 failed (plain: 0 of 1092)"
    ]
    assert lapack_test.plain_only_failures(case, runs) == []
    # A path not listed: the same outputs differ.
    other = lapack_test.select(["xeigtstc:cgd"])[0]
    runs[0].output = lapack_test.parse_output(ZED_PLAIN)
    runs[1].output = lapack_test.parse_output(ZED_PASSED)
    assert lapack_test.compare(other, runs) == ["wrapped: ZEV 0 of 1092 failed (plain: 12 of 1104)"]


def test_parser_pairs_passing_and_failing_forms() -> None:
    """A path's summary reads differently when it fails: both forms count for one path."""
    passed = lapack_test.parse_output(
        " All tests for DGE routines passed the threshold (   3653 tests run)\n"
        " All tests for DGE drivers  passed the threshold (   5748 tests run)\n"
        " All tests for the RFP conversion routines passed (    72 tests run)\n"
        " All tests for DTFSM auxiliary routine passed the threshold (  7776 tests run)\n"
    )
    failed = lapack_test.parse_output(
        " DGE:     3 out of   3653 tests failed to pass the threshold\n"
        "        2 error messages recorded\n"
        " DGE drivers:      1 out of   5748 tests failed to pass the threshold\n"
        " RFP conversion routines:    1 out of   72 tests failed to pass the threshold\n"
        "  DTFSM auxiliary routine:     1 out of  7776 tests failed to pass the threshold\n"
    )
    assert list(passed.paths) == list(failed.paths)
    assert [p.failed for p in failed.paths.values()] == [3, 1, 1, 1]
    assert failed.trouble == ["2 error messages recorded"] and not failed.complete


def test_parser_reports_lines_it_does_not_understand() -> None:
    out = lapack_test.parse_output(
        " All tests for DSG passed the threshold (*****tests run)\n"
        " *** DGETRF failed the tests of the error exits ***\n"
        " Error in DLALN2: RMAX =   0.123D+02\n"
        " *** XERBLA was called from DGEMM with INFO =      3 instead of  2 ***\n"
        "  5: norm( X - XACT )   / ( norm(XACT) * (error bound) )\n"
        " DGEEV passed the tests of the error exits (  7 tests done)\n"
    )
    assert out.paths == {}
    assert len(out.trouble) == 4  # not the legend line, not the passed error exits


def test_parser_reads_the_balancing_programs() -> None:
    out = lapack_test.parse_output(
        " .. test output of DGEBAL .. \n"
        " value of largest test error            =    0.000D+00\n"
        " example number where info is not zero  =    0\n"
        " example number where ILO or IHI wrong  =    3\n"
        " example number having largest error    =    0\n"
        " number of examples where info is not 0 =    2\n"
        " total number of examples tested        =   13\n"
        "\n End of tests\n"
    )
    assert (out.paths["DGEBAL"].tests, out.paths["DGEBAL"].failed) == (13, 2)
    assert out.trouble == ["example number where ILO or IHI wrong  =    3"] and out.complete


#: Fake test programs: the first argument of ``case`` is what a run without the wrapper prints.
FAKE = """#!/bin/bash
plain=' All tests for DEV passed the threshold (  1092 tests run)'
case "$LD_PRELOAD" in
  *libxsmmwrap*) {wrapped} ;;
  *) echo "$plain" ;;
esac
echo ' End of tests'
"""
FAKES = {
    "differs": ("echo ' DEV:    4 out of  1096 tests failed to pass the threshold'", "DEV 4 of"),
    "crashes": ("kill -SEGV $$", "killed by SIGSEGV"),
    "exits non-zero": ('echo "$plain"; exit 3', "exit status 3"),
    "prints nothing": ("exec >/dev/null", "no summary line"),
    "stops early": ('echo "$plain"; exit 0', "output incomplete"),
    "hangs": ("sleep 30", "timed out after 1 s"),
}


def _fake(tmp_path: Path, wrapped: str, inp: str) -> Path:
    program = tmp_path / "xeigtstd"
    program.write_text(FAKE.replace("{wrapped}", wrapped))
    program.chmod(0o755)
    (tmp_path / inp).write_text("")
    return tmp_path


@pytest.mark.parametrize("how", FAKES)
def test_a_wrapped_run_that_fails_fails_the_command(
    libpath: Path, tmp_path: Path, how: str
) -> None:
    wrapped, reason = FAKES[how]
    directory = _fake(tmp_path, wrapped, "dbal.in")  # a case without GEMM calls
    r = _lapack_test(_env(libpath), "--dir", str(directory), "--timeout", "1", "xeigtstd:dbal")
    assert r.returncode == 1, r.stdout + r.stderr
    assert reason in r.stdout and "1 of 1 cases differ or failed" in r.stdout, r.stdout


def test_fake_control_passes(libpath: Path, tmp_path: Path) -> None:
    """The fake that prints the same with the wrapper passes: the failures above are theirs."""
    directory = _fake(tmp_path, 'echo "$plain"', "dbal.in")
    r = _lapack_test(_env(libpath), "--dir", str(directory), "xeigtstd:dbal")
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_gemm_call_on_a_kernel_fails_a_gemm_case(libpath: Path, tmp_path: Path) -> None:
    """ded.in makes GEMM calls: a wrapped run that served none compared nothing."""
    directory = _fake(tmp_path, 'echo "$plain"', "ded.in")
    r = _lapack_test(_env(libpath), "--dir", str(directory), "xeigtstd:ded")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no GEMM call on a kernel" in r.stdout


def test_missing_programs(libpath: Path, tmp_path: Path) -> None:
    r = _lapack_test(_env(libpath), "--dir", str(tmp_path), "ded")
    assert r.returncode == 2 and "not found" in r.stderr
    r = _lapack_test(_env(libpath), "no-such-input")
    assert r.returncode == 2 and "no LAPACK test case" in r.stderr
