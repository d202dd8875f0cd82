"""Code rules that can be checked mechanically: layering, lint, warnings."""

from __future__ import annotations

import ast
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


def _defined_functions(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return set(re.findall(r"^(?!static)[\w ]+?\b(\w+)\([^;{]*\)\s*\{", text, re.M))


def _calls(path: Path, names: set[str]) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return {f for f in names if re.search(rf"\b{f}\s*\(", text)}


def test_generator_plan_and_emission_apart() -> None:
    # The generator's plan (gen_gemm.c, gen_plan.c) holds every decision and hands it to
    # gen_emit() only; the emitter (gen_emit.c, gen_zepi.c) reads it and writes instructions,
    # calling no planning function (gen.h's static inline readers of the plan are allowed).
    kernels = ROOT / "src" / "kernels"
    plan = [kernels / "gen_gemm.c", kernels / "gen_plan.c"]
    emit = [kernels / "gen_emit.c", kernels / "gen_zepi.c"]
    planning = set().union(*map(_defined_functions, plan))
    emitting = set().union(*map(_defined_functions, emit))
    assert {"gen_plan_finish", "xw_gen_gemm"} <= planning and "gen_emit" in emitting
    for path in plan:
        assert _calls(path, emitting) <= {"gen_emit"}, path.name
    for path in [*emit, kernels / "gen_emit.h"]:
        assert not _calls(path, planning), path.name


def test_no_printing_below_the_report() -> None:
    # Only report.c writes to stderr/stdout in the library.
    for path in list((ROOT / "src" / "kernels").glob("*.c")) + list(
        (ROOT / "src" / "wrap").glob("*.c")
    ):
        if path.name == "report.c":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(printf|fprintf|puts|perror)\s*\(", text), path.name


PACKAGE = ROOT / "python" / "xsmmwrap"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _python_imports() -> dict[str, set[str]]:
    """The package's import graph from its source: module -> the package modules it imports
    (at the top or in a function). ``from X import name`` is an edge to ``X.name`` when that is
    a module, else to ``X``; the implicit import of a module's parent packages is not an edge
    (Python has begun those by then)."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in paths}
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level else []
                source = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:
                    target = f"{source}.{alias.name}"
                    edges.add(target if target in paths else source)
        graph[name] = {e for e in edges if e in paths and e != name}
    return graph


def test_python_imports_have_no_cycle() -> None:
    # Each module imports only modules below it: a cycle is a pair of modules that need each
    # other, which the tools subpackage had (samples <-> dgemm_test, plot, bench).
    graph = _python_imports()
    assert "xsmmwrap.tools.samples" in graph and "xsmmwrap._lib" in graph
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name not in done:
            for dep in sorted(graph[name]):
                visit(dep, [*path, name])
            done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_python_api_never_imports_the_tools() -> None:
    # xsmmwrap.tools (samples, benchmarks, plots, LAPACK's tests, tuning) sits above the API:
    # no module outside it imports it (the command line names its modules in one table and
    # imports the one a command needs), and `import xsmmwrap` or the command's parser for
    # `info` loads none of it.
    graph = _python_imports()
    for name, deps in graph.items():
        if not name.startswith("xsmmwrap.tools"):
            assert not {d for d in deps if d.startswith("xsmmwrap.tools")}, name
    code = (
        "import sys, xsmmwrap\n"
        "assert not [m for m in sys.modules if m.startswith(('xsmmwrap.tools', 'xsmmwrap.cli'))]\n"
        "from xsmmwrap import cli\n"
        "cli.build_parser(['info']).parse_args(['info'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('xsmmwrap.tools')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


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
