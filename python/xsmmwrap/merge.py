"""One statistics document for a run of several processes.

Under ``xsmmwrap run --json FILE`` every process of the command (children, MPI ranks, the
programs a script runs) that made GEMM calls writes its own statistics file at exit
(``XSMMWRAP_STATS_JSON`` with ``%p``, its process id); :func:`merge` sums them into the one
document written to FILE: counts summed, kernels of the same descriptor summed, and
``processes`` listing each contributor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

#: What identifies a kernel across processes (its calls, GFLOP and code are summed).
KERNEL_KEY = (
    "precision", "trans_a", "trans_b", "m", "n", "k", "lda", "ldb", "ldc", "alpha", "beta", "jit",
    "target", "mb_max", "nb_max", "tuned",
)  # fmt: skip


def _version() -> str | None:
    """The package's version, the library's (``tests/test_cli.py`` holds them equal),
    read without loading the library: ``run --json`` only preloads it into the command."""
    try:
        return metadata.version("xsmmwrap")
    except metadata.PackageNotFoundError:  # a source checkout on sys.path, not installed
        return None


def _add_counts(into: dict[str, int], more: dict[str, int]) -> None:
    for name, count in more.items():
        into[name] = into.get(name, 0) + count


def merge(docs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The statistics of several processes as one document, in the format of one process's
    (``XSMMWRAP_STATS_JSON``), with ``processes``: ``pid``, ``program`` and ``intercepted``
    of each. ``version``, ``target`` and ``cpu_target`` are the first document's (without
    one, ``version`` is the package's); with no document, every count is zero."""
    out: dict[str, Any] = {
        "version": None,
        "intercepted": 0,
        "calls": 0,
        "families": {},
        "routes": {},
        "symbols": {},
        "kernels": [],
        "memory": {"code_bytes": 0, "total_bytes": 0},
        "jit_failures": 0,
        "original_blas": [],
        "processes": [],
    }
    kernels: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i, doc in enumerate(docs):
        if i == 0:
            out.update({k: doc[k] for k in ("version", "target", "cpu_target") if k in doc})
            if "tune" in doc:  # the file, its state and entries of the first; the calls summed
                out["tune"] = {**doc["tune"], "calls": 0, "blas_calls": 0}
        if "tune" in out and "tune" in doc:
            for f in ("calls", "blas_calls"):
                out["tune"][f] += doc["tune"].get(f, 0)
        for lib in doc.get("original_blas", []):
            known = next((x for x in out["original_blas"] if x["path"] == lib["path"]), None)
            if known is None:
                out["original_blas"].append({"path": lib["path"], "symbols": list(lib["symbols"])})
            else:
                known["symbols"] += [s for s in lib["symbols"] if s not in known["symbols"]]
        out["intercepted"] += doc.get("intercepted", 0)
        out["calls"] += doc.get("calls", doc.get("intercepted", 0))
        for name, counts in doc.get("families", {}).items():
            _add_counts(out["families"].setdefault(name, {}), counts)
        _add_counts(out["routes"], doc.get("routes", {}))
        _add_counts(out["symbols"], doc.get("symbols", {}))
        _add_counts(out["memory"], doc.get("memory", {}))
        out["jit_failures"] += doc.get("jit_failures", 0)
        out["processes"].append(
            {k: doc.get(k) for k in ("pid", "program")} | {"intercepted": doc.get("intercepted", 0)}
        )
        for k in doc.get("kernels", []):
            key = tuple(k.get(f) for f in KERNEL_KEY)
            if key in kernels:
                for f in ("calls", "gflop", "code_bytes"):
                    kernels[key][f] = kernels[key].get(f, 0) + k.get(f, 0)
            else:
                kernels[key] = dict(k)
    out["kernels"] = list(kernels.values())
    if out["version"] is None:
        out["version"] = _version()
    return out


def merge_files(paths: Iterable[Path]) -> dict[str, Any]:
    """:func:`merge` of the statistics files ``paths`` (in process-id order); a file that is
    not a complete JSON document (a process killed while writing it) is left out."""
    docs = []
    for path in paths:
        try:
            docs.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    docs.sort(key=lambda d: d.get("pid") or 0)
    return merge(docs)
