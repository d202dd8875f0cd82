"""What test_entry_points.py and test_families.py share: the BLAS libraries on this machine that
provide the originals, a run of a differential driver (_entry_driver.py, _family_driver.py) with
its summary and the library's statistics, and the check of a call that must abort.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest
from conftest import clean_env

F = TypeVar("F", bound=Callable[..., Any])

HERE = Path(__file__).resolve().parent
LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
OPENBLAS = LIBDIR / "libopenblas.so.0"
OPENBLAS64 = LIBDIR / "libopenblas64.so.0"
REFBLAS = LIBDIR / "blas" / "libblas.so.3"


def wheel_lib(package: str, pattern: str) -> Path:
    """A library bundled in an installed wheel's <package>.libs directory."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin, f"{package} is not installed"
    libs = sorted(glob.glob(str(Path(spec.origin).parent.parent / f"{package}.libs" / pattern)))
    assert libs, f"no {pattern} in {package}.libs"
    return Path(libs[0])


NUMPY_OPENBLAS64 = wheel_lib("numpy", "libscipy_openblas64_*.so")
SCIPY_OPENBLAS = wheel_lib("scipy", "libscipy_openblas-*.so")


# (symbol, provider's name, provider's path, invalid calls allowed: reference BLAS's xerbla
# ends the process, so its runs make none)
Provided = tuple[str, str, Path, bool]


def with_providers(provided: list[Provided]) -> Callable[[F], F]:
    """Parametrizes a test by `provided` (one row each) and `max_mnk` (the default threshold,
    and XSMMWRAP_MAX_MNK=1000)."""

    def mark(test: F) -> F:
        ids = [f"{s}-{p}" for s, p, _, _ in provided]
        test = pytest.mark.parametrize("provided", provided, ids=ids)(test)
        return pytest.mark.parametrize("max_mnk", [None, "1000"], ids=["default_mnk", "mnk1000"])(
            test
        )

    return mark


def provider_env(provided: Provided, max_mnk: str | None) -> dict[str, str]:
    """The environment of a run with that provider and threshold."""
    env = {"XSMMWRAP_BLAS": str(provided[2])}
    if max_mnk:
        env["XSMMWRAP_MAX_MNK"] = max_mnk
    return env


def run_driver(
    driver: Path, libpath: Path, tmp_path: Path, symbol: str, *args: str, **env: str
) -> tuple[dict[str, Any], dict[str, Any], subprocess.CompletedProcess[str]]:
    """Runs the driver on symbol (extra arguments and environment given); it must succeed and
    the library must have written its statistics at exit. (summary, statistics, the run)."""
    summary, stats = tmp_path / "summary.json", tmp_path / "stats.json"
    r = subprocess.run(
        [sys.executable, str(driver), str(libpath), symbol, "--out", str(summary), *args],
        env=clean_env(XSMMWRAP_STATS_JSON=str(stats), OPENBLAS_NUM_THREADS="1", **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, f"driver failed ({r.returncode}):\n{r.stderr[-6000:]}"
    assert stats.exists(), "XSMMWRAP_STATS_JSON was not written at exit"
    got = json.loads(stats.read_text())
    want = json.loads(summary.read_text())
    # Every route the library names (xsmmwrap_route_name, read by the driver) has its count.
    assert set(got["routes"]) == set(want["routes"]), (got["routes"], want["routes"])
    return want, got, r


def check_aborts(driver: Path, libpath: Path, symbol: str, *args: str, **env: str) -> None:
    """The driver's call needs an original that does not exist: one line on stderr naming the
    symbol and XSMMWRAP_BLAS, then SIGABRT (the driver prints NOT ABORTED if it returns)."""
    r = subprocess.run(
        [sys.executable, str(driver), str(libpath), symbol, "--abort", *args],
        env=clean_env(OPENBLAS_NUM_THREADS="1", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == -6, (r.returncode, r.stdout, r.stderr)
    assert "NOT ABORTED" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xsmmwrap:"), r.stderr
    assert f" {symbol} " in lines[0] and "XSMMWRAP_BLAS" in lines[0]
