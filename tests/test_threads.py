"""Eight threads calling dgemm_, sgemm_, zgemm_ and cgemm_ under LD_PRELOAD on a shared pool of
200 descriptors and 40 calls with nothing to multiply (tests/c/test_threads.c; complex ones with
conjugate transposes and complex scalars): every result right, one kernel per distinct
descriptor, every call counted under its name. With LIBXSMM_TRYLOCK=1 a thread that finds the
generation lock taken hands its call to the original BLAS (route lock_busy) instead of waiting:
results stay right, no descriptor gets two kernels. Calls with alpha = 0 or K = 0 never get
there (route scale, no kernel, no lock), so the original never sees one: it would be free to
read A and B, which hold NaN (OpenBLAS's AVX-512 kernels do read them).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import clean_env


def _run(exe: Path, *args: str, **env: str) -> tuple[dict[str, int], subprocess.CompletedProcess]:
    assert exe.exists(), f"not built: {exe}"
    r = subprocess.run(
        [str(exe), *args],
        env=clean_env(OPENBLAS_NUM_THREADS="1", **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = r.stdout + r.stderr
    summary = re.findall(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert summary, f"no summary line (exit {r.returncode}):\n{out[-4000:]}"
    passed, failed = map(int, summary[-1])
    assert r.returncode == 0 and failed == 0, out[-4000:]
    assert passed >= 20, out
    info = re.search(
        r"^threads (\d+) calls (\d+) descriptors (\d+) kernels (\d+) jit (\d+) "
        r"scale (\d+) lock_busy (\d+) monitor_reads (\d+)$",
        r.stdout,
        re.M,
    )
    assert info, r.stdout
    keys = [
        "threads", "calls", "descriptors", "kernels", "jit", "scale", "lock_busy", "monitor_reads",
    ]  # fmt: skip
    return dict(zip(keys, map(int, info.groups()))), r


@pytest.mark.parametrize("run", range(3))
def test_threads_preloaded(cbuild: Path, libpath: Path, run: int) -> None:
    got, _ = _run(cbuild / "tests" / "c" / "test_threads_preload", LD_PRELOAD=str(libpath))
    # two waves of 8 threads, each making 200 + 40 calls in order, then 1500 at random
    assert got["threads"] == 8 and got["calls"] == 2 * 8 * (240 + 1500)
    assert got["descriptors"] == 200 and got["kernels"] == 200
    assert got["scale"] >= 2 * 8 * 40
    assert got["lock_busy"] == 0


def test_threads_preloaded_trylock(cbuild: Path, libpath: Path) -> None:
    got, _ = _run(
        cbuild / "tests" / "c" / "test_threads_preload",
        LD_PRELOAD=str(libpath),
        LIBXSMM_TRYLOCK="1",
    )
    assert got["calls"] == 2 * 8 * (240 + 1500)  # two waves of 8 threads
    assert 0 < got["kernels"] <= got["descriptors"] == 200
    assert got["scale"] >= 2 * 8 * 40  # never lock_busy: no kernel, no lock


def test_threads_portable_only(cbuild: Path, libpath: Path) -> None:
    got, _ = _run(
        cbuild / "tests" / "c" / "test_threads_preload",
        "8",
        "800",
        LD_PRELOAD=str(libpath),
        XSMMWRAP_JIT="0",
    )
    assert got["kernels"] == 200 and got["jit"] == 0


def test_threads_many(cbuild: Path, libpath: Path) -> None:
    """More threads than the machine has cores, fewer calls each."""
    got, _ = _run(
        cbuild / "tests" / "c" / "test_threads_preload", "32", "300", LD_PRELOAD=str(libpath)
    )
    assert got["threads"] == 32 and got["kernels"] == 200


def test_threads_linked(cbuild: Path) -> None:
    """The in-process build (linked with libxsmmwrap.so; the sanitizer build runs it too)."""
    got, _ = _run(cbuild / "tests" / "c" / "test_threads")
    assert got["kernels"] == 200


def test_threads_needs_the_wrapper(cbuild: Path) -> None:
    """Without the preload the program refuses to run, rather than pass vacuously."""
    exe = cbuild / "tests" / "c" / "test_threads_preload"
    r = subprocess.run([str(exe)], env=clean_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "LD_PRELOAD" in r.stdout


@pytest.mark.parametrize("env", [{}, {"XSMMWRAP_JIT": "0"}], ids=["jit", "portable"])
def test_fork(cbuild: Path, env: dict[str, str]) -> None:
    """tests/c/test_fork.c: after fork() parent and child each make and run their own kernels
    (their code memory no longer shared for writing), and a child forked while another thread
    makes kernels, or runs enable()/disable(), is not left with a lock taken (it would hang:
    the timeout fails it)."""
    exe = cbuild / "tests" / "c" / "test_fork"
    assert exe.exists(), f"not built: {exe}"
    r = subprocess.run(
        [str(exe)],
        env=clean_env(OPENBLAS_NUM_THREADS="1", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"exit {r.returncode}:\n{out[-4000:]}"
    assert re.search(r"^49 passed, 0 failed$", r.stdout, re.M), out[-4000:]
