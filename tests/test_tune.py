"""The tuning file (issue 13, docs/TUNING.md): `xsmmwrap tune` on a tiny set, the library's
reader (a file it accepts, every rejection with its one line on stderr), routing per
descriptor, results that do not change, determinism; and the settings that name files
(XSMMWRAP_BLAS, XSMMWRAP_DUMP) said when unusable.

Each library case runs a small Python program in a subprocess that loads libxsmmwrap.so with
ctypes and calls its dgemm_ (the original BLAS named by XSMMWRAP_BLAS), as tests/test_library.py
does. Tests check behaviour, not speed: which route each call took, never how fast it was.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, clean_env
from xsmmwrap.tools.tune import untuned_index

BLAS = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"

# dgemm_ on the shapes argv[3:] ("MxNxK" beta 0, "MxNxK:1" beta 1), alpha 1, NN, tight lds;
# every result's bytes appended to the file argv[2].
PROGRAM = r"""
import ctypes as ct, sys
import numpy as np
lib = ct.CDLL(sys.argv[1])
I, D = ct.c_int32, ct.c_double
rng = np.random.default_rng(7)
out = open(sys.argv[2], "wb")
for spec in sys.argv[3:]:
    shape, _, beta = spec.partition(":")
    m, n, k = (int(x) for x in shape.split("x"))
    a = np.asfortranarray(rng.standard_normal((m, k)))
    b = np.asfortranarray(rng.standard_normal((k, n)))
    c = np.asfortranarray(rng.standard_normal((m, n)))
    bv = float(beta or 0.0)
    want = a @ b + bv * c
    lib.dgemm_(b"N", b"N", ct.byref(I(m)), ct.byref(I(n)), ct.byref(I(k)), ct.byref(D(1.0)),
               a.ctypes.data_as(ct.c_void_p), ct.byref(I(m)), b.ctypes.data_as(ct.c_void_p),
               ct.byref(I(k)), ct.byref(D(bv)), c.ctypes.data_as(ct.c_void_p), ct.byref(I(m)),
               ct.c_size_t(1), ct.c_size_t(1))
    assert np.allclose(c, want, rtol=1e-11, atol=1e-11), spec
    out.write(c.tobytes(order="F"))
"""


def run(
    libpath: Path, shapes: list[str], tmp_path: Path, **env: str
) -> tuple[str, dict[str, Any], bytes]:
    """stderr, the statistics and the results' bytes of one run."""
    stats, results = tmp_path / "stats.json", tmp_path / "results.bin"
    r = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(libpath), str(results), *shapes],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(XSMMWRAP_STATS_JSON=str(stats), XSMMWRAP_BLAS=BLAS, **env),
    )
    assert r.returncode == 0, r.stderr
    return r.stderr, json.loads(stats.read_text()), results.read_bytes()


@pytest.fixture(scope="module")
def cli_env(cbuild: Path) -> dict[str, str]:
    """The CLI from this checkout, with the build's programs and library."""
    return clean_env(
        XSMMWRAP_BUILD_DIR=str(cbuild),
        XSMMWRAP_LIBRARY=str(cbuild / "libxsmmwrap.so"),
        XSMMWRAP_BLAS=BLAS,
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(ROOT / "python"), os.environ.get("PYTHONPATH")])
        ),
    )


