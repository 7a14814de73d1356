#!/usr/bin/env bash
# bench/output_memory.sh [isol8 binary]: the runner's peak memory while the program prints a lot.
# For each output size, runs `yes | head -c <size>` streamed, with --no-stream and with --json,
# under an output cap, and prints the peak RSS that /usr/bin/time reports (%M: the runner's, or
# a reaped child's if larger; the sandbox's yes and head take about 2 MB) next to the cap.
# Streaming needs only the masking window; --no-stream and --json at most the cap per stream.
#   bench/output_memory.sh                                   # build/src/cli/isol8, native
#   ISOL8_BENCH_BACKEND=docker bench/output_memory.sh
#   ISOL8_BENCH_CAP=100000000 ISOL8_BENCH_SIZES="10000000 200000000" bench/output_memory.sh
# Also `ninja -C build output_memory_bench`. A measurement only: nothing is asserted.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
isol8=${1:-$root/build/src/cli/isol8}
backend=${ISOL8_BENCH_BACKEND:-native}
cap=${ISOL8_BENCH_CAP:-50000000}
sizes=${ISOL8_BENCH_SIZES:-"1000000 10000000 80000000"}
if [ ! -x /usr/bin/time ]; then
  echo "isol8: /usr/bin/time is missing (apt-get install time)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/isol8-bench-output.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "isol8: $isol8, backend $backend, cap $cap bytes per stream; machine load: $(uptime)" >&2
printf '%-10s %12s %12s %14s\n' mode output_bytes cap_bytes peak_rss_kib
for size in $sizes; do
  for mode in stream no-stream json; do
    flags=()
    [ "$mode" != stream ] && flags=("--$mode")
    # In a directory of its own with HOME there: no config file of the machine applies.
    if ! (cd "$work" && HOME=$work /usr/bin/time -f %M -o "$work/rss" \
      "$isol8" run --backend "$backend" --max-output "$cap" "${flags[@]}" \
      --cmd "yes | head -c $size" >/dev/null 2>"$work/err"); then
      echo "isol8: the $mode run of $size bytes failed:" >&2
      cat "$work/err" >&2
      exit 1
    fi
    printf '%-10s %12s %12s %14s\n' "$mode" "$size" "$cap" "$(tail -1 "$work/rss")"
  done
done
