"""The samples users run first (examples/ and the dgemm-test, bench and plot subcommands), each
in a short mode: they run, their own checks pass, their tables are complete, their JSON is
valid and the plots are real image files.

The CLI runs from this checkout (``python/`` on PYTHONPATH) with XSMMWRAP_BUILD_DIR pointing at
the Meson build of the `cbuild` fixture, where the sample programs are. OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE stay as the environment has them (``--keep-openblas-env``): only benchmarks
run by hand drop them.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, clean_env

EXAMPLES = ROOT / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KEEP = "--keep-openblas-env"


@pytest.fixture(scope="module")
def env(cbuild: Path) -> dict[str, str]:
    """The environment of a sample run: this checkout's package, the build's programs."""
    python_dir = str(ROOT / "python")
    return clean_env(
        XSMMWRAP_BUILD_DIR=str(cbuild),
        XSMMWRAP_LIBRARY=str(cbuild / "libxsmmwrap.so"),
        PYTHONPATH=os.pathsep.join(filter(None, [python_dir, os.environ.get("PYTHONPATH")])),
    )


@pytest.fixture(scope="module")
def programs(cbuild: Path) -> Path:
    """The directory of the sample programs (all of them must have been built)."""
    bindir = cbuild / "examples"
    for name in (
        "dgemm-test-blas",
        "dgemm-test-wrap",
        "bench-dispatch",
        "bench-smm",
        "nek-axhelm",
        "cp2k-stack",
        "gemm-free.so",
    ):
        assert (bindir / name).is_file(), f"{name} was not built (is OpenBLAS installed?)"
    if LIBXSMM_INSTALLED:  # tools/setup.sh installs libxsmm-dev: the peers must be there
        for name in ("dgemm-test-libxsmm", "nek-axhelm-libxsmm", "cp2k-stack-libxsmm"):
            assert (bindir / name).is_file(), f"{name} was not built"
    return bindir


#: Debian's libxsmm-dev (LIBXSMM 1.17) is there: the programs that use it as a peer are built.
LIBXSMM_INSTALLED = Path("/usr/include/libxsmm.h").is_file()


def _dgemm_variants(programs: Path) -> list[str]:
    peer = ["libxsmm"] if (programs / "dgemm-test-libxsmm").is_file() else []
    return ["blas", "wrap", "preload", *peer]


def cli(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsmmwrap", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def table_rows(text: str, first: str) -> list[list[str]]:
    """The rows below the dashed rule of the table whose header starts with `first`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip() or ":" in line.split("  ")[0]:
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


# --- dgemm-test -----------------------------------------------------------------------------

# dgemm-test's shape arguments: M N K LDA LDB LDC ALPHA BETA (then the number of calls).
DGEMM_23 = ("23", "23", "23", "23", "23", "23", "1", "1")


