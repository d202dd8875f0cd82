"""Print the exported names listed in src/wrap/entry_list.h (for meson.build): its X(name, ...)
rows, and the four names of each XW_FORMS_F77/XW_FORMS_CBLAS(X, base, ...) row."""

import re
import sys

FORMS = {
    "F77": ("{}_", "{}_64_", "scipy_{}_", "scipy_{}_64_"),
    "CBLAS": ("cblas_{}", "cblas_{}64_", "scipy_cblas_{}", "scipy_cblas_{}64_"),
}

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
names = re.findall(r"^\s*X\((\w+),", text, re.M)
for kind, base in re.findall(r"(?<!#define )XW_FORMS_(F77|CBLAS)\(X, (\w+),", text):
    names += [form.format(base) for form in FORMS[kind]]
print(" ".join(names))