def xsmmwrap(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsmmwrap", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


FAST = ("--min-time", "0.0005", "--repeats", "1", "--cpu", "0")


@pytest.fixture(scope="module")
def made(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A file `xsmmwrap tune` made on this machine for a tiny set (timings too short to mean
    anything: the tests check what is done with a choice, not which one is made)."""
    out = tmp_path_factory.mktemp("tune") / "tune.json"
    r = xsmmwrap(cli_env, "tune", "--shapes", "8x8x8,13x5x7,72x72x72", "-o", str(out), *FAST)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 descriptors written to" in r.stderr
    assert "dgemm_nn_72x72x72_lda72_ldb72_ldc72_a1_b1" in r.stdout  # the table
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def entry(doc: dict[str, Any], m: int, n: int, k: int, beta: str = "1") -> dict[str, Any]:
    return next(
        e for e in doc["entries"] if (e["m"], e["n"], e["k"], e["beta"]) == (m, n, k, beta)
    )


def pick(e: dict[str, Any], route: str, target: str | None = None, plan: bool = False) -> None:
    """Make entry e choose a candidate of this route (and target; with a plan of its own)."""
    for i, c in enumerate(e["candidates"]):
        if c["route"] != route or (target and c["target"] != target):
            continue
        if route == "kernel" and plan != bool(c["mb_max"] or c["nb_max"]):
            continue
        e["choice"] = i
        return
    pytest.skip(f"no {route} {target or ''} candidate measured")


def pick_moved_kernel(e: dict[str, Any], own: str) -> dict[str, Any]:
    """Make entry e choose a kernel the wrapper would not make without the file, and return it:
    another target's than the CPU's own where it has two, else a plan of its own (an AVX2-only
    CPU has one target; 8x8x8 and 13x5x7 have plans on both kinds)."""
    default = untuned_index(e, own)
    moved = [i for i, c in enumerate(e["candidates"]) if c["route"] == "kernel" and i != default]
    assert moved, f"tune measured no other kernel for {e['m']}x{e['n']}x{e['k']}"
    e["choice"] = min(moved, key=lambda i: e["candidates"][i]["target"] == own)
    return dict(e["candidates"][e["choice"]])


def write(tmp_path: Path, doc: Any, name: str = "t.json") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


def test_tune_writes_a_file_the_library_uses(
    made: dict[str, Any], libpath: Path, tmp_path: Path
) -> None:
    """The file names this machine, the BLAS and each descriptor with its measured candidates;
    the library reads it and the calls it names follow it."""
    assert made["schema"] == "xsmmwrap-tune/1" and len(made["entries"]) == 3
    assert made["blas"]["path"].startswith("/") and made["blas"]["bytes"] > 0
    for e in made["entries"]:
        routes = [c["route"] for c in e["candidates"]]
        assert routes.count("blas") == 1 and "kernel" in routes
        assert 0 <= e["choice"] < len(routes)
        assert all(c["cached_ns"] > 0 and c["streamed_ns"] > 0 for c in e["candidates"])
    doc = copy.deepcopy(made)
    pick(entry(doc, 8, 8, 8), "blas")
    pick(entry(doc, 72, 72, 72), "kernel", plan=True)
    pick(entry(doc, 13, 5, 7), "kernel", made["cpu"]["isa"])  # what the defaults do anyway
    f = write(tmp_path, doc)
    shapes = ["8x8x8:1", "7x7x7:1", "72x72x72:1", "13x5x7:1"]
    err, stats, _ = run(libpath, shapes, tmp_path, XSMMWRAP_TUNE=str(f))
    assert err == ""
    tune = stats["tune"]
    assert (tune["file"], tune["state"], tune["entries"], tune["moved"]) == (str(f), "in use", 3, 2)
    assert tune["calls"] == 2  # 8x8x8 and 72x72x72 routed by it; 13x5x7 as by default
    tuned = {(k["m"], k["tuned"]) for k in stats["kernels"]}
    assert tuned == {(7, False), (72, True), (13, False)}


def test_routing_per_descriptor(made: dict[str, Any], libpath: Path, tmp_path: Path) -> None:
    """Each named descriptor takes its choice: the original BLAS (route tuned_blas), a kernel of
    another target (or another plan), a kernel above the threshold; unnamed ones today's rules."""
    doc = copy.deepcopy(made)
    pick(entry(doc, 8, 8, 8), "blas")
    other = pick_moved_kernel(entry(doc, 13, 5, 7), made["cpu"]["isa"])
    pick(entry(doc, 72, 72, 72), "kernel", plan=True)
    f = write(tmp_path, doc)
    shapes = ["8x8x8:1", "8x8x8:1", "13x5x7:1", "72x72x72:1", "7x7x7:1", "8x8x8", "80x80x80:1"]
    err, stats, _ = run(libpath, shapes, tmp_path, XSMMWRAP_TUNE=str(f), LIBXSMM_VERBOSE="2")
    routes = stats["routes"]
    assert routes["tuned_blas"] == 2  # 8x8x8 beta 1
    assert routes["too_large"] == 1  # 80^3 is not named
    assert routes["jit"] == 4  # 13x5x7, 72^3 (above the threshold), 7^3, 8^3 beta 0
    kernels = {(k["m"], k["beta"]): k for k in stats["kernels"]}
    k13, plan = kernels[(13, "1")], ("target", "mb_max", "nb_max")
    assert [k13[x] for x in plan] == [other[x] for x in plan] and k13["tuned"]
    k72 = kernels[(72, "1")]
    chosen = entry(doc, 72, 72, 72)["candidates"][entry(doc, 72, 72, 72)["choice"]]
    assert (k72["mb_max"], k72["nb_max"]) == (chosen["mb_max"], chosen["nb_max"]) != (0, 0)
    assert k72["tuned"] and not kernels[(7, "1")]["tuned"] and not kernels[(8, "0")]["tuned"]
    assert stats["tune"]["calls"] == 4 and stats["tune"]["blas_calls"] == 2
    assert re.search(r"^  original BLAS:     3 \(42\.9%\): too_large 1, tuned_blas 2$", err, re.M)
    assert re.search(rf"^  tuning file:       {re.escape(str(f))} \(3 descriptors, 3 routed "
                     r"otherwise\): 4 calls followed it \(2 kernel, 2 original BLAS\)$", err,
                     re.M), err  # fmt: skip
    assert re.search(r"^  original library:  /\S+ \(dgemm_\)$", err, re.M)
    assert re.search(r"_72x72x72_\S+_p\d+x\d+\s+1\s+[\d.]+%\s+[\d.]+  tuned$", err, re.M), err


def test_tuning_changes_no_result_and_is_deterministic(
    made: dict[str, Any], libpath: Path, tmp_path: Path
) -> None:
    """A plan or target changes no element (the arithmetic contract): the results with the file
    are the untuned kernels' bit for bit; and the same file gives the same routing twice."""
    doc = copy.deepcopy(made)
    pick_moved_kernel(entry(doc, 13, 5, 7), made["cpu"]["isa"])
    pick(entry(doc, 72, 72, 72), "kernel", plan=True)
    pick_moved_kernel(entry(doc, 8, 8, 8), made["cpu"]["isa"])
    f = write(tmp_path, doc)
    shapes = ["13x5x7:1", "72x72x72:1", "8x8x8:1", "5x5x5"]
    _, plain, bits = run(libpath, shapes, tmp_path, XSMMWRAP_MAX_MNK=str(128**3))
    _, first, tuned_bits = run(libpath, shapes, tmp_path, XSMMWRAP_TUNE=str(f))
    _, second, again = run(libpath, shapes, tmp_path, XSMMWRAP_TUNE=str(f))
    assert tuned_bits == bits == again
    assert first["tune"]["calls"] == 3
    for key in ("routes", "kernels", "tune"):
        assert first[key] == second[key]
    assert {(k["m"], k["target"], k["mb_max"], k["nb_max"]) for k in first["kernels"]} != {
        (k["m"], k["target"], k["mb_max"], k["nb_max"]) for k in plain["kernels"]
    }


def _mutations(doc: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(name, damaged document or text, the reason the library must give)."""
    out: list[tuple[str, Any, str]] = []

    def change(name: str, why: str, edit: Any) -> None:
        d = copy.deepcopy(doc)
        edit(d)
        out.append((name, d, why))

    text = json.dumps(doc)
    out.append(("empty", "", "not valid JSON at byte 0: unexpected end"))
    out.append(("truncated", text[: len(text) // 2], "not valid JSON at byte"))
    out.append(("trailing", text + " []", "not valid JSON at byte .*: more after the document"))
    out.append(("comment", "// x\n" + text, "not valid JSON at byte 0"))
    out.append(("duplicate key", text.replace('"library"', '"library": "x", "library"', 1),
                "not valid JSON at byte .*: duplicate key"))  # fmt: skip
    out.append(("nan", text.replace('"cached_ns": ', '"cached_ns": NaN, "x": ', 1),
                "not valid JSON"))  # fmt: skip
    change("schema", "not a tuning file of schema xsmmwrap-tune/1",
           lambda d: d.update(schema="xsmmwrap-tune/2"))  # fmt: skip
    change("unknown key", 'file: unknown key "extra"', lambda d: d.update(extra=1))
    change("missing key", 'file: no "entries"', lambda d: d.pop("entries"))
    change("cpu type", r"cpu.family: not an integer", lambda d: d["cpu"].update(family="6"))
    change("blas config", "blas.config: neither a string nor null",
           lambda d: d["blas"].update(config=1))  # fmt: skip
    change("precision", r'entries\[0\].precision: "f16" is none of the values allowed',
           lambda d: d["entries"][0].update(precision="f16"))  # fmt: skip
    change("size", r"entries\[1\].m: not an integer from 1 to 4294967295",
           lambda d: d["entries"][1].update(m=0))  # fmt: skip
    change("alpha 0", r"entries\[0\]: alpha 0 never reaches a kernel",
           lambda d: d["entries"][0].update(alpha="0"))  # fmt: skip
    change("ld", r"entries\[0\]: a leading dimension below its rows",
           lambda d: d["entries"][0].update(lda=d["entries"][0]["m"] - 1))  # fmt: skip
    change("choice", r"entries\[2\].choice: not an integer from 0 to",
           lambda d: d["entries"][2].update(choice=len(d["entries"][2]["candidates"])))  # fmt: skip
    change("twice", r"entries\[3\]: the descriptor of entries\[0\] again",
           lambda d: d["entries"].append(copy.deepcopy(d["entries"][0])))  # fmt: skip
    change("candidate key", r"entries\[0\].candidates\[0\]: unknown key \"kernel\"",
           lambda d: d["entries"][0]["candidates"][0].update(kernel="x"))  # fmt: skip
    change("time", r"entries\[0\].candidates\[0\].cached_ns: not a time",
           lambda d: d["entries"][0]["candidates"][0].update(cached_ns=-1))  # fmt: skip
    change("target", r"entries\[0\].candidates\[0\].target: \w+ is no generated target",
           lambda d: d["entries"][0]["candidates"][0].update(target="generic"))  # fmt: skip
    change("version", r"made by xsmmwrap 0\.0\.1, this is ",
           lambda d: d.update(library="0.0.1"))  # fmt: skip
    change("cpu", r"made for another CPU \(GenuineIntel family 6 model 85 stepping 4",
           lambda d: d["cpu"].update(vendor="GenuineIntel", family=6, model=85,
                                     stepping=4))  # fmt: skip
    return out


def test_every_rejection_has_its_reason(
    made: dict[str, Any], libpath: Path, tmp_path: Path
) -> None:
    """A damaged file, another schema, another library version or CPU: ignored with one line
    on stderr saying why, defaults kept (the calls route as without a file), no crash."""
    _, plain, _ = run(libpath, ["8x8x8:1", "72x72x72:1"], tmp_path)
    for name, doc, why in _mutations(made):
        f = write(tmp_path, doc, "bad.json")
        err, stats, _ = run(libpath, ["8x8x8:1", "72x72x72:1"], tmp_path, XSMMWRAP_TUNE=str(f))
        line = (
            rf"^xsmmwrap: tuning file {re.escape(str(f))} ignored: {why}.*; "
            r"the default routing is used\n$"
        )
        assert re.match(line, err), (name, err)
        assert stats["tune"]["state"] == "ignored" and stats["tune"]["calls"] == 0, name
        assert stats["routes"] == plain["routes"], name


def test_a_file_for_another_blas_is_ignored_at_its_first_call(
    made: dict[str, Any], libpath: Path, tmp_path: Path
) -> None:
    doc = copy.deepcopy(made)
    doc["blas"]["bytes"] += 1
    pick(entry(doc, 8, 8, 8), "blas")  # checked at the first call the file routes otherwise
    f = write(tmp_path, doc)
    shapes = ["7x7x7", "8x8x8:1", "72x72x72:1"]
    err, stats, _ = run(libpath, shapes, tmp_path, XSMMWRAP_TUNE=str(f))
    assert re.match(rf"^xsmmwrap: tuning file {re.escape(str(f))} ignored: made for another BLAS "
                    r"\(.*; dgemm_ here is /.*\); the default routing is used\n$",
                    err), err  # fmt: skip
    assert stats["tune"]["state"] == "ignored" and stats["tune"]["calls"] == 0
    assert stats["routes"]["too_large"] == 1  # 72^3: the default threshold again


def test_missing_file_and_off(made: dict[str, Any], libpath: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    err, stats, _ = run(libpath, ["8x8x8"], tmp_path, XSMMWRAP_TUNE=str(missing))
    assert err == (
        f"xsmmwrap: tuning file {missing} ignored: cannot be read: No such file or directory; "
        "the default routing is used\n"
    )
    assert stats["tune"]["state"] == "ignored"
    err, stats, _ = run(libpath, ["8x8x8"], tmp_path, XSMMWRAP_TUNE="0")
    assert err == "" and stats["tune"] == {
        "file": None, "state": "none", "reason": "", "entries": 0, "moved": 0, "calls": 0,
        "blas_calls": 0,
    }  # fmt: skip


def test_default_cache_file(made: dict[str, Any], libpath: Path, tmp_path: Path) -> None:
    """Without XSMMWRAP_TUNE the library reads this CPU's file under $XDG_CACHE_HOME (named as
    config() says); XSMMWRAP_TUNE=0 ignores it."""
    probe = (
        "import ctypes as ct, sys\n"
        "import xsmmwrap\n"
        "print(xsmmwrap.config().tune_default)\n"
    )
    cache = tmp_path / "cache"
    env = clean_env(XDG_CACHE_HOME=str(cache), XSMMWRAP_LIBRARY=str(libpath),
                    PYTHONPATH=str(ROOT / "python"))  # fmt: skip
    default = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert default.startswith(f"{cache}/xsmmwrap/tune-") and default.endswith(".json")
    Path(default).parent.mkdir(parents=True)
    doc = copy.deepcopy(made)
    pick(entry(doc, 8, 8, 8), "blas")
    Path(default).write_text(json.dumps(doc))
    _, stats, _ = run(libpath, ["8x8x8:1"], tmp_path, XDG_CACHE_HOME=str(cache))
    assert stats["tune"]["file"] == default and stats["routes"]["tuned_blas"] == 1
    _, stats, _ = run(libpath, ["8x8x8:1"], tmp_path, XDG_CACHE_HOME=str(cache), XSMMWRAP_TUNE="0")
    assert stats["tune"]["state"] == "none" and stats["routes"]["tuned_blas"] == 0


def test_python_api_shows_the_file(made: dict[str, Any], libpath: Path, tmp_path: Path) -> None:
    doc = copy.deepcopy(made)
    other = pick_moved_kernel(entry(doc, 8, 8, 8), made["cpu"]["isa"])
    f = write(tmp_path, doc)
    code = (
        "import numpy as np, xsmmwrap\n"
        "a = np.ones((8, 8), order='F')\n"
        "xsmmwrap.gemm(a, a, np.ones((8, 8), order='F'), beta=1.0)\n"
        "c = xsmmwrap.config(); k = xsmmwrap.kernels()[0]; s = xsmmwrap.stats()\n"
        "print(c.tune_file, c.tune_state, c.tune_entries, k.tuned, k.target, s.tuned_calls)\n"
    )
    env = clean_env(XSMMWRAP_TUNE=str(f), XSMMWRAP_LIBRARY=str(libpath), XSMMWRAP_BLAS=BLAS,
                    PYTHONPATH=str(ROOT / "python"))  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(f), "in", "use", "3", "True", other["target"], "1"]


def test_tune_from_statistics_and_show(
    cli_env: dict[str, str], libpath: Path, tmp_path: Path
) -> None:
    """--shapes-from: the exact descriptors of a run (transposes, lds, scale classes,
    precision); --show prints the file; the file the library then reads routes those calls."""
    _, stats, _ = run(libpath, ["6x6x6", "6x6x6", "9x4x3:1"], tmp_path)
    src = write(tmp_path, stats, "stats.json")
    out = tmp_path / "from.json"
    r = xsmmwrap(cli_env, "tune", "--shapes-from", str(src), "-o", str(out), "-q", *FAST)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    got = [(e["m"], e["n"], e["k"], e["beta"], e["calls"]) for e in doc["entries"]]
    assert got == [(6, 6, 6, "0", 2), (9, 4, 3, "1", 1)]
    r = xsmmwrap(cli_env, "tune", "--show", str(out))
    assert r.returncode == 0 and "dgemm_nn_6x6x6_lda6_ldb6_ldc6_a1_b0" in r.stdout
    _, tuned, _ = run(libpath, ["6x6x6", "6x6x6", "9x4x3:1"], tmp_path, XSMMWRAP_TUNE=str(out))
    moved = [e for e in doc["entries"] if e["choice"] != untuned_index(e, stats["target"])]
    assert tuned["tune"]["state"] == "in use" and tuned["tune"]["moved"] == len(moved)
    assert tuned["tune"]["calls"] == sum(2 if e["m"] == 6 else 1 for e in moved)
    bad = xsmmwrap(cli_env, "tune", "--shapes", "8x8x8x8")
    assert bad.returncode == 2 and "neither MxNxK nor a kernel name" in bad.stderr
    bad = xsmmwrap(cli_env, "tune", "--shapes", "256x256x256")
    assert bad.returncode == 2 and "above 128^3" in bad.stderr


def test_choice_rule() -> None:
    """The winner: the highest worst gain over the faster of the BLAS and the untuned kernel;
    the untuned kernel kept within 3%."""
    from xsmmwrap.tools.tune import choose

    def e(*cands: tuple[str, int, float, float], mnk: int = 8) -> dict[str, Any]:
        return {
            "m": mnk, "n": mnk, "k": mnk,
            "candidates": [
                {"route": r, "target": "avx512", "mb_max": p, "nb_max": p, "cached_ns": c,
                 "streamed_ns": s} if r == "kernel"
                else {"route": r, "cached_ns": c, "streamed_ns": s}
                for r, p, c, s in cands
            ],
        }  # fmt: skip

    untuned, blas = ("kernel", 0, 100.0, 200.0), ("blas", 0, 150.0, 300.0)
    assert choose(e(untuned, ("kernel", 2, 98.0, 198.0), blas), "avx512") == 0  # within 3%
    assert choose(e(untuned, ("kernel", 2, 80.0, 190.0), blas), "avx512") == 1
    assert choose(e(untuned, ("kernel", 2, 50.0, 260.0), blas), "avx512") == 0  # streamed worse
    assert choose(e(untuned, ("kernel", 2, 120.0, 220.0), ("blas", 0, 90.0, 150.0)), "avx512") == 2
    assert choose(e(untuned, blas, mnk=80), "avx512") == 0  # above the threshold: the kernel
    assert choose(e(untuned, ("blas", 0, 99.0, 199.0), mnk=80), "avx512") == 1  # BLAS kept


def test_unusable_blas_and_dump_are_said(libpath: Path, tmp_path: Path) -> None:
    """XSMMWRAP_BLAS naming nothing loadable, XSMMWRAP_DUMP naming no directory: one line each
    at start, the setting dropped; the report names the library that served forwarded calls."""
    err, stats, _ = run(libpath, ["8x8x8", "80x80x80"], tmp_path, XSMMWRAP_DUMP="/etc/passwd",
                        LIBXSMM_VERBOSE="1")  # fmt: skip
    assert err.startswith("xsmmwrap: XSMMWRAP_DUMP=/etc/passwd ignored: not a directory: no kernel "
                          "is dumped\n")  # fmt: skip
    lib = stats["original_blas"][0]
    assert lib["symbols"] == ["dgemm_"] and "openblas" in lib["path"].lower()
    assert re.search(rf"^  original library:  {re.escape(lib['path'])} \(dgemm_\)$", err, re.M)
    r = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(libpath), str(tmp_path / "r.bin"), "8x8x8"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(XSMMWRAP_BLAS="/nonexistent.so"),
    )
    assert r.returncode == 0
    assert r.stderr == (
        "xsmmwrap: XSMMWRAP_BLAS=/nonexistent.so ignored: cannot be loaded (/nonexistent.so: "
        "cannot open shared object file: No such file or directory): the original BLAS is looked "
        "for as without it\n"
    )


def _c_program_passes(cbuild: Path, name: str) -> None:
    """Runs tests/c/NAME, which prints "N passed, M failed" (check.h)."""
    r = subprocess.run(
        [str(cbuild / "tests" / "c" / name)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout + r.stderr


def test_reader_in_process(cbuild: Path) -> None:
    """tests/c/test_tune_file.c: a valid file in use, each damage with its reason, 600 random
    damages without a crash (the sanitizer build runs it too: tests/test_sanitizers.py)."""
    _c_program_passes(cbuild, "test_tune_file")


def test_json_reader(cbuild: Path) -> None:
    """tests/c/test_json.c: 200000 numbers read as strtod reads them (most are converted
    without it), containers of 20000 members whole, and what RFC 8259 refuses refused."""
    _c_program_passes(cbuild, "test_json")


def test_bench_kernels_times_the_file(
    made: dict[str, Any], cli_env: dict[str, str], cbuild: Path, tmp_path: Path
) -> None:
    """`bench kernels --tune`: a second instance reads the file, a third (the control) does
    not; each shape says whether its call followed the file; the recheck pass times again, with
    the comparison's peers only, every case below the threshold it is given (here all)."""
    doc = copy.deepcopy(made)
    pick(entry(doc, 8, 8, 8), "blas")
    f = write(tmp_path, doc)
    saved = tmp_path / "kernels.json"
    r = xsmmwrap(
        cli_env, "bench", "kernels", "--quick", "--cpu", "0", "--shapes", "8x8x8,5x5x5",
        "--tune", str(f), "--save", str(saved),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Tuning file {f} (in use, 3 descriptors)" in r.stdout
    assert "lowest x over shapes and modes:" in r.stdout
    assert "first instance over the untuned copy:" in r.stdout
    data = json.loads(saved.read_text())
    followed = {c["m"]: c["tune_followed"] for c in data["dp"]}
    assert followed == {8: True, 5: False}
    for c in data["dp"]:
        for mode in ("cached", "streamed"):
            for peer in ("ours_gemm", "ours_tuned", "ours_control"):
                assert c[mode][peer]["ns"] > 0, (c["m"], mode, peer)
    exe = cbuild / "examples" / "bench-kernels"
    argv = [str(exe), "--lib", str(cbuild / "libxsmmwrap.so"), "--blas", BLAS, "--quick"]
    argv += ["--stream-mb", "8", "--shapes", "6x6x6", "--tune", str(f), "--recheck-below", "1e9"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=cli_env)
    assert p.returncode == 0, p.stderr
    (case,) = json.loads(p.stdout)["dp"]
    for mode in ("cached", "streamed"):
        again = {k for k, v in case[f"{mode}_recheck"].items() if v}
        assert again == {"ours_gemm", "blas", "ours_tuned", "ours_control"}, mode
    from xsmmwrap.tools.bench_kernels import _tuned_table, tuned_gain

    # The second pass decides, against the control (the first instance only shown), and the
    # table shows both passes.
    def peers(first: float, control: float, tuned: float) -> dict[str, Any]:
        ns = {"ours_gemm": first, "ours_control": control, "blas": 20.0, "ours_tuned": tuned}
        return {p: {"ns": v} for p, v in ns.items()}

    case: dict[str, Any] = {"m": 6, "n": 6, "k": 6, "tune_followed": False}
    case["cached"], case["cached_recheck"] = peers(4.0, 5.0, 9.0), peers(4.0, 5.0, 5.0)
    case["streamed"] = peers(5.0, 5.0, 5.0)
    assert (tuned_gain(case, "cached"), tuned_gain(case, "streamed")) == (1.0, 1.0)
    lines = _tuned_table({"tune": {"file": "t", "in_use": True, "entries": 1}, "dp": [case]})
    first = "first pass untuned / OpenBLAS / tuned ns: 6x6x6 cached 5.0 / 20.0 / 9.0"
    assert any(first in x for x in lines)
    assert any("lowest x over shapes and modes: 1.00x" in x and "(met)" in x for x in lines)
    assert any("first instance over the untuned copy: 0.80x to 1.00x" in x for x in lines)
    del case["cached_recheck"]["ours_control"]  # no control: the first instance is the untuned
    assert tuned_gain(case, "cached") == 0.8


def test_bench_workloads_with_the_file(
    made: dict[str, Any], cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`bench workloads --tune`: a tuned way and a control way (run as the untuned one is),
    each with its median ratio of the rounds to the untuned way, and the share of calls that
    followed the file."""
    f = write(tmp_path, made)
    quick = ("bench", "workloads", "--quick", "--tune", str(f))
    r = xsmmwrap(cli_env, *quick, "--runs", "2", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["tune"] == str(f) and data["workloads"]
    for w in data["workloads"]:
        assert w["tuned"] > 0 and w["control"] > 0 and w["xsmmwrap"] > 0, w
        assert w["tuned_vs_xsmmwrap"] > 0 and w["control_vs_xsmmwrap"] > 0, w
        assert 0 <= w["tuned_calls"] <= 1, w
    r = xsmmwrap(cli_env, *quick, "--runs", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "control/xsmmwrap" in r.stdout and "tuned/xsmmwrap" in r.stdout
