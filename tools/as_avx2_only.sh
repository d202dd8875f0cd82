#!/usr/bin/env bash
# as_avx2_only.sh COMMAND...: runs COMMAND as on a CPU without AVX-512 (tools/hide_avx512.c:
# CPUID says AVX2 only, to this process and every one it starts), so that an AVX-512 machine
# also checks what an AVX2-only one (a Zen 3) would do: .ci/run runs the test suite this way
# after running it as it is. Where there is no AVX-512 to hide, or CPUID cannot be made to
# fault, it says so and exits 0 without running COMMAND (the CPU as it is was the AVX2 run).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! grep -qw avx512f /proc/cpuinfo; then
    echo "as_avx2_only: this CPU has no AVX-512: nothing to hide, $* not run again"
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cc=${CC:-cc}
"$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC -o "$dir/hide_avx512.so" \
    "$root/tools/hide_avx512.c"
printf '#include <stdio.h>\nint main(void){__builtin_cpu_init();puts(__builtin_cpu_supports("avx512f")?"seen":"hidden");return 0;}\n' \
    > "$dir/probe.c"
"$cc" -o "$dir/probe" "$dir/probe.c"
export HIDE_AVX512=1 LD_AUDIT="$dir/hide_avx512.so"
if [ "$("$dir/probe")" != hidden ]; then
    echo "as_avx2_only: CPUID cannot be made to fault here (no cpuid_fault): $* not run again"
    exit 0
fi
echo "as_avx2_only: AVX-512 hidden from CPUID; running: $*"
"$@"
