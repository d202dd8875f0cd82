"""Runs the x86-64 encoder test (tests/c/test_x86_enc.c): every case checked against objdump."""

import re
import subprocess


def test_x86_encoder(cbuild):
    exe = cbuild / "tests" / "c" / "test_x86_enc"
    assert exe.exists(), f"not built: {exe}"
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    summary = re.findall(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.M)
    assert summary, f"no summary line:\n{out[-4000:]}"
    passed, failed = map(int, summary[-1])
    assert proc.returncode == 0, out[-4000:]
    assert failed == 0, out[-4000:]
    assert passed >= 200, out[-4000:]
