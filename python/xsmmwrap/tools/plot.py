"""``xsmmwrap plot``: charts of sample benchmark results (matplotlib, Agg backend).

Reads the JSON written by ``xsmmwrap bench smm --json``, ``xsmmwrap dgemm-test --json``,
``xsmmwrap bench dispatch --json`` and ``xsmmwrap bench workloads --json``: one document per
file, or a list of documents, and any number of files. Draws one panel per kind (and per SMM
case): GFLOP/s per shape for the original BLAS and the wrapper side by side, sorted by M*N*K
like LIBXSMM's magazine charts; the dgemm-test variants per shape; dispatch nanoseconds per
measurement (log scale); each workload's speed-up over plain, ours and LIBXSMM's wrapper's.
The file type follows the output's suffix (.png, .pdf, .svg).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["configure", "load", "main", "plot"]

BLAS_COLOR = "#7f7f7f"
WRAP_COLOR = "#1f77b4"
PEER_COLOR = "#9467bd"
VARIANT_COLORS = {
    "blas": BLAS_COLOR,
    "wrap": "#ff7f0e",
    "preload": WRAP_COLOR,
    "libxsmm": PEER_COLOR,
}
KINDS = ("bench-smm", "dgemm-test", "bench-dispatch", "bench-workloads")


def _flatten(value: Any, source: str) -> Iterable[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item, source)
    elif isinstance(value, dict) and value.get("kind") in KINDS:
        yield value
    else:
        raise ValueError(
            f"{source}: not a result of `xsmmwrap bench smm/dispatch/workloads --json` or "
            "`xsmmwrap dgemm-test --json`"
        )


def load(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """All result documents in ``paths`` (each a document or a list of documents).

    Raises
    ------
    ValueError
        When a file is not JSON or holds something else.
    """
    results: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not JSON ({err})") from None
        results.extend(_flatten(data, str(path)))
    if not results:
        raise ValueError("no results to plot")
    return results


def _shape(r: dict[str, Any]) -> str:
    return f"{r.get('m')}x{r.get('n')}x{r.get('k')}"


def _volume(r: dict[str, Any]) -> int:
    return int(r.get("m") or 0) * int(r.get("n") or 0) * int(r.get("k") or 0)


def _bars(ax: Any, labels: list[str], series: list[tuple[str, str, list[float]]]) -> None:
    """Grouped bars: one group per label, one bar per series (name, color, values)."""
    width = 0.8 / max(len(series), 1)
    for i, (name, color, values) in enumerate(series):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        bars = ax.bar(xs, values, width, label=name, color=color)
        if len(labels) <= 12:
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    pad = max(0.0, (4 - len(labels)) / 2)  # keep few groups from spreading over the panel
    ax.set_xlim(-0.5 - pad, len(labels) - 0.5 + pad)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(
        labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center"
    )
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left")


def _smm_panels(results: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    by_case: dict[int, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {}
    names: dict[int, str] = {}
    for r in sorted(results, key=_volume):
        for c in r.get("cases", []):
            by_case.setdefault(int(c["case"]), {})[_shape(r)] = (r, c)
            names[int(c["case"])] = str(c.get("name", ""))
    panels = []
    for case in sorted(by_case):
        entries = by_case[case]
        labels = list(entries)

        def draw(
            ax: Any, labels: list[str] = labels, entries: Any = entries, case: int = case
        ) -> None:
            blas = [float(entries[s][1]["blas"].get("gflops") or 0.0) for s in labels]
            wrap = [float(entries[s][1]["xsmmwrap"].get("gflops") or 0.0) for s in labels]
            _bars(ax, labels, [("original BLAS", BLAS_COLOR, blas), ("xsmmwrap", WRAP_COLOR, wrap)])
            ax.set_ylabel("GFLOP/s")
            ax.set_title(f"SMM case {case}: {names[case]} (DP)", fontsize=10)

        panels.append((f"smm{case}", draw))
    return panels


def _dgemm_panel(results: list[dict[str, Any]]) -> tuple[str, Any]:
    ordered = sorted(results, key=_volume)
    labels = [_shape(r) for r in ordered]
    variants = [v["variant"] for v in ordered[0]["variants"]]

    def draw(ax: Any) -> None:
        series = []
        for name in variants:
            values = []
            for r in ordered:
                row: dict[str, Any] = next((v for v in r["variants"] if v["variant"] == name), {})
                values.append(float(row.get("gflops") or 0.0))
            series.append((name, VARIANT_COLORS.get(name, "#2ca02c"), values))
        _bars(ax, labels, series)
        ax.set_ylabel("GFLOP/s")
        title = "dgemm-test: system BLAS, ld --wrap, LD_PRELOAD"
        if "libxsmm" in variants:
            title += ", LIBXSMM's wrapper"
        ax.set_title(title, fontsize=10)

    return ("dgemm-test", draw)


def _dispatch_panel(results: list[dict[str, Any]]) -> tuple[str, Any]:
    from .bench import DISPATCH_ROWS

    def draw(ax: Any) -> None:
        labels = [title.split(" (")[0] for _, title in DISPATCH_ROWS]
        series = []
        palette = [WRAP_COLOR, "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
        for i, r in enumerate(results):
            ns = r.get("ns", {})
            values = [max(float(ns.get(key) or 0.0), 1e-3) for key, _ in DISPATCH_ROWS]
            series.append(
                (
                    f"{r.get('n')} shapes, {r.get('threads')} thread(s)",
                    palette[i % len(palette)],
                    values,
                )
            )
        _bars(ax, labels, series)
        ax.set_yscale("log")
        ax.set_ylabel("ns per call")
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        ax.set_title("dispatch: the way to a kernel", fontsize=10)

    return ("dispatch", draw)


def _workloads_panel(results: list[dict[str, Any]]) -> tuple[str, Any]:
    rows = [w for r in results for w in r.get("workloads", [])]

    def draw(ax: Any) -> None:
        labels = [str(w["workload"]) for w in rows]

        def speedups(way: str) -> list[float]:
            return [float(w.get(f"{way}_speedup") or 0.0) for w in rows]

        series = [
            ("xsmmwrap", WRAP_COLOR, speedups("xsmmwrap")),
            ("LIBXSMM's wrapper", PEER_COLOR, speedups("libxsmm")),
        ]
        _bars(ax, labels, series)
        ax.axhline(1.0, color=BLAS_COLOR, linewidth=1)  # plain BLAS
        ax.set_ylabel("speed-up over plain BLAS")
        ax.set_title("workloads: the same program, plain = 1", fontsize=10)

    return ("workloads", draw)


def plot(results: list[dict[str, Any]], output: str | Path, title: str | None = None) -> Path:
    """Draw ``results`` into ``output`` (format from its suffix); return the path.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    panels: list[tuple[str, Any]] = []
    smm = [r for r in results if r["kind"] == "bench-smm"]
    dgemm = [r for r in results if r["kind"] == "dgemm-test"]
    dispatch = [r for r in results if r["kind"] == "bench-dispatch"]
    workloads = [r for r in results if r["kind"] == "bench-workloads"]
    if smm:
        panels += _smm_panels(smm)
    if dgemm:
        panels.append(_dgemm_panel(dgemm))
    if dispatch:
        panels.append(_dispatch_panel(dispatch))
    if workloads:
        panels.append(_workloads_panel(workloads))
    shapes = max([len({_shape(r) for r in smm}), len(dgemm), 5])
    fig = Figure(figsize=(max(7.0, 1.0 + 0.9 * shapes), 3.4 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for (_, draw), row in zip(panels, axes):
        draw(row[0])
    core = next((r.get("blas_core") for r in results if r.get("blas_core")), None)
    fig.suptitle(title or f"xsmmwrap vs original BLAS{f' (OpenBLAS {core})' if core else ''}")
    out = Path(output)
    fig.savefig(out, dpi=120)
    return out


def main(args: argparse.Namespace) -> int:
    """``xsmmwrap plot``."""
    try:
        results = load(args.results)
    except (OSError, ValueError) as err:
        print(f"xsmmwrap plot: {err}", file=sys.stderr)
        return 2
    output = args.output or str(Path(args.results[0]).with_suffix(".png"))
    try:
        out = plot(results, output, args.title)
    except ImportError:
        print(
            "xsmmwrap plot: needs matplotlib (pip install matplotlib, or xsmmwrap[plot])",
            file=sys.stderr,
        )
        return 2
    except (OSError, ValueError) as err:
        print(f"xsmmwrap plot: cannot write {output}: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap plot`` (cli.py lists the command)."""
    p.description = (
        "Plot GFLOP/s per shape for the wrapper and the original BLAS from `xsmmwrap bench "
        "smm --json` results, the dgemm-test comparison and the dispatch costs."
    )
    p.add_argument("results", nargs="+", metavar="RESULTS.json", help="result files")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="output file, .png/.pdf/.svg (default: the first input with .png)",
    )
    p.add_argument("--title", help="figure title")
    p.set_defaults(func=main)
