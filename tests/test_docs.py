"""The documentation stays true: its Python examples run, and every setting the code reads is in
the README's table."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT, clean_env

#: Documents whose ```python blocks are complete programs.
DOCS_WITH_CODE = ("README.md", "docs/INTERPOSE.md")


def _python_blocks(doc: str) -> list[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


BLOCKS = [
    pytest.param(doc, i, code, id=f"{doc}:{i}")
    for doc in DOCS_WITH_CODE
    for i, code in enumerate(_python_blocks(doc))
]


def test_the_documents_have_examples() -> None:
    """So that the test below cannot pass by finding nothing."""
    assert [doc for doc, _, _ in (b.values for b in BLOCKS)].count("README.md") >= 2
    assert any(doc == "docs/INTERPOSE.md" for doc, _, _ in (b.values for b in BLOCKS))


@pytest.mark.parametrize(("doc", "index", "code"), BLOCKS)
def test_python_example_runs(doc: str, index: int, code: str) -> None:
    """Each block, as a reader would paste it into a fresh interpreter."""
    r = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, f"{doc} block {index}:\n{code}\n--- stderr\n{r.stderr}"


def _settings_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for path in [*(ROOT / "src").rglob("*.c"), *(ROOT / "python" / "xsmmwrap").rglob("*.py")]:
        names |= set(re.findall(r'"((?:XSMMWRAP|LIBXSMM)_[A-Z_]+)"', path.read_text()))
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    table = {
        name
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`((?:XSMMWRAP|LIBXSMM)_[A-Z_]+)`", line.split("|")[1])
    }
    read = _settings_read_by_the_code()
    assert {"XSMMWRAP_MAX_MNK", "LIBXSMM_VERBOSE", "XSMMWRAP_LIBRARY"} <= read  # the scan works
    assert read - table == set(), "settings the code reads but the README's table does not name"
    assert table - read == set(), "settings the README's table names but no code reads"


def test_readme_starts_with_the_two_commands() -> None:
    """The README's promise: the demonstration and the tests, first, and both scripts exist."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    assert commands == ["bash tools/demo.sh", "bash tools/test.sh"]
    for script in ("tools/demo.sh", "tools/test.sh"):
        assert (ROOT / script).is_file()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "tools/test.sh" in ci
    assert "-m pytest" in (ROOT / "tools" / "test.sh").read_text(encoding="utf-8")
