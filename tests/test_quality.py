"""Code rules that can be checked mechanically: layering, lint, warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_kernel_layer_never_includes_the_wrap_layer() -> None:
    # Layers call downward only: src/kernels knows nothing of src/wrap.
    for path in (ROOT / "src" / "kernels").iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r'#include\s+"[^"]*wrap', text), path.name


def test_wrap_layer_includes_only_kernels_h_from_below() -> None:
    for path in (ROOT / "src" / "wrap").iterdir():
        for inc in re.findall(r'#include\s+"([^"]+)"', path.read_text(encoding="utf-8")):
            if "kernels/" in inc:
                assert inc.endswith("kernels/kernels.h"), f"{path.name} includes {inc}"


def test_no_printing_below_the_report() -> None:
    # Only report.c writes to stderr/stdout in the library.
    for path in list((ROOT / "src" / "kernels").glob("*.c")) + list(
        (ROOT / "src" / "wrap").glob("*.c")
    ):
        if path.name == "report.c":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(printf|fprintf|puts|perror)\s*\(", text), path.name


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff")
    cmd = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    r = subprocess.run([*cmd, "check", str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict() -> None:
    # The package is typed: strict mypy over python/xsmmwrap (pyproject.toml's [tool.mypy]).
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success" in r.stdout, r.stdout


def test_c_builds_without_warnings(cbuild: Path) -> None:
    # The test build is configured with -Dwerror=true (conftest.py): it compiled, so no warning.
    opts = subprocess.run(
        [sys.executable, "-m", "mesonbuild.mesonmain", "introspect", "--buildoptions", str(cbuild)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r'"name": "werror", "value": true', opts)
    assert re.search(r'"name": "warning_level", "value": "2"', opts)
