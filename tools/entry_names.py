"""Print the exported GEMM names listed in src/wrap/entry_list.h (for meson.build)."""

import re
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    print(" ".join(re.findall(r"^\s*X\((\w+),", f.read(), re.M)))
