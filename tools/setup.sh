#!/usr/bin/env bash
# setup.sh: installs what building and testing xsmmwrap needs, only what is missing, then the
# package itself from this checkout. Sourced by demo.sh and test.sh; sets PYTHON for them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# libopenblas64-*: the ILP64 provider tests/test_entry_points.py calls through; liblapack-test:
# LAPACK's own test programs (tests/test_lapack.py runs them with and without the wrapper).
apt_packages=(gcc g++ gfortran make pkg-config binutils libopenblas-dev libblas-dev libopenblas64-0-pthread
  libopenblas64-pthread-dev liblapack-test python3 python3-venv python3-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# LIBXSMM 1.17 is a benchmark peer only: installed when the distribution has it.
if ! dpkg-query -W -f='${Status}' libxsmm-dev 2>/dev/null | grep -q "install ok installed"; then
  missing+=(libxsmm-dev)
fi
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]/libxsmm-dev/}" >/dev/null
fi

# A Python whose site-packages pip may write (Debian's own is externally managed: use a venv).
PYTHON=${PYTHON:-python3}
if [[ -f "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ]]; then
  [[ -x "$root/.venv/bin/python" ]] || "$PYTHON" -m venv "$root/.venv"
  PYTHON="$root/.venv/bin/python"
fi
export PYTHON

pip_quiet=(-q --disable-pip-version-check)
# scipy-openblas32: an OpenBLAS (0.3.34) whose ?gemm_batch* work on small products, the original
# the batch tests forward to and the batch benchmark's peer (numpy's and scipy's own crash there).
"$PYTHON" -m pip install "${pip_quiet[@]}" meson meson-python ninja cffi numpy scipy pytest threadpoolctl matplotlib \
  ruff mypy types-cffi scipy-openblas32
"$PYTHON" -m pip install "${pip_quiet[@]}" --no-build-isolation "$root"
