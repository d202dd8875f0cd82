#!/usr/bin/env bash
# demo.sh: installs what is missing, then runs a numpy/scipy program through the wrapper and
# shows its report (LIBXSMM_VERBOSE=2).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tools/setup.sh"
cd "$root"
exec "$PYTHON" -m xsmmwrap run -v 2 -- "$PYTHON" examples/app.py "$@"
