"""Print the exported names listed in src/wrap/entry_list.h (for meson.build): its X(name, ...)
rows, and the four names of each XW_FORMS_F77/XW_FORMS_CBLAS(X, base, ...) row. With
--version-script, the linker's version script instead: those names and the public API
(xsmmwrap_*) global, everything else local."""

import re
import sys

FORMS = {
    "F77": ("{}_", "{}_64_", "scipy_{}_", "scipy_{}_64_"),
    "CBLAS": ("cblas_{}", "cblas_{}64_", "scipy_cblas_{}", "scipy_cblas_{}64_"),
}

script = sys.argv[1] == "--version-script"
with open(sys.argv[-1], encoding="utf-8") as f:
    text = f.read()
names = re.findall(r"^\s*X\((\w+),", text, re.M)
for kind, base in re.findall(r"(?<!#define )XW_FORMS_(F77|CBLAS)\(X, (\w+),", text):
    names += [form.format(base) for form in FORMS[kind]]
if script:
    print("/* Made from entry_list.h by tools/entry_names.py: the entry points and the API. */")
    print("{\n  global:")
    for name in names:
        print(f"    {name};")
    print("    xsmmwrap_*;\n  local: *;\n};")
else:
    print(" ".join(names))
