"""xsmmwrap_gemm() through the one route decision (tests/c/test_api.c): after every call of
each kind (kernel, C = beta*C, too large and a leading dimension beyond 32 bits, with no
original BLAS in the process and then with a fake one loaded, invalid) the per-route counts
equal what ran, the fake BLAS ran exactly the calls counted as forwarded, and invalid calls
return XSMMWRAP_EINVAL. Also with XSMMWRAP_DISABLE=1 (valid calls declined as disabled: the
original when there is one, else the portable kernel) and XSMMWRAP_JIT=0.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import clean_env


@pytest.mark.parametrize(
    "env", [{}, {"XSMMWRAP_DISABLE": "1"}, {"XSMMWRAP_JIT": "0"}], ids=["jit", "disabled", "jit0"]
)
def test_api_counts_what_ran(cbuild: Path, env: dict[str, str]) -> None:
    exe = cbuild / "tests" / "c" / "test_api"
    assert exe.exists(), f"not built: {exe}"
    r = subprocess.run(
        [str(exe)], env=clean_env(**env), capture_output=True, text=True, timeout=120
    )
    out = r.stdout + r.stderr
    summary = re.findall(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert summary, f"no summary line (exit {r.returncode}):\n{out[-4000:]}"
    passed, failed = map(int, summary[-1])
    assert r.returncode == 0 and failed == 0, out[-4000:]
    assert passed >= 300, out[-4000:]
