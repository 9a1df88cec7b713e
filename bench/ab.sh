#!/usr/bin/env bash
# Interleaved A/B wall time of commands reading one input, timed with `date` around each run
# the way ../shared/bench/*/run.sh time feedmill (fork, exec and exit included). On a VM whose
# speed drifts by tens of percent from minute to minute, only runs interleaved in the same
# minutes compare two builds fairly.
#
# usage: bench/ab.sh N INPUT "command A" "command B" ...
#   e.g. bench/ab.sh 21 /tmp/feedmill-bench-dedupe/dev-*.jsonl \
#          "/path/old/feedmill pipe dedupe --set dedupe.mode=mark" \
#          "build/feedmill pipe dedupe --set dedupe.mode=mark"
# Prints the min and median milliseconds of each command, in the order given.
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
n=$1 input=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 0; i < n; i++)); do
  k=0
  for c in "$@"; do
    k=$((k + 1))
    s=$(date +%s%N)
    eval "$c" < "$input" > "$out" 2>/dev/null
    e=$(date +%s%N)
    echo "$k $(((e - s) / 1000))"
  done
done | sort -k1,1n -k2,2n | awk '
  { c[$1]++; a[$1, c[$1]] = $2 }
  END { for (k = 1; k in c; k++) printf "%d: min %.1f ms, median %.1f ms\n", k, a[k, 1] / 1000, a[k, int((c[k] + 1) / 2)] / 1000 }'
