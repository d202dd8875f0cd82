"""The static archive under `ld --wrap` (tests/c/test_static_wrap.c), and what the archive and
the program define.

test_static_wrap is linked with -Wl,--wrap=dgemm_,--wrap=sgemm_,--wrap=zgemm_,--wrap=cgemm_
against libxsmmwrap.a and the system OpenBLAS, with Meson's default link flags (--as-needed), as a
user's build would be.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import clean_env

# Every exported GEMM name (src/wrap/entry_list.h).
NAMES = [
    f"{prefix}{name}"
    for prefix in ("", "scipy_")
    for p in "dszc"
    for name in (f"{p}gemm_", f"{p}gemm_64_", f"cblas_{p}gemm", f"cblas_{p}gemm64_")
]


def _nm(path: Path, *args: str) -> list[tuple[str, str]]:
    """(type, name) of every symbol nm lists."""
    out = subprocess.run(
        ["nm", *args, str(path)], check=True, capture_output=True, text=True
    ).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[-2]) == 1:
            rows.append((parts[-2], parts[-1]))
    return rows


def _exe(cbuild: Path) -> Path:
    exe = cbuild / "tests" / "c" / "test_static_wrap"
    assert exe.exists(), f"not built: {exe}"
    return exe


def test_static_wrap_program(cbuild: Path) -> None:
    r = subprocess.run(
        [str(_exe(cbuild))],
        env=clean_env(OPENBLAS_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = r.stdout + r.stderr
    summary = re.findall(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert summary, f"no summary line (exit {r.returncode}):\n{out[-4000:]}"
    passed, failed = map(int, summary[-1])
    assert r.returncode == 0, out[-4000:]
    assert failed == 0, out[-4000:]
    assert passed >= 250, out[-4000:]


def test_program_calls_through_wrap(cbuild: Path) -> None:
    syms = _nm(_exe(cbuild))
    defined = {n for t, n in syms if t in "TtW"}
    wrapped = ("dgemm_", "sgemm_", "zgemm_", "cgemm_")
    assert {f"__wrap_{name}" for name in wrapped} <= defined
    # The program's own dgemm_... stay the system BLAS's (undefined here, not ours).
    for name in wrapped:
        assert ("U", name) in syms or ("w", name) in syms, [s for s in syms if s[1] == name]
        assert not any(n == name and t in "TtDdBb" for t, n in syms)


def test_program_needs_the_system_blas(cbuild: Path) -> None:
    """The declined calls go to __real_dgemm_ = the system dgemm_: the program must load the
    BLAS it was linked with. (With the archive's weak __real_ references and --as-needed the
    linker drops it, and the first large call aborts: "no original BLAS provides dgemm_".)"""
    out = subprocess.run(
        ["readelf", "-d", str(_exe(cbuild))], check=True, capture_output=True, text=True
    ).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]", out)
    assert any("blas" in n for n in needed), needed


def test_archive_defines_no_plain_blas_names(cbuild: Path) -> None:
    archive = cbuild / "libxsmmwrap.a"
    assert archive.exists(), f"not built: {archive}"
    syms = _nm(archive)
    defined = {n for t, n in syms if t not in "Uuwv"}
    for name in NAMES:
        assert f"__wrap_{name}" in defined, name
        assert name not in defined, f"libxsmmwrap.a defines {name}: it would shadow the BLAS"
