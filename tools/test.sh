#!/usr/bin/env bash
# test.sh: installs what is missing, then runs the whole test suite (pytest drives the C tests,
# the sanitizer build and the Python tests).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tools/setup.sh"
cd "$root"
exec "$PYTHON" -m pytest -q tests "$@"
