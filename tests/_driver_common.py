"""What the two differential drivers (_entry_driver.py, _family_driver.py) share: the exported
names with their types, read from src/wrap/entry_list.h; the library's configuration, read
through the xsmmwrap_config of include/xsmmwrap.h; CBLAS's constants; their command line and
their summary.

Facts with a source in the C tree are read from it, not copied: the names and their types from
entry_list.h (by tools/entry_names.py, as the build reads them), the configuration's fields from
the header's cdef block (cffi, as the package binds it), the route names from the library.
"""

from __future__ import annotations

import argparse
import ctypes as ct
import json
import sys
from pathlib import Path
from typing import Any

import cffi
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import entry_names  # noqa: E402  (tools/ is not a package)

# CBLAS's enum values (cblas.h).
ROW_MAJOR, COL_MAJOR = 101, 102
NO_TRANS, TRANS, CONJ_TRANS = 111, 112, 113
UPPER, LOWER = 121, 122

# Quiet NaNs with a payload: a copy that went through arithmetic loses it.
NAN_BITS = {np.float64: 0x7FF8000000000ABC, np.float32: 0x7FC00ABC}

DTYPE = {
    "XW_F64": np.float64,
    "XW_F32": np.float32,
    "XW_C64": np.complex128,
    "XW_C32": np.complex64,
}
INT = {"int32_t": ct.c_int32, "int64_t": ct.c_int64}


def entry_points(family: str | None = None) -> dict[str, entry_names.Entry]:
    """The rows of entry_list.h by name (of one family, or all)."""
    rows = entry_names.read_entries(str(ROOT / "src" / "wrap" / "entry_list.h"))
    return {e.name: e for e in rows if family is None or e.family == family}


def _cdef() -> str:
    text = (ROOT / "include" / "xsmmwrap.h").read_text(encoding="utf-8")
    return text.split("/* XSMMWRAP_CDEF_BEGIN */")[1].split("/* XSMMWRAP_CDEF_END */")[0]


class Library:
    """The library under test: ctypes for the entry points, cffi over the header's declarations
    for the API (the same instance: one dlopen of one path)."""

    def __init__(self, path: str) -> None:
        self.dll = ct.CDLL(path)
        self.ffi = cffi.FFI()
        self.ffi.cdef(_cdef())
        self.api: Any = self.ffi.dlopen(path)

    def config(self) -> dict[str, int]:
        """xsmmwrap_get_config's numeric fields (the strings left out)."""
        cfg = self.ffi.new("xsmmwrap_config *")
        if self.api.xsmmwrap_get_config(cfg) != 0:
            raise RuntimeError("xsmmwrap_get_config failed")
        fields = self.ffi.typeof("xsmmwrap_config").fields
        return {name: int(getattr(cfg, name)) for name, f in fields if f.type.kind == "primitive"}

    def route_names(self) -> list[str]:
        """Every route's name, as the statistics spell them."""
        names: list[str] = []
        while (name := self.api.xsmmwrap_route_name(len(names))) != self.ffi.NULL:
            text = self.ffi.string(name)
            names.append(text.decode() if isinstance(text, bytes) else text)
        return names


def arguments(doc: str | None, symbols: dict[str, Any], random: int) -> argparse.ArgumentParser:
    """The options both drivers take; each adds its own."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("lib")
    ap.add_argument("symbol", choices=sorted(symbols))
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--random", type=int, default=random)
    ap.add_argument("--no-invalid", action="store_true")
    ap.add_argument("--kernel-only", action="store_true")
    return ap


def finish(summary: dict[str, Any], failures: list[str], out: str | None) -> int:
    """Writes the summary (with the failures) to out, the failures to stderr; the exit status."""
    summary["failures"] = failures
    if out:
        with open(out, "w") as f:
            json.dump(summary, f, indent=1)
    for msg in failures:
        print(msg, file=sys.stderr)
    return 1 if failures else 0