def test_dgemm_test_variants(env: dict[str, str], programs: Path, tmp_path: Path) -> None:
    saved = tmp_path / "dgemm.json"
    r = cli(
        env,
        "dgemm-test",
        *DGEMM_23,
        "3000",
        "--save",
        str(saved),
        KEEP,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rows = table_rows(r.stdout, "variant")
    assert [row[0] for row in rows] == _dgemm_variants(programs)
    assert all(len(row) == 9 and row[-1] == "ok" for row in rows), r.stdout
    data = json.loads(saved.read_text())
    assert data["kind"] == "dgemm-test" and data["ok"] is True
    assert (data["m"], data["n"], data["k"], data["nrepeat"]) == (23, 23, 23, 3000)
    by = {v["variant"]: v for v in data["variants"]}
    assert by["blas"]["kernel_calls"] is None
    # ld --wrap: from xsmmwrap_get_stats in the program; LD_PRELOAD: from XSMMWRAP_STATS_JSON.
    assert by["wrap"]["kernel_calls"] == 3000
    assert by["preload"]["kernel_calls"] == 3000
    for v in by.values():
        assert v["max_rel_diff"] == 0.0  # small integer operands: exact
        assert v["gflops"] > 0 and v["calls_per_s"] > 0 and v["time_s"] > 0
        assert v["speedup"] > 0
    assert len({v["checksum"] for v in by.values()}) == 1
    if "libxsmm" in by:  # LIBXSMM's own wrapper: no statistics of ours, the same result
        assert by["libxsmm"]["kernel_calls"] is None
        line = next(x for x in r.stdout.splitlines() if x.startswith("against LIBXSMM's"))
        assert re.fullmatch(r".*: wrap \d+\.\d\dx, preload \d+\.\d\dx", line), line


def test_dgemm_test_general_arguments_json(env: dict[str, str], programs: Path) -> None:
    """Leading dimensions above the minimum, alpha and beta not 1: equal within rounding."""
    r = cli(env, "dgemm-test", "7", "9", "5", "8", "6", "10", "0.5", "-1", "500", "--json", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert (data["lda"], data["ldb"], data["ldc"]) == (8, 6, 10)
    assert (data["alpha"], data["beta"]) == (0.5, -1)
    for v in data["variants"]:
        assert v["ok"] and v["max_rel_diff"] <= 5e-12


def test_dgemm_test_failing_run_is_an_error(env: dict[str, str], programs: Path) -> None:
    r = cli(env, "dgemm-test", "5", "5", "5", "2", KEEP)  # lda < m: the program refuses
    assert r.returncode == 1
    assert "FAILED" in r.stdout and "exited with status 2" in r.stdout


def test_dgemm_test_programs_not_found(env: dict[str, str], tmp_path: Path) -> None:
    r = cli({**env, "XSMMWRAP_BUILD_DIR": str(tmp_path)}, "dgemm-test", "10", KEEP)
    assert r.returncode == 2
    assert "-Dexamples=true" in r.stderr


def test_dgemm_test_program_output(env: dict[str, str], programs: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.bin"
    r = run([str(programs / "dgemm-test-blas"), "--json", "--out", str(out), "100"], env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["m"], data["n"], data["k"], data["nrepeat"]) == (23, 23, 23, 100)
    assert data["wrapper"] is None
    assert out.stat().st_size == 23 * 23 * 8
    r = run([str(programs / "dgemm-test-blas"), "4", "3", "2", "3"], env)  # lda < m
    assert r.returncode == 2
    r = run([str(programs / "dgemm-test-wrap"), "12", "500"], env)  # m n: k, lds follow m
    assert r.returncode == 0, r.stderr
    assert "m=12 n=500 k=12 lda=12 ldb=12 ldc=12" in r.stdout
    assert "100.0% on the kernel path" in r.stdout


def test_dgemm_test_shell_script(env: dict[str, str], programs: Path) -> None:
    r = run(
        ["sh", str(EXAMPLES / "dgemm-test.sh"), "2000"],
        {**env, "DGEMM_TEST_KEEP_OPENBLAS_ENV": "1"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    runs = [line for line in r.stdout.splitlines() if line.startswith("==")]
    assert runs == [f"== {name}" for name in _dgemm_variants(programs)]
    assert r.stdout.count("max rel. difference vs plain BLAS 0 ") == len(runs) - 1
    assert r.stdout.count("100.0% on the kernel path") == 2


# --- bench dispatch -------------------------------------------------------------------------


def test_bench_dispatch_json(env: dict[str, str], programs: Path) -> None:
    r = cli(env, "bench", "dispatch", "300", "2", "--json", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["kind"] == "bench-dispatch"
    assert (data["n"], data["threads"], data["seed"]) == (300, 2, 42)
    assert set(data["ns"]) == {"empty", "blas", "generate", "dispatch_uncached", "dispatch_cached"}
    assert all(v > 0 for v in data["ns"].values())
    assert all(data["ns_max"][k] >= data["ns"][k] * 0.999 for k in data["ns"])
    assert data["kernels"] == 300
    assert data["kernel_calls"] == data["intercepted"] > 0


def test_bench_dispatch_table(env: dict[str, str], programs: Path) -> None:
    r = cli(env, "bench", "dispatch", "200", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = table_rows(r.stdout, "measurement")
    assert len(rows) == 5
    assert rows[0][0] == "empty function call (reference)"
    assert all(float(row[1]) > 0 for row in rows)
    assert "kernels: 200" in r.stdout


def test_bench_dispatch_distinct_shapes_are_seeded(env: dict[str, str], programs: Path) -> None:
    """The same seed gives the same shapes, hence as many kernels as shapes every time."""
    for seed in ("1", "2"):
        r = run([str(programs / "bench-dispatch"), "--json", "--seed", seed, "500"], env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["kernels"] == 500


# --- bench kernels --------------------------------------------------------------------------


def _check_kernel_cases(cases: list[dict[str, Any]], tol: float) -> None:
    """Every case: our kernel generated and timed, every present peer's result right."""
    for c in cases:
        shape = (c["m"], c["n"], c["k"])
        assert c["ours_jit"] and c["route"] == "jit", shape
        for peer, err in c["max_rel_err"].items():
            assert err is None or err <= tol * (c["k"] + 1), (shape, peer, err)
        for peer in ("ours_kernel", "ours_gemm", "blas"):
            assert c["cached"][peer]["ns"] > 0, (shape, peer)


def test_bench_kernels_quick_json(env: dict[str, str], cbuild: Path, tmp_path: Path) -> None:
    """The whole benchmark in its short mode: every section, every shape, right results."""
    saved = tmp_path / "kernels.json"
    r = cli(env, "bench", "kernels", "--quick", "--save", str(saved), KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING" not in r.stdout, r.stdout
    data = json.loads(saved.read_text())
    assert data["kind"] == "bench-kernels"
    assert data["sections"] == ["dp", "gemv", "batch", "dispatch", "memory", "variants", "sp"]
    assert (len(data["dp"]), len(data["variants"]), len(data["sp"])) == (17, 20, 5)
    _check_kernel_cases(data["dp"] + data["variants"], 1e-12)
    _check_kernel_cases(data["sp"], 1e-5)
    for c in data["dp"]:
        assert c["streamed_batch"] > 1 and c["streamed"]["ours_kernel"]["ns"] > 0
    ours = data["dispatch"]["ours"]
    assert ours["created_jit"] == data["dispatch"]["kernels"] and ours["failed"] == 0
    assert ours["find_same_ns"] > 0 and ours["create_median_us"] > 0 and ours["code_bytes"] > 0
    assert data["registry"]["jit_failures"] == 0
    assert data["load"]["dlopen_rss_delta_kb"] >= 0
    for title in ("cached operands: ns per call", "streamed operands: GFLOP/s", "dispatch"):
        assert title in r.stdout


def test_bench_kernels_dispatch_only(env: dict[str, str], cbuild: Path) -> None:
    """--dispatch-only: the dispatch and memory sections alone. The memory section makes its
    1000 kernels through the library's dgemm_ (each new, each generated) and LIBXSMM's, and the
    table prints the resident-set growth of both with their ratio."""
    r = cli(env, "bench", "kernels", "--quick", "--dispatch-only", "--json", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["sections"] == ["dispatch", "memory"]
    assert data["dp"] == data["variants"] == data["sp"] == []
    mem = data["memory"]
    ours = mem["ours"]
    assert ours["kernels_delta"] == mem["kernels"] == 1000
    assert ours["jit_delta"] == (1000 if data["xsmmwrap"]["jit_enabled"] else 0)
    assert ours["rss_delta_kb"] > 0 and ours["code_delta_bytes"] > 0
    if LIBXSMM_INSTALLED:
        assert mem["libxsmm"]["registry_delta_size"] == 1000
    r = cli(env, "bench", "kernels", "--quick", "--dispatch-only", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cached operands" not in r.stdout
    rows = {row[0]: row[1:] for row in table_rows(r.stdout, "memory  ")}
    assert rows["kernels made"][0] == "1000", rows
    assert re.search(r"^VmRSS added, ours / LIBXSMM: (\d+\.\d\dx|-) \(target <= 0\.50x\)", r.stdout,
                     re.M), r.stdout  # fmt: skip
    r = cli(env, "bench", "kernels", "--dispatch-only", "--shapes", "4x4x4", KEEP)
    assert r.returncode == 2 and "not allowed with" in r.stderr


def test_bench_kernels_complex(env: dict[str, str], cbuild: Path) -> None:
    """--complex: ZGEMM and CGEMM alone (of --shapes when given), against OpenBLAS, right
    results, % of peak counting 8*M*N*K real flops, and their tables."""
    r = cli(env, "bench", "kernels", "--quick", "--complex", "--shapes", "8x8x8,5x3x4", "--json",
            KEEP)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["sections"] == ["complex"] and data["dp"] == []
    cases = data["complex"]
    assert [(c["gemm"], c["m"], c["n"], c["k"]) for c in cases] == [
        ("zgemm", 8, 8, 8), ("zgemm", 5, 3, 4), ("cgemm", 8, 8, 8), ("cgemm", 5, 3, 4)
    ]  # fmt: skip
    _check_kernel_cases(cases, 1e-5)
    assert all(c["flop"] == 8 * c["m"] * c["n"] * c["k"] for c in cases)
    r = cli(env, "bench", "kernels", "--quick", "--complex", "--shapes", "4x4x4", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    for title in ("ZGEMM, NN, alpha=1, beta=1, cached operands: ns per call", "CGEMM, NN"):
        assert title in r.stdout, r.stdout
    assert "ours zgemm_" in r.stdout and "ours cgemm_" in r.stdout
    r = cli(env, "bench", "kernels", "--complex", "--families-only", KEEP)
    assert r.returncode == 2 and "not allowed with" in r.stderr


def test_bench_kernels_random_shapes(env: dict[str, str], cbuild: Path) -> None:
    """--random N: N distinct shapes within the default threshold, the same for the same seed,
    measured like --shapes."""
    from xsmmwrap.tools.bench_kernels import random_shapes

    shapes = random_shapes(64, 5)
    assert len(set(shapes)) == 64 and shapes == random_shapes(64, 5) != random_shapes(64, 6)
    assert all(1 <= d <= 64 for s in shapes for d in s)
    assert all(m * n * k <= 64**3 for m, n, k in shapes)
    r = cli(env, "bench", "kernels", "--quick", "--random", "3", "--seed", "5", "--json", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert [(c["m"], c["n"], c["k"]) for c in data["dp"]] == random_shapes(3, 5)
    _check_kernel_cases(data["dp"], 1e-12)
    assert cli(env, "bench", "kernels", "--random", "65", KEEP).returncode == 2


def test_bench_kernels_given_shapes(env: dict[str, str], cbuild: Path) -> None:
    """--shapes measures exactly the user's shapes, DP NN only, and prints their tables."""
    r = cli(env, "bench", "kernels", "--quick", "--shapes", "7x9x5,3x3x3", "--json", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["sections"] == ["dp"] and "dispatch" not in data
    assert [(c["m"], c["n"], c["k"]) for c in data["dp"]] == [(7, 9, 5), (3, 3, 3)]
    assert data["variants"] == [] and data["sp"] == []
    _check_kernel_cases(data["dp"], 1e-12)
    r = cli(env, "bench", "kernels", "--quick", "--shapes", "4x4x4", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [row[0] for row in table_rows(r.stdout, "MxNxK")][:2] == ["4x4x4", "geomean"]
    assert "find a known kernel" not in r.stdout


def test_bench_kernels_vs_target(env: dict[str, str], cbuild: Path) -> None:
    """--vs-target avx2: an instance started with XSMMWRAP_TARGET=avx2 and a control with the
    default target, both timed cached and streamed, both giving the contract's values (the
    portable kernel's, exactly); the table compares them. On any CPU: on one without AVX-512
    both instances run avx2."""
    r = cli(env, "bench", "kernels", "--quick", "--shapes", "7x9x5,13x5x7", "--vs-target",
            "avx2", "--json", KEEP)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    v = data["vs_target"]
    assert v["requested"] == "avx2" and v["target"] == "avx2"
    assert v["control_target"] == data["xsmmwrap"]["target"]
    for c in data["dp"]:
        for mode in ("cached", "streamed"):
            for peer in ("ours_control", "ours_target"):
                assert c[mode][peer]["ns"] > 0, (c["m"], mode, peer)
        assert c["max_rel_err"]["ours_target"] == 0 and c["max_rel_err"]["ours_control"] == 0
    from xsmmwrap.tools.bench_kernels import _target_table, target_ratio

    case = {"cached": {"ours_control": {"ns": 10.0}, "ours_target": {"ns": 9.0}}}
    assert target_ratio(case, "cached") == 0.9 and target_ratio(case, "streamed") is None
    lines = _target_table({**data, "dp": [{**data["dp"][0], **case, "m": 2, "n": 3, "k": 4}]})
    assert any("cached: lowest x 0.90x (2x3x4)" in x and ": 1 of 1" in x for x in lines), lines
    r = cli(env, "bench", "kernels", "--quick", "--shapes", "4x4x4", "--vs-target", "avx2", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "against XSMMWRAP_TARGET=avx2 (in use: avx2)" in r.stdout


def test_bench_kernels_shapes_from_a_run(env: dict[str, str], cbuild: Path, tmp_path: Path) -> None:
    """--shapes-from takes the shapes of a statistics file, most calls first, each once, none
    larger than the benchmark takes, none without calls."""

    def kernel(prec: str, m: int, n: int, k: int, calls: int, ta: str = "N") -> dict[str, Any]:
        return {"precision": prec, "trans_a": ta, "trans_b": "N", "m": m, "n": n, "k": k,
                "calls": calls}  # fmt: skip

    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"kernels": [
        kernel("f64", 4, 4, 4, 5), kernel("f32", 6, 5, 3, 50), kernel("f64", 300, 1, 1, 999),
        kernel("f64", 6, 5, 3, 7, ta="T"), kernel("f64", 9, 9, 9, 0),
    ]}))  # fmt: skip
    r = cli(env, "bench", "kernels", "--quick", "--shapes-from", str(stats), "--json", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [(c["m"], c["n"], c["k"]) for c in json.loads(r.stdout)["dp"]] == [(6, 5, 3), (4, 4, 4)]
    assert "shapes from" in r.stderr and "6x5x3, 4x4x4" in r.stderr
    stats.write_text(json.dumps({"kernels": [kernel("f64", 300, 1, 1, 9)]}))
    r = cli(env, "bench", "kernels", "--shapes-from", str(stats), KEEP)
    assert r.returncode == 2 and "no kernel" in r.stderr
    r = cli(env, "bench", "kernels", "--shapes", "4x4x4", "--shapes-from", str(stats), KEEP)
    assert r.returncode == 2 and "not allowed with" in r.stderr


@pytest.mark.parametrize("bad", ["3x3", "0x3x3", "3x3x3,", "257x1x1", "axbxc"])
def test_bench_kernels_rejects_bad_shapes(env: dict[str, str], bad: str) -> None:
    r = cli(env, "bench", "kernels", "--shapes", bad, KEEP)
    assert r.returncode == 2 and "--shapes" in r.stderr, r.stderr


# --- bench smm ------------------------------------------------------------------------------


def test_bench_smm_all_cases(env: dict[str, str], programs: Path, tmp_path: Path) -> None:
    saved = tmp_path / "smm.json"
    r = cli(
        env, "bench", "smm", "all", "8", "--size", "1", "--repeat", "1", "--save", str(saved), KEEP
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rows = table_rows(r.stdout, "case")
    assert [row[0] for row in rows] == ["0", "1", "2", "3", "4"]
    assert all(len(row) == 12 and row[-1] == "ok" for row in rows), r.stdout
    assert rows[4][5] == rows[4][6] == "-"  # no bandwidth for the cached case
    data = json.loads(saved.read_text())
    assert data["kind"] == "bench-smm" and data["ok"] is True
    assert (data["m"], data["n"], data["k"]) == (8, 8, 8)
    assert "blas_core" in data  # OpenBLAS's core name (None for another BLAS)
    assert data["wrapper"]["kernel_calls"] == data["wrapper"]["intercepted"] > 0
    streamed = [c["streamed"] for c in data["cases"]]
    assert streamed == ["ABC", "AB", "AC", "BC", ""]
    for c in data["cases"]:
        assert c["blas"]["checksum"] == c["xsmmwrap"]["checksum"]
        for side in ("blas", "xsmmwrap"):
            assert c[side]["gflops"] > 0 and c[side]["duration_s"] > 0
            if c["case"] != 4:
                assert c[side]["bandwidth_gbs"] > 0
            else:
                assert c[side]["bandwidth_gbs"] is None


def test_bench_smm_one_case_json(env: dict[str, str], programs: Path) -> None:
    r = cli(env, "bench", "smm", "0", "5", "7", "9", "--size", "1", "--repeat", "1", "--json", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert (data["m"], data["n"], data["k"]) == (5, 7, 9)
    assert [c["case"] for c in data["cases"]] == [0]


def test_bench_smm_rejects_bad_arguments(env: dict[str, str]) -> None:
    assert cli(env, "bench", "smm", "7", KEEP).returncode == 2
    assert cli(env, "bench", "smm", "0", "1", "2", "3", "4", KEEP).returncode == 2


def test_bench_smm_program_report(env: dict[str, str], programs: Path) -> None:
    r = run([str(programs / "bench-smm"), "--size", "1", "--repeat", "1", "all", "4"], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("performance:") == 5 and r.stdout.count("duration:") == 5
    assert r.stdout.count("bandwidth:") == 4  # not for the cached case
    assert "m=4 n=4 k=4" in r.stdout


# --- workloads ------------------------------------------------------------------------------

WORKLOADS = [
    ("nek-axhelm", ["16", "2"]),
    ("cp2k-stack", ["2000", "1"]),
    ("specfem-stiffness", ["40", "2"]),
]


@pytest.mark.parametrize(("name", "args"), WORKLOADS, ids=[w[0] for w in WORKLOADS])
def test_workload(env: dict[str, str], programs: Path, name: str, args: list[str]) -> None:
    program = programs / name
    if name == "specfem-stiffness" and not program.exists():
        if shutil.which("gfortran") is None:
            pytest.skip("no Fortran compiler: specfem-stiffness is not built")
        raise AssertionError("gfortran is installed but specfem-stiffness was not built")
    plain = run([str(program), *args], env)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert re.search(r"^time\s+[\d.]+ ms", plain.stdout, re.M), plain.stdout
    assert "WRONG" not in plain.stdout and " ok" in plain.stdout
    assert "wrapper: not loaded" in plain.stdout
    wrapped = cli(env, "run", "--", str(program), *args)
    assert wrapped.returncode == 0, wrapped.stdout + wrapped.stderr
    share = re.search(
        r"wrapper: (\d+) GEMM calls intercepted, ([\d.]+)% on the kernel path", wrapped.stdout
    )
    assert share, wrapped.stdout
    assert int(share.group(1)) > 0 and float(share.group(2)) == 100.0
    peer = programs / f"{name}-libxsmm"
    if LIBXSMM_INSTALLED:  # the same computation through LIBXSMM's call wrapper
        r = run([str(peer), *args], env)
        assert r.returncode == 0 and " ok" in r.stdout, r.stdout + r.stderr
        assert "wrapper: not loaded (linked with LIBXSMM's call wrapper" in r.stdout


BROKEN_BLAS = r"""
#include <stddef.h>
/* A dgemm_ that adds one ulp-sized error too many: C += A*B computed, then C[0] nudged. */
void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc, size_t l1, size_t l2)
{
    (void)ta; (void)tb; (void)l1; (void)l2;
    for (int j = 0; j < *n; j++)
        for (int i = 0; i < *m; i++) {
            double s = 0.0;
            for (int l = 0; l < *k; l++)
                s += a[i + (size_t)l * *lda] * b[l + (size_t)j * *ldb];  /* 'N','N' only */
            double *cij = &c[i + (size_t)j * *ldc];
            *cij = *alpha * s + (*beta == 0.0 ? 0.0 : *beta * *cij);
        }
    c[0] += 1e-3;
}
"""


@pytest.fixture(scope="module")
def broken_blas(tmp_path_factory: Any) -> Path:
    """A shared library whose dgemm_ is slightly wrong (and ignores transposes)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("broken")
    (d / "broken.c").write_text(BROKEN_BLAS)
    subprocess.run(
        [cc, "-O1", "-shared", "-fPIC", "-o", str(d / "libbroken.so"), str(d / "broken.c")],
        check=True,
    )
    return d / "libbroken.so"


@pytest.mark.parametrize(("name", "args"), WORKLOADS, ids=[w[0] for w in WORKLOADS])
def test_workload_detects_wrong_answer(
    env: dict[str, str], programs: Path, broken_blas: Path, name: str, args: list[str]
) -> None:
    """Each workload checks its answer: a wrong dgemm_ makes it fail."""
    program = programs / name
    if not program.exists():
        pytest.skip(f"{name} is not built")
    r = run([str(program), *args], {**env, "LD_PRELOAD": str(broken_blas)})
    assert r.returncode != 0, r.stdout
    assert "WRONG" in r.stdout


def test_dgemm_test_detects_wrong_result(
    env: dict[str, str], programs: Path, broken_blas: Path
) -> None:
    """The preloaded variant with a wrong dgemm_: the comparison fails, the status is 1."""
    r = cli({**env, "XSMMWRAP_LIBRARY": str(broken_blas)}, "dgemm-test", "300", KEEP)
    assert r.returncode == 1, r.stdout + r.stderr
    rows = {row[0]: row for row in table_rows(r.stdout, "variant")}
    assert rows["blas"][-1] == rows["wrap"][-1] == "ok"
    assert rows["preload"][-1] == "FAILED"
    assert "differs from the plain BLAS run" in r.stdout


def test_workload_usage_errors(env: dict[str, str], programs: Path) -> None:
    for name, bad in (
        ("nek-axhelm", ["x"]),
        ("cp2k-stack", ["0"]),
        ("nek-axhelm", ["1", "1", "2"]),
    ):
        r = run([str(programs / name), *bad], env)
        assert r.returncode == 2 and "usage" in r.stderr


def test_bench_workloads_quick(env: dict[str, str], programs: Path) -> None:
    """Every workload built, every way: timed, answers right, all calls on the kernel path."""
    r = cli(env, "bench", "workloads", "--quick", "--runs", "1", "--json", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["kind"] == "bench-workloads" and data["ok"] is True and data["quick"] is True
    built = [name for name, _ in WORKLOADS if (programs / name).is_file()]
    assert sorted(w["workload"] for w in data["workloads"]) == sorted(built)
    for w in data["workloads"]:
        ways = ["plain", "xsmmwrap"] + (["libxsmm"] if LIBXSMM_INSTALLED else [])
        assert all(w[way] > 0 for way in ways), w
        assert w["kernel_share"] == 1.0 and w["xsmmwrap_speedup"] > 0 and w["error"] is None
        assert (w.get("xsmmwrap_vs_libxsmm", 0) > 0) == LIBXSMM_INSTALLED
        # The GEMM-free way ran (its wrong answers expected) and gave the ceiling.
        # (cp2k-stack's GEMM-free --quick run can print 0.0 ms: no ceiling then).
        free = w["gemm-free"]
        assert free >= 0 and w["ceiling"] == (w["plain"] / free if free else None), w
    assert data["gemm_free"] == str(programs / "gemm-free.so")
    # Every figure names its CPU and target (the target the wrapped runs' statistics say).
    assert "family" in data["cpu_name"] and data["target"] in ("avx2", "avx512", "generic")
    r = cli(env, "bench", "workloads", "--quick", "--runs", "1", KEEP)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = table_rows(r.stdout, "workload")
    assert [row[0] for row in rows] == [w["workload"] for w in data["workloads"]] + ["geomean"]
    assert "GEMM-free ms" in r.stdout and "ceiling x" in r.stdout
    assert r.stdout.startswith(f"CPU: {data['cpu_name']}, every run pinned to CPU "), r.stdout


def test_gemm_free_skips_the_product(programs: Path) -> None:
    """The GEMM-free way's dgemm_: C := beta*C, A and B never read; so a workload runs its
    own arithmetic on finite numbers and its check fails (status 1, as the benchmark expects)."""
    import ctypes

    lib = ctypes.CDLL(str(programs / "gemm-free.so"))
    m, n, k, ld = 3, 2, 4, 5
    c = (ctypes.c_double * (ld * n))(*[float(i + 1) for i in range(ld * n)])
    a = (ctypes.c_double * (m * k))(*[float("nan")] * (m * k))
    b = (ctypes.c_double * (k * n))(*[float("nan")] * (k * n))
    dims = [ctypes.byref(ctypes.c_int(v)) for v in (m, n, k)]

    def call(beta: float) -> list[float]:
        one, bt = ctypes.c_double(1.0), ctypes.c_double(beta)
        lda, ldb, ldc = ctypes.c_int(m), ctypes.c_int(k), ctypes.c_int(ld)
        lib.dgemm_(
            b"N",
            b"N",
            *dims,
            ctypes.byref(one),
            a,
            ctypes.byref(lda),
            b,
            ctypes.byref(ldb),
            ctypes.byref(bt),
            c,
            ctypes.byref(ldc),
        )
        return list(c)

    start = list(c)
    assert call(1.0) == start
    doubled = call(2.0)
    assert doubled == [2 * x if i % ld < m else x for i, x in enumerate(start)]
    assert call(0.0) == [0.0 if i % ld < m else x for i, x in enumerate(start)]


def test_bench_workloads_gemm_split() -> None:
    """ceiling = plain / GEMM-free; on GEMM = (plain - free) / (ours - free); None when unknown."""
    from xsmmwrap.tools.bench_workloads import gemm_split

    assert gemm_split(0.10, 0.06, 0.04) == pytest.approx((2.5, 3.0))
    assert gemm_split(0.10, 0.04, 0.04) == (2.5, None)  # ours no slower than no GEMM at all
    assert gemm_split(0.10, None, 0.04) == (2.5, None)
    assert gemm_split(0.10, 0.06, None) == (None, None)


def test_bench_workloads_table_without_libxsmm() -> None:
    """Where LIBXSMM was not there at build time its columns say '-', the rest stands."""
    from xsmmwrap.tools.bench_workloads import format_report

    row = {"workload": "nek-axhelm", "shapes": "8x8x8", "plain": 0.04, "xsmmwrap": 0.02}
    row |= {"libxsmm": None, "xsmmwrap_speedup": 2.0, "kernel_share": 1.0, "error": None}
    text = format_report({"runs": 3, "workloads": [{**row, "ok": True}]})
    rows = table_rows(text, "workload")
    assert rows[0] == ["nek-axhelm", "8x8x8", "40.0", "20.0", "-", "2.00x", "-", "-", "100%", "ok"]
    assert rows[1] == ["geomean", "2.00x", "-", "-"], rows


def test_bench_workloads_fails_on_a_wrong_answer(
    env: dict[str, str], programs: Path, broken_blas: Path
) -> None:
    """The wrapped runs preload a wrong dgemm_: the workloads say so, the benchmark fails."""
    r = cli(
        {**env, "XSMMWRAP_LIBRARY": str(broken_blas)},
        "bench",
        "workloads",
        "--quick",
        "--runs",
        "1",
        KEEP,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    rows = table_rows(r.stdout, "workload")
    assert all(row[-1] == "FAILED" for row in rows[:-1]), r.stdout
    assert "xsmmwrap: exit status 1" in r.stdout


def test_app_py(env: dict[str, str]) -> None:
    pytest.importorskip("scipy")
    script = str(EXAMPLES / "app.py")
    plain = run([sys.executable, script], env)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "WRONG" not in plain.stdout and "time" in plain.stdout
    wrapped = cli(env, "run", "--", sys.executable, script)
    assert wrapped.returncode == 0, wrapped.stdout + wrapped.stderr
    assert re.search(r"wrapper: \d+ GEMM calls intercepted", wrapped.stdout), wrapped.stdout


# --- plot -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results(env: dict[str, str], programs: Path, tmp_path_factory: Any) -> dict[str, Path]:
    """Small result files of each kind."""
    out = tmp_path_factory.mktemp("results")
    files = {}
    for name, args in (
        ("smm8", ["bench", "smm", "all", "8", "--size", "1", "--repeat", "1"]),
        ("smm13", ["bench", "smm", "0", "13", "--size", "1", "--repeat", "1"]),
        ("dgemm", ["dgemm-test", "300"]),
        ("dispatch", ["bench", "dispatch", "100"]),
        ("workloads", ["bench", "workloads", "--quick", "--runs", "1"]),
    ):
        r = cli(env, *args, "--json", KEEP)
        assert r.returncode == 0, r.stdout + r.stderr
        files[name] = out / f"{name}.json"
        files[name].write_text(r.stdout)
    return files


def test_plot_png(env: dict[str, str], results: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "chart.png"
    r = cli(env, "plot", *(str(p) for p in results.values()), "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    data = out.read_bytes()
    assert len(data) > 1000 and data[:8] == PNG_MAGIC


def test_plot_list_of_results_pdf(
    env: dict[str, str], results: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    combined = tmp_path / "all.json"
    combined.write_text(json.dumps([json.loads(results[k].read_text()) for k in ("smm8", "smm13")]))
    out = tmp_path / "chart.pdf"
    r = cli(env, "plot", str(combined), "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.stat().st_size > 0 and out.read_bytes()[:5] == b"%PDF-"
    r = cli(env, "plot", str(results["dgemm"]))  # default output: next to the input
    assert r.returncode == 0, r.stdout + r.stderr
    assert results["dgemm"].with_suffix(".png").read_bytes()[:8] == PNG_MAGIC


def test_plot_rejects_other_json(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"something": 1}')
    r = cli(env, "plot", str(bad), "-o", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "not a result" in r.stderr
    bad.write_text("not json")
    assert cli(env, "plot", str(bad)).returncode == 2


# --- progress and environment ---------------------------------------------------------------


def test_progress_only_on_a_terminal(env: dict[str, str], programs: Path) -> None:
    argv = [str(programs / "dgemm-test-blas"), *DGEMM_23, "300000"]
    quick = {**env, "SAMPLE_PROGRESS_DELAY": "0", "SAMPLE_PROGRESS_LABEL": "test"}
    piped = run(argv, quick)
    assert piped.returncode == 0 and piped.stderr == ""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            argv, env=quick, stdout=subprocess.PIPE, stderr=follower, timeout=600, check=False
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    assert re.search(rb"test: dgemm-test: +[\d.]+%", shown), shown


def _in_checkout(env: dict[str, str], code: str) -> None:
    """Run `code` in a fresh interpreter that imports this checkout's package."""
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_python_progress_line(env: dict[str, str]) -> None:
    _in_checkout(
        env,
        """
import io
from xsmmwrap.tools._console import Progress

class Terminal(io.StringIO):
    def isatty(self):
        return True

term = Terminal()
p = Progress("bench", stream=term, delay=0.0)
p.step("variant 1/2")
p.done()
assert "bench: variant 1/2" in term.getvalue(), term.getvalue()
pipe = io.StringIO()
p = Progress("bench", stream=pipe, delay=0.0)
p.step("variant 1/2")
p.done()
assert pipe.getvalue() == ""
late = Terminal()
p = Progress("bench", stream=late)  # the default: nothing in the first 2 s
p.step("variant 1/2")
assert late.getvalue() == ""
""",
    )


def test_benchmark_env_drops_openblas_settings(env: dict[str, str]) -> None:
    """Only the benchmark's child environment loses them; keep_openblas_env keeps them."""
    child = {
        **env,
        "OPENBLAS_CORETYPE": "Haswell",
        "OPENBLAS_L2_SIZE": "262144",
        "LD_PRELOAD": "/x/libxsmmwrap.so:/y/libother.so",
        "XSMMWRAP_STATS_JSON": "/tmp/stats.json",
    }
    _in_checkout(
        child,
        """
import os
from pathlib import Path
from xsmmwrap.tools.samples import sample_env

plain = sample_env()
assert "OPENBLAS_CORETYPE" not in plain and "OPENBLAS_L2_SIZE" not in plain
assert plain["LD_PRELOAD"] == "/y/libother.so" and "XSMMWRAP_STATS_JSON" not in plain
assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"
kept = sample_env(keep_openblas_env=True, preload=Path("/z/libxsmmwrap.so"), label="x")
assert kept["OPENBLAS_CORETYPE"] == "Haswell" and kept["OPENBLAS_L2_SIZE"] == "262144"
assert kept["LD_PRELOAD"] == "/z/libxsmmwrap.so:/y/libother.so", kept["LD_PRELOAD"]
assert kept["SAMPLE_PROGRESS_LABEL"] == "x"
""",
    )
