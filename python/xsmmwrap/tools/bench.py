"""``xsmmwrap bench dispatch`` and ``xsmmwrap bench smm``: the sample benchmarks.

dispatch
    ``bench-dispatch`` (``examples/bench_dispatch.c``, linked with ``ld --wrap`` and
    ``libxsmmwrap.a``): nanoseconds per call for an empty function call (reference), the
    original BLAS on the same tiny shapes, generating a kernel (the first call of a shape),
    finding a generated kernel while cycling over ``n`` shapes, and finding it again for the
    same shape. With several threads all ask for the same shapes at once (the contended case).
smm
    ``bench-smm`` (``examples/bench_smm.c``, linked against the system BLAS) run plain and with
    ``libxsmmwrap.so`` preloaded: the SMM streaming cases (0: A, B, C streamed; 1: A, B
    streamed, C in cache; 2: A, C streamed; 3: B, C streamed; 4: nothing streamed) with
    GFLOP/s, bandwidth, duration and pseudo FLOPS/cycle (``2*M*N*K - M*N`` per multiplication
    over time-stamp-counter cycles), for the original BLAS and the wrapper side by side.
    Both runs must give the same checksums.

Both run with ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` removed from the program's environment
(see :mod:`xsmmwrap.samples`) and record which OpenBLAS core the program used.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from . import samples
from ._console import Progress, fmt_float, fmt_ratio, format_table

__all__ = [
    "DISPATCH_ROWS",
    "configure_dispatch",
    "configure_smm",
    "format_dispatch",
    "format_smm",
    "run_dispatch",
    "run_smm",
]

#: (key in the program's "ns" object, row title)
DISPATCH_ROWS = (
    ("empty", "empty function call (reference)"),
    ("blas", "original BLAS call, same tiny shapes"),
    ("generate", "generate a kernel (first call of a shape)"),
    ("dispatch_uncached", "find a kernel, cycling over the shapes"),
    ("dispatch_cached", "find a kernel, same shape again (cached)"),
)

DEFAULT_MAX_KERNELS = 16384  #: the library's default registry capacity


# --- dispatch ---------------------------------------------------------------------------------


def run_dispatch(
    n: int = 10000, threads: int = 1, seed: int = 42, *, keep_openblas_env: bool = False
) -> dict[str, Any]:
    """Run ``bench-dispatch``; return its JSON document with ``"kind": "bench-dispatch"``.

    The registry is made large enough for ``n`` kernels (``XSMMWRAP_MAX_KERNELS``).
    """
    program = samples.find_program("bench-dispatch")
    capacity = max(int(os.environ.get("XSMMWRAP_MAX_KERNELS") or DEFAULT_MAX_KERNELS), n)
    env = samples.sample_env(
        keep_openblas_env=keep_openblas_env,
        label="bench dispatch",
        extra={"XSMMWRAP_MAX_KERNELS": str(capacity)},
    )
    data = samples.run_json([program, "--json", "--seed", str(seed), str(n), str(threads)], env)
    return {"kind": "bench-dispatch", **data}


def format_dispatch(data: dict[str, Any]) -> str:
    """The table of one :func:`run_dispatch` result."""
    ns: dict[str, float] = data.get("ns", {})
    worst: dict[str, float] = data.get("ns_max", {})
    empty = ns.get("empty") or 0.0
    threads = int(data.get("threads", 1))
    head = (
        f"dispatch: {data.get('n')} distinct shapes (M, N, K <= 4), {threads} thread(s), "
        f"seed {data.get('seed')}, target {data.get('target')}, BLAS core "
        f"{data.get('blas_core') or 'unknown'}\n"
    )
    rows = []
    for key, title in DISPATCH_ROWS:
        value = ns.get(key)
        rows.append(
            [
                title,
                fmt_float(value, ".1f"),
                fmt_float(worst.get(key), ".1f") if threads > 1 else "-",
                f"{value / empty:.0f}x" if value is not None and empty > 0 else "-",
            ]
        )
    table = format_table(["measurement", "ns/call", "slowest thread", "vs empty"], rows)
    tail = (
        f"kernels: {data.get('kernels')} ({data.get('jit_kernels')} generated code); "
        f"calls on the kernel path: {data.get('kernel_calls')} of {data.get('intercepted')}\n"
    )
    return head + table + tail


def _cmd_dispatch(args: argparse.Namespace) -> int:
    return samples.run_command(
        "xsmmwrap bench dispatch",
        lambda: run_dispatch(
            args.n, args.threads, args.seed, keep_openblas_env=args.keep_openblas_env
        ),
        format_dispatch,
        args,
        missing_status=1,
        ok=lambda data: data.get("kernel_calls") == data.get("intercepted"),
    )


# --- smm --------------------------------------------------------------------------------------

_SMM_FIELDS = ("duration_s", "gflops", "bandwidth_gbs", "flops_per_cycle", "checksum")


def run_smm(
    case: int | None = None,
    dims: tuple[int, ...] = (),
    size_mb: float | None = None,
    repeat: int | None = None,
    *,
    keep_openblas_env: bool = False,
) -> dict[str, Any]:
    """Run ``bench-smm`` plain and preloaded; return both side by side.

    Parameters
    ----------
    case : int, optional
        0-4; all five when None.
    dims : tuple of int
        ``(m,)``, ``(m, n)`` or ``(m, n, k)``; n and k default to m (and m to 23).
    size_mb, repeat : optional
        The batch's memory and the passes over it (the program's defaults when None).
    """
    program = samples.find_program("bench-smm")
    library = samples.library_for(program)
    argv: list[str] = [str(program), "--json"]
    if size_mb is not None:
        argv += ["--size", str(size_mb)]
    if repeat is not None:
        argv += ["--repeat", str(repeat)]
    argv += ["all" if case is None else str(case), *(str(d) for d in dims)]
    progress = Progress("xsmmwrap bench smm")
    progress.step("original BLAS (1/2)")
    plain = samples.run_json(
        argv, samples.sample_env(keep_openblas_env=keep_openblas_env, label="smm BLAS")
    )
    progress.step("xsmmwrap (2/2)")
    wrapped = samples.run_json(
        argv,
        samples.sample_env(
            preload=library, keep_openblas_env=keep_openblas_env, label="smm xsmmwrap"
        ),
    )
    progress.done()
    k = int(plain.get("k") or 1)
    cases = []
    for b, w in zip(plain.get("cases", []), wrapped.get("cases", [])):
        entry: dict[str, Any] = {key: b.get(key) for key in ("case", "name", "streamed")}
        entry["blas"] = {key: b.get(key) for key in _SMM_FIELDS}
        entry["xsmmwrap"] = {key: w.get(key) for key in _SMM_FIELDS}
        entry["speedup"] = (
            b["duration_s"] / w["duration_s"]
            if b.get("duration_s") and w.get("duration_s")
            else None
        )
        cb, cw = float(b.get("checksum", 0.0)), float(w.get("checksum", float("nan")))
        entry["checksum_ok"] = abs(cb - cw) <= 1e-12 * max(k, 1) * max(abs(cb), abs(cw), 1.0)
        cases.append(entry)
    shape = {key: plain.get(key) for key in ("m", "n", "k", "batch", "repeat", "size_mb")}
    stats = wrapped.get("wrapper")
    return {
        "kind": "bench-smm",
        **shape,
        "blas_core": plain.get("blas_core"),
        "library": str(library),
        "wrapper": stats,
        "cases": cases,
        "ok": bool(cases)
        and all(c["checksum_ok"] for c in cases)
        and len(cases) == len(wrapped.get("cases", []))
        and stats is not None,
    }


def format_smm(data: dict[str, Any]) -> str:
    """The table of one :func:`run_smm` result."""
    fmt = fmt_float
    stats = data.get("wrapper") or {}
    calls, taken = stats.get("intercepted"), stats.get("kernel_calls")
    path = (
        f"{taken} of {calls} calls on the kernel path (jit {stats.get('jit_calls')}, "
        f"portable {stats.get('portable_calls')})"
        if calls
        else "not loaded"
    )
    head = (
        f"SMM {data.get('m')}x{data.get('n')}x{data.get('k')} (DP, C += A*B): batch of "
        f"{data.get('batch')} ({fmt(data.get('size_mb'), '.1f')} MB), {data.get('repeat')} "
        f"pass(es); BLAS core {data.get('blas_core') or 'unknown (not OpenBLAS)'}\n"
        f"wrapper: {path}\n"
    )
    rows = []
    for c in data["cases"]:
        b, w = c["blas"], c["xsmmwrap"]

        def ms(x: float | None) -> str:
            return fmt(None if x is None else 1e3 * x, ".0f")

        rows.append(
            [
                str(c["case"]),
                c["name"],
                fmt(b.get("gflops")),
                fmt(w.get("gflops")),
                fmt_ratio(c.get("speedup")),
                fmt(b.get("bandwidth_gbs"), ".1f"),
                fmt(w.get("bandwidth_gbs"), ".1f"),
                ms(b.get("duration_s")),
                ms(w.get("duration_s")),
                fmt(b.get("flops_per_cycle")),
                fmt(w.get("flops_per_cycle")),
                "ok" if c["checksum_ok"] else "DIFFERS",
            ]
        )
    table = format_table(
        [
            "case",
            "operands",
            "BLAS GFLOP/s",
            "xsmmwrap GFLOP/s",
            "speed-up",
            "BLAS GB/s",
            "xsmmwrap GB/s",
            "BLAS ms",
            "xsmmwrap ms",
            "BLAS F/cyc",
            "xsmmwrap F/cyc",
            "check",
        ],
        rows,
        left=2,
    )
    return head + table


def _cmd_smm(args: argparse.Namespace) -> int:
    if args.case is not None and not 0 <= args.case <= 4:
        print("xsmmwrap bench smm: case must be 0-4", file=sys.stderr)
        return 2
    if len(args.dims) > 3 or any(d < 1 for d in args.dims):
        print("xsmmwrap bench smm: the shape is m [n [k]], each positive", file=sys.stderr)
        return 2
    return samples.run_command(
        "xsmmwrap bench smm",
        lambda: run_smm(
            args.case,
            tuple(args.dims),
            args.size,
            args.repeat,
            keep_openblas_env=args.keep_openblas_env,
        ),
        format_smm,
        args,
        missing_status=1,
    )


def _case(text: str) -> int | None:
    return None if text in ("all", "-1") else int(text)


def configure_dispatch(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap bench dispatch`` (cli.py lists the command)."""
    p.description = (
        "Time the way to a kernel through dgemm_ (ld --wrap build): an empty call for "
        "reference, the original BLAS, generating a kernel, finding it among n shapes and "
        "again for the same shape; with threads > 1 all threads contend for the same shapes."
    )
    p.add_argument("n", nargs="?", type=int, default=10000, help="distinct shapes (10000)")
    p.add_argument("threads", nargs="?", type=int, default=1, help="threads (1)")
    p.add_argument("--seed", type=int, default=42, help="seed of the random shapes (42)")
    samples.add_json_option(p)
    samples.add_keep_env_option(p)
    p.set_defaults(func=_cmd_dispatch)


def configure_smm(p: argparse.ArgumentParser) -> None:
    """The arguments of ``xsmmwrap bench smm`` (cli.py lists the command)."""
    p.description = (
        "Run the SMM streaming benchmark plain and with libxsmmwrap preloaded. case: 0 = "
        "A,B,C streamed (batched), 1 = A,B streamed (C cached), 2 = A,C streamed (B "
        "cached), 3 = B,C streamed (A cached), 4 = nothing streamed; all five by default. "
        "If only m is given, n and k take its value."
    )
    p.add_argument("case", nargs="?", type=_case, default=None, help="0-4 or all (all)")
    p.add_argument(
        "dims", nargs="*", type=int, metavar="DIM", help="m [n [k]]: the shape (23 23 23)"
    )
    p.add_argument("--size", type=float, metavar="MB", help="memory of the batch (256)")
    p.add_argument("--repeat", type=int, metavar="R", help="passes over the batch (auto)")
    samples.add_json_option(p)
    samples.add_keep_env_option(p)
    p.set_defaults(func=_cmd_smm)
