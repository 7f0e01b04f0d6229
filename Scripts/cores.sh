#!/usr/bin/env bash
# How `headcount report` scales with the cores it is given: the run pinned (taskset) to 2, 3
# and 4 cores and given all of them, each run after an `igzip -dc` of the same file, ROUNDS
# rounds; prints the median wall times and the ratios of the medians to `igzip -dc`'s, and
# checks that every run's teams.csv and audiences.csv are identical.
#
#   Scripts/cores.sh DUMP_DIR [OUT_DIR]
#
# DUMP_DIR holds contacts.csv.gz (e.g. ../bench-data/M). Environment: HEADCOUNT (the binary,
# default a release build made here), IGZIP (default igzip), ROUNDS (default 5), CORES
# (default "2 3 4 all"; a count above the machine's is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$(cd "${1:?usage: Scripts/cores.sh DUMP_DIR [OUT_DIR]}" && pwd)
OUT=${2:-$(mktemp -d)}
mkdir -p "$OUT"
if [[ -z ${HEADCOUNT:-} ]]; then
  swift build -c release --product headcount >/dev/null
  HEADCOUNT=$PWD/.build/release/headcount
fi
IGZIP=${IGZIP:-igzip}
F=$DIR/contacts.csv.gz
N=$(nproc)
cat "$F" > /dev/null
: > "$OUT/times.txt"
timed() {  # label command...
  local label=$1 start=$EPOCHREALTIME
  shift
  "$@" > /dev/null
  awk -v l="$label" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%s %.3f\n", l, b - a }' >> "$OUT/times.txt"
}
for r in $(seq "${ROUNDS:-5}"); do
  for c in ${CORES:-2 3 4 all}; do
    if [[ $c == all ]]; then pin=() threads=$N; else pin=(taskset -c "0-$((c - 1))") threads=$c; fi
    (( threads <= N )) || continue
    timed igzip "$IGZIP" -dc "$F"
    timed "headcount-$c" "${pin[@]}" "$HEADCOUNT" report --contacts "$F" --out "$OUT/$c-$r" --no-history --quiet \
      --threads "$threads"
  done
done
for d in "$OUT"/*-*/; do
  for f in teams.csv audiences.csv; do
    cmp -s "$d/$f" "$(ls -d "$OUT"/*-1/ | head -1)/$f" || { echo "different $f in $d" >&2; exit 1; }
  done
done
median() {  # label: the median of its times
  grep "^$1 " "$OUT/times.txt" | awk '{ print $2 }' | sort -n |
    awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
g=$(median igzip)
echo "igzip -dc: median $g s over $(grep -c '^igzip ' "$OUT/times.txt") runs"
for label in $(awk '$1 != "igzip" { print $1 }' "$OUT/times.txt" | sort -u); do
  m=$(median "$label")
  awk -v l="$label" -v m="$m" -v g="$g" -v n="$(grep -c "^$label " "$OUT/times.txt")" \
    'BEGIN { printf "%s: median %.3f s over %d runs, %.2fx igzip -dc\n", l, m, n, m / g }'
done
echo "every run's teams.csv and audiences.csv are identical ($OUT)"
