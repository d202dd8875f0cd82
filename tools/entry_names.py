"""The exported names listed in src/wrap/entry_list.h, for meson.build and the tests.

As a program it prints the names: the X(name, ...) rows of each list, and the four names each
XW_FORMS_F77/XW_FORMS_CBLAS(X, base, ...) row makes, spelled as those two macros spell them.
With --version-script it prints the linker's version script instead: those names and the public
API (xsmmwrap_*) global, everything else local. The tests import it: entries() gives each name
with its family, interface, precision and integer type.
"""

from __future__ import annotations

import re
import sys
from typing import NamedTuple


class Entry(NamedTuple):
    """One exported name and the facts of its row."""

    name: str
    family: str  # gemm, gemv, syrk, gemm_batch or gemm_batch_strided
    interface: str  # f77 or cblas
    precision: str  # XW_F64, XW_F32, XW_C64 or XW_C32
    integer: str  # int32_t or int64_t


def _defines(text: str) -> dict[str, tuple[str, str]]:
    """Each #define of a function-like macro: name -> (parameters, body), lines joined."""
    joined = text.replace("\\\n", " ")
    return {
        m[1]: (m[2], m[3])
        for m in re.finditer(r"^\s*#define\s+(\w+)\(([^)]*)\)(.*)$", joined, re.M)
    }


def _family(name: str) -> str:
    """gemm for dgemm_, cblas_zgemm64_, scipy_sgemm_; gemm_batch_strided for its names."""
    base = re.sub(r"^(scipy_)?(cblas_)?", "", name)
    return re.sub(r"_?(64)?_$", "", base[1:])


def entries(text: str) -> list[Entry]:
    """The rows of every list macro (`#define XW_..._ENTRIES(X)`), in the order of the file."""
    defines = _defines(text)
    row = r"X\(([\w#]+), (\w+), \w+, (\w+)\)"
    # XW_FORMS_F77 / XW_FORMS_CBLAS: each X row's name as a template of base ("scipy_{}_").
    forms = {
        kind: [
            (re.sub(r"(##)?base(##)?", "{}", name), integer)
            for name, _, integer in re.findall(row, defines[f"XW_FORMS_{kind}"][1])
        ]
        for kind in ("F77", "CBLAS")
    }
    out: list[Entry] = []
    for macro, (params, body) in defines.items():
        if params != "X" or not macro.endswith("_ENTRIES"):
            continue
        iface = "cblas" if "CBLAS" in macro else "f77"
        for name, prec, integer in re.findall(row, body):
            out.append(Entry(name, _family(name), iface, prec, integer))
        for kind, base, prec in re.findall(r"XW_FORMS_(F77|CBLAS)\(X, (\w+), (\w+), \w+\)", body):
            for template, integer in forms[kind]:
                name = template.format(base)
                out.append(Entry(name, base[1:], kind.lower(), prec, integer))
    return out


def read_entries(path: str) -> list[Entry]:
    with open(path, encoding="utf-8") as f:
        return entries(f.read())


def main(argv: list[str]) -> None:
    names = [e.name for e in read_entries(argv[-1])]
    if argv[1] == "--version-script":
        print("/* Made from entry_list.h by tools/entry_names.py: the entry points and the API. */")
        print("{\n  global:")
        for name in names:
            print(f"    {name};")
        print("    xsmmwrap_*;\n  local: *;\n};")
    else:
        print(" ".join(names))


if __name__ == "__main__":
    main(sys.argv)
