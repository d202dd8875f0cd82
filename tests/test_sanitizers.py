"""The in-process C test programs under AddressSanitizer and UndefinedBehaviorSanitizer.

A separate Meson build (build/asan under the repository root) compiles the library and the
test programs with -Db_sanitize=address,undefined. An ASan-built libxsmmwrap.so cannot be
LD_PRELOADed into an uninstrumented program, so only the programs that carry the library
inside them run here: test_static_wrap (static archive, ld --wrap), test_threads (linked with
libxsmmwrap.so), and every other test_* program of tests/c (the encoder's and generator's
tests, when built). Not run: test_threads_preload (needs LD_PRELOAD) and bad_args_* (no
wrapper inside). Each must exit 0 with no sanitizer report.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, _meson_build, clean_env

ASAN_DIR = ROOT / "build" / "asan"
MINE = ["test_static_wrap", "test_threads"]
NOT_IN_PROCESS = ("_preload", "bad_args")
# Arguments for programs that take some; everything else runs without.
ARGS = {"test_threads": ["8", "400"], "test_gen": ["quick"]}
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    "OPENBLAS_NUM_THREADS": "1",
}


@pytest.fixture(scope="module")
def asan_build() -> Path:
    return _meson_build(
        ASAN_DIR, "-Db_sanitize=address,undefined", "-Db_lundef=false", "-Dbuildtype=debug"
    )


def _others(build: Path) -> list[str]:
    d = build / "tests" / "c"
    return sorted(
        p.name
        for p in d.iterdir()
        if p.is_file()
        and os.access(p, os.X_OK)
        and p.name.startswith("test_")
        and p.name not in MINE
        and not any(x in p.name for x in NOT_IN_PROCESS)
    )


def _run_sanitized(exe: Path) -> None:
    assert exe.exists(), f"not built: {exe}"
    r = subprocess.run(
        [str(exe), *ARGS.get(exe.name, [])],
        env=clean_env(**SAN_ENV),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    out = r.stdout + r.stderr
    assert "runtime error" not in out, out[-6000:]
    assert "AddressSanitizer" not in out and "LeakSanitizer" not in out, out[-6000:]
    assert r.returncode == 0, f"{exe.name} exited {r.returncode}:\n{out[-6000:]}"


def test_build_is_sanitized(asan_build: Path) -> None:
    """The programs really carry the sanitizers (a plain build would pass vacuously)."""
    for name in MINE:
        out = subprocess.run(
            ["nm", str(asan_build / "tests" / "c" / name)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert "__asan_init" in out and "__ubsan_handle" in out, name
    lib = subprocess.run(
        ["nm", "-D", str(asan_build / "libxsmmwrap.so")], check=True, capture_output=True, text=True
    ).stdout
    assert "__asan_report" in lib


@pytest.mark.parametrize("name", MINE)
def test_mine_sanitized(asan_build: Path, name: str) -> None:
    _run_sanitized(asan_build / "tests" / "c" / name)


def test_others_sanitized(asan_build: Path) -> None:
    """Whatever other in-process test programs tests/c builds (names found at run time)."""
    others = _others(asan_build)
    failures = []
    for name in others:
        try:
            _run_sanitized(asan_build / "tests" / "c" / name)
        except AssertionError as e:
            failures.append(f"{name}: {str(e)[:3000]}")
    assert not failures, "\n\n".join(failures)
