"""tools/as_avx2_only.sh, which CI's second pass of the suite runs under: where the CPU has
AVX-512 and CPUID faulting, a command it runs sees no AVX-512 (the library picks avx2 for the
CPU), programs' own SIGSEGV handlers still get their faults, and a crash still ends the process.
Elsewhere there is nothing to hide and the script must say so and run nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, clean_env

SCRIPT = ROOT / "tools" / "as_avx2_only.sh"
FLAGS = set(
    next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
          if line.startswith("flags")), "").split()
)  # fmt: skip
HIDES = {"avx512f", "cpuid_fault"} <= FLAGS


def _run(libpath: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(filter(None, [str(ROOT / "python"), os.environ.get("PYTHONPATH")]))
    env = clean_env(XSMMWRAP_LIBRARY=str(libpath), PYTHONPATH=path)
    return subprocess.run(["bash", str(SCRIPT), *cmd], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.mark.skipif(not HIDES, reason="no AVX-512 to hide, or no CPUID faulting, on this CPU")
def test_the_library_sees_an_avx2_cpu(libpath: Path) -> None:
    probe = "import xsmmwrap; c = xsmmwrap.config(); print(c.cpu_target, c.target)"
    r = _run(libpath, sys.executable, "-c", probe)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "AVX-512 hidden from CPUID" in r.stdout
    assert r.stdout.splitlines()[-1] == "avx2 avx2"


@pytest.mark.skipif(not HIDES, reason="no AVX-512 to hide, or no CPUID faulting, on this CPU")
def test_faults_still_reach_their_handlers(libpath: Path) -> None:
    """Python's faulthandler (its own SIGSEGV handler) reports a real fault; without a handler
    a fault ends the process with SIGSEGV, as it would have."""
    r = _run(libpath, sys.executable, "-X", "faulthandler", "-c",
             "import ctypes; ctypes.string_at(0)")  # fmt: skip
    killed = 128 + 11  # the script's shell reports its command's death by SIGSEGV so
    assert r.returncode == killed and "Fatal Python error: Segmentation fault" in r.stderr, r.stderr
    r = _run(libpath, "bash", "-c", "kill -SEGV $$")
    assert r.returncode == killed, (r.returncode, r.stderr)


@pytest.mark.skipif(HIDES, reason="this CPU has AVX-512 and CPUID faulting: the script runs")
def test_nothing_to_hide_runs_nothing(libpath: Path, tmp_path: Path) -> None:
    mark = tmp_path / "ran"
    r = _run(libpath, "touch", str(mark))
    assert r.returncode == 0 and "not run again" in r.stdout and not mark.exists()
