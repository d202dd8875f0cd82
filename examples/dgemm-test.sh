#!/bin/sh
# dgemm-test.sh: the dgemm-test runs without Python: (1) dgemm-test-blas against the system
# BLAS, (2) dgemm-test-wrap linked with ld --wrap=dgemm_ and libxsmmwrap.a, (3) dgemm-test-blas
# with libxsmmwrap.so in LD_PRELOAD, (4) where it was built, dgemm-test-libxsmm, linked with
# LIBXSMM's own call wrapper. Arguments go to each run (see dgemm_test.c).
#
#   examples/dgemm-test.sh [nrepeat | m n k lda ldb ldc alpha beta nrepeat]
#
# The programs are looked for next to this script (installed package), then in
# $XSMMWRAP_BUILD_DIR/examples and ./build/examples; the library in the directory above them or
# $XSMMWRAP_LIBRARY. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the runs (they can
# halve OpenBLAS's speed on some processors and would skew the comparison) unless
# DGEMM_TEST_KEEP_OPENBLAS_ENV=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bindir=
for d in "$here" "${XSMMWRAP_BUILD_DIR:+$XSMMWRAP_BUILD_DIR/examples}" "$PWD/build/examples"; do
  if [ -n "$d" ] && [ -x "$d/dgemm-test-blas" ] && [ -x "$d/dgemm-test-wrap" ]; then
    bindir=$d
    break
  fi
done
if [ -z "$bindir" ]; then
  echo "dgemm-test.sh: dgemm-test-blas/-wrap not found (build with -Dexamples=true and set" \
       "XSMMWRAP_BUILD_DIR)" >&2
  exit 2
fi
lib=${XSMMWRAP_LIBRARY:-$(dirname "$bindir")/libxsmmwrap.so}
if [ ! -f "$lib" ]; then
  echo "dgemm-test.sh: $lib not found (set XSMMWRAP_LIBRARY)" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0
unset_openblas="-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
[ "${DGEMM_TEST_KEEP_OPENBLAS_ENV:-0}" = 1 ] && unset_openblas=

run() {  # run NAME PROGRAM [ENV=VALUE ...]: one variant, its result matrix in $tmp/NAME.bin
  name=$1 program=$2
  shift 2
  echo "== $name"
  # shellcheck disable=SC2086  # $unset_openblas and $args are lists of words
  if ! env -u LD_PRELOAD $unset_openblas DGEMM_TEST_OUT="$tmp/$name.bin" "$@" \
      "$bindir/$program" $args; then
    echo "dgemm-test.sh: $name failed" >&2
    status=1
  fi
}

args="$*"
run blas dgemm-test-blas
run wrap dgemm-test-wrap
run preload dgemm-test-blas LD_PRELOAD="$lib"
# The peer, built when LIBXSMM (libxsmm-dev) was there: its own call wrapper, linked with --wrap.
if [ -x "$bindir/dgemm-test-libxsmm" ]; then
  run libxsmm dgemm-test-libxsmm
fi

# Compare with the plain run within rounding: max |C - C_blas| <= 1e-12 * k * max |C_blas|.
set -- $args
k=23
if [ $# -ge 3 ]; then k=$3; elif [ $# -ge 2 ]; then k=$1; fi
values() { od -An -v -t f8 "$1" | tr -s ' ' '\n' | sed '/^$/d'; }
for name in wrap preload libxsmm; do
  [ -f "$tmp/blas.bin" ] && [ -f "$tmp/$name.bin" ] || continue
  values "$tmp/blas.bin" > "$tmp/blas.txt"
  values "$tmp/$name.bin" > "$tmp/$name.txt"
  if paste "$tmp/blas.txt" "$tmp/$name.txt" | awk -v k="$k" -v name="$name" '
      function abs(x) { return x < 0 ? -x : x }
      { d = abs($1 - $2); if (d > diff) diff = d; if (abs($1) > scale) scale = abs($1); n++ }
      END {
        rel = diff / (scale > 0 ? scale : 1)
        printf "%s: max rel. difference vs plain BLAS %.3g over %d values\n", name, rel, n
        exit !(rel <= 1e-12 * (k > 1 ? k : 1))
      }'; then :; else
    echo "dgemm-test.sh: $name differs from the plain BLAS run" >&2
    status=1
  fi
done
exit $status
