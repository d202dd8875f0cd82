#!/usr/bin/env bash
# test.sh: installs what is missing, then runs the whole test suite (pytest drives the C tests,
# the sanitizer build and the Python tests); arguments go to pytest instead of the default `tests`
# (bash tools/test.sh tests/test_lapack.py runs that file only; -k alone still runs them all).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tools/setup.sh"
cd "$root"
exec "$PYTHON" -m pytest -q "${@:-tests}"
