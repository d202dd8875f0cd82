"""Shared fixtures: the Meson build of the C test programs, and helpers to run things wrapped."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# No test meets a tuning file left in the user's cache by `xsmmwrap tune` (the library reads
# this CPU's file under $XDG_CACHE_HOME when XSMMWRAP_TUNE is unset): an empty cache for all.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="xsmmwrap-tests-cache-")


def _meson_build(builddir: Path, *options: str) -> Path:
    """Configure (once) and compile a Meson build of this checkout with the C tests enabled."""
    if not (builddir / "build.ninja").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mesonbuild.mesonmain",
                "setup",
                str(builddir),
                str(ROOT),
                "-Dtests=true",
                "-Dexamples=true",
                *options,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    r = subprocess.run(
        [sys.executable, "-m", "mesonbuild.mesonmain", "compile", "-C", str(builddir)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise RuntimeError(f"meson compile failed:\n{r.stdout}\n{r.stderr}")
    return builddir


@pytest.fixture(scope="session")
def cbuild() -> Path:
    """The build directory of the C library, test programs and examples (release build)."""
    return _meson_build(ROOT / "build" / "tests", "-Dwerror=true")


@pytest.fixture(scope="session")
def libpath(cbuild: Path) -> Path:
    """The libxsmmwrap.so built from this checkout."""
    return cbuild / "libxsmmwrap.so"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any xsmmwrap or LIBXSMM setting, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("XSMMWRAP_", "LIBXSMM_")) and k != "LD_PRELOAD"
    }
    env.update(extra)
    return env
