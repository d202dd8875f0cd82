"""Invalid GEMM calls reach the original BLAS untouched: same output, same exit status.

tests/c/bad_args.c makes one invalid dgemm_ or cblas_dgemm call per invocation, or the same
through zgemm_ or cblas_zgemm (complex scalars, by pointer for CBLAS). It is linked
twice (tests/c/meson.build): bad_args_openblas against libopenblas.so.0, bad_args_refblas
against the reference BLAS (/usr/lib/x86_64-linux-gnu/blas/libblas.so.3 through the run path,
ahead of the libblas.so.3 alternative). Each case runs plain and with LD_PRELOAD=libxsmmwrap.so;
stdout, stderr and the exit status must be identical (the BLAS's error handler prints, OpenBLAS
returns, the reference CBLAS exits with 255). Under the wrapper with XSMMWRAP_STATS_JSON every
call must be counted as route "invalid". Every case runs with alpha = 1.5 and alpha = 0: with
nothing to multiply a valid call is the wrapper's (route scale), an invalid one still the
original's to report. Three cases are invalid for the reference BLAS but
accepted by OpenBLAS (OPENBLAS_ACCEPTS below): the wrapper must decline them as invalid too
and leave the answer to the original either way.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import clean_env

PROVIDERS = {
    "openblas": "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "refblas": "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3",
}


# Invalid for the reference BLAS, accepted by OpenBLAS 0.3.21: 'R' and CblasConjNoTrans (114)
# are taken as no transpose (zgemm: conjugate, no transpose), and lda = 0 with m = 0 is not
# reported (nothing to compute).
OPENBLAS_ACCEPTS = {"f77_transa_R", "cblas_transa_conjnotrans", "f77_lda_zero_m_zero"}


def _exe(cbuild: Path, provider: str) -> Path:
    exe = cbuild / "tests" / "c" / f"bad_args_{provider}"
    assert exe.exists(), f"not built: {exe}"
    return exe


def _cases() -> list[str]:
    """The case names, read from the source so that collection needs no build."""
    src = (Path(__file__).parent / "c" / "bad_args.c").read_text()
    names = [line.split('"')[1] for line in src.splitlines() if line.strip().startswith('{ "')]
    assert len(names) >= 20
    return names


CASES = _cases()


def _run(exe: Path, case: str, alpha: str, prec: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(exe), case, alpha, prec],
        env=clean_env(OPENBLAS_NUM_THREADS="1", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_provider_is_the_intended_one(cbuild: Path, provider: str) -> None:
    exe = _exe(cbuild, provider)
    out = subprocess.run(["ldd", str(exe)], check=True, capture_output=True, text=True).stdout
    libs = [line.split("=>")[1].split("(")[0].strip() for line in out.splitlines() if "=>" in line]
    blas = [Path(p).resolve() for p in libs if "blas" in p]
    assert blas == [Path(PROVIDERS[provider]).resolve()], out
    listed = subprocess.run(
        [str(exe), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    assert listed == CASES


@pytest.mark.parametrize("prec", ["d", "z"], ids=["real", "complex"])
@pytest.mark.parametrize("alpha", ["1.5", "0"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_invalid_call_same_as_plain(
    cbuild: Path, libpath: Path, tmp_path: Path, provider: str, case: str, alpha: str, prec: str
) -> None:
    exe = _exe(cbuild, provider)
    plain = _run(exe, case, alpha, prec)
    stats = tmp_path / "stats.json"
    wrapped = _run(
        exe, case, alpha, prec, LD_PRELOAD=str(libpath), XSMMWRAP_STATS_JSON=str(stats)
    )
    head = f"case {case} alpha {float(alpha):g}{' complex' if prec == 'z' else ''}\n"
    assert plain.stdout.startswith(head), plain.stdout
    # The original BLAS noticed: it printed a complaint (except the cases OpenBLAS accepts).
    if not (provider == "openblas" and case in OPENBLAS_ACCEPTS):
        assert plain.stderr or "illegal value" in plain.stdout, plain
    assert (wrapped.returncode, wrapped.stdout, wrapped.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )
    # Without the preload nothing was counted anywhere; with it, every call as invalid.
    assert stats.exists(), "no statistics written at exit"
    st = json.loads(stats.read_text())
    routes = st["routes"]
    assert routes["invalid"] >= 1, routes
    assert st["intercepted"] == routes["invalid"], routes
    entry = f"cblas_{prec}gemm" if case.startswith("cblas_") else f"{prec}gemm_"
    assert st["symbols"].get(entry) == 1, st["symbols"]
    # The reference cblas_dgemm passes m/n/k/ld errors on to dgemm_ (cblas_zgemm to zgemm_),
    # which the preload intercepts as well (also invalid); nothing else may appear.
    assert set(st["symbols"]) <= {entry, f"{prec}gemm_"}, st["symbols"]
    assert sum(st["symbols"].values()) == st["intercepted"]
    assert st["kernels"] == []


def test_no_gemm_call_no_statistics(cbuild: Path, libpath: Path, tmp_path: Path) -> None:
    """A preloaded process that never calls GEMM initialises nothing and writes no statistics
    (so the counts above come from the invalid calls alone)."""
    exe = _exe(cbuild, "openblas")
    stats = tmp_path / "stats.json"
    r = subprocess.run(
        [str(exe), "no_such_case"],
        env=clean_env(LD_PRELOAD=str(libpath), XSMMWRAP_STATS_JSON=str(stats)),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unknown case" in r.stderr
    assert not stats.exists()
