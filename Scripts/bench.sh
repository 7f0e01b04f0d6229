#!/usr/bin/env bash
# Times `headcount report` on a dump beside the decompression floors and the peers,
# all through ../shared/bench/measure.py (quiet machine, /usr/bin/time -v), and checks
# headcount's counts against the DuckDB oracle.
#
#   Scripts/bench.sh DUMP_DIR [OUT_DIR]
#
# DUMP_DIR comes from ../shared/bench/gen_dumps.py (e.g. ../bench-data/M).
# Environment: PEERS (default gzip,duckdb,polars,chdb; "" for none; igzip and pigz run
# beside headcount, see below),
# BENCH_PY (python with duckdb/polars/chdb, default ../venvs/bench/bin/python),
# QUIET_CORES (default 0.25), EXTRA (more headcount flags, e.g. "--memory-limit 256MiB"),
# REPEAT (headcount runs per inflater, default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$(cd "${1:?usage: Scripts/bench.sh DUMP_DIR [OUT_DIR]}" && pwd)
OUT=${2:-$DIR/headcount-bench}
B=$PWD/../shared/bench
PY=${BENCH_PY:-$PWD/../venvs/bench/bin/python}
mkdir -p "$OUT"
swift build -c release --product headcount >/dev/null
H=$PWD/.build/release/headcount
ROWS=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['files']['contacts.csv.gz']['rows'])" "$DIR/manifest.json")
RAW=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['files']['contacts.csv.gz']['uncompressed_bytes'])" "$DIR/manifest.json")
ARGS="--contacts $DIR/contacts.csv.gz"
[[ -f $DIR/memberships.csv.gz ]] && ARGS="$ARGS --memberships $DIR/memberships.csv.gz"

run() {  # name command
  "$PY" "$B/measure.py" run --dir "$OUT" --name "$1" --rows "$ROWS" --bytes "$RAW" \
    --quiet-cores "${QUIET_CORES:-0.25}" --quiet-max "${QUIET_MAX:-600}" -- "$2"
}

cat "$DIR/contacts.csv.gz" > /dev/null
# Headcount runs REPEAT times (default 3) with each inflater, alternating with the floor it is
# measured against (`igzip -dc` for ISA-L, `pigz -dc` for zlib), because these machines are
# noisy: one `igzip -dc` run drifted from 1.24 s to 1.39 s between two minutes. The table
# lists every run (headcount-isa-l-2 is the second); the ratios below it are of medians.
FLOOR_isa_l="igzip -dc $DIR/contacts.csv.gz > /dev/null"
FLOOR_zlib="pigz -dc $DIR/contacts.csv.gz > /dev/null"
for k in $(seq "${REPEAT:-3}"); do
  for inflater in isa-l zlib; do
    floor=FLOOR_${inflater//-/_}
    name=$([[ $inflater == isa-l ]] && echo igzip || echo pigz)
    command -v "$name" > /dev/null && run "$name-$k" "${!floor}"
    run "headcount-$inflater-$k" "HEADCOUNT_INFLATER=$inflater $H report $ARGS --out $OUT/hc-$inflater --no-history --quiet ${EXTRA:-}"
    cut -d, -f1,4,5 "$OUT/hc-$inflater/teams.csv" > "$OUT/headcount-$inflater-$k.csv"
  done
done
PEERS=${PEERS-gzip,duckdb,polars,chdb}
[[ -n $PEERS ]] && BENCH_OUT=$OUT PEERS=$PEERS "$B/peers.sh" "$DIR" > /dev/null || true
"$PY" "$B/measure.py" report --dir "$OUT" | tee "$OUT/bench.md"
# Each headcount against its floor, by the medians of the runs alternated with it.
"$PY" - "$OUT" <<'PY' | tee -a "$OUT/bench.md"
import json, pathlib, statistics, sys
out = pathlib.Path(sys.argv[1])
kept = {}
for line in (out / "results.jsonl").read_text().splitlines():
    r = json.loads(line)
    if r.get("kept"):
        kept[r["name"]] = r["wall_s"]
def walls(prefix):
    return [w for name, w in kept.items() if name.startswith(prefix + "-") and name[len(prefix) + 1:].isdigit()]
for mine, floor in (("headcount-isa-l", "igzip"), ("headcount-zlib", "pigz")):
    a, b = walls(mine), walls(floor)
    if a and b:
        print(f"\n{mine}: median {statistics.median(a):.2f} s against {floor} -dc median "
              f"{statistics.median(b):.2f} s ({len(b)} runs each, alternating): {statistics.median(a) / statistics.median(b):.2f}x")
PY
if [[ -f $DIR/expected.csv ]]; then
  for f in "$OUT"/headcount-*.csv; do
    diff -q "$f" "$DIR/expected.csv" >/dev/null || { echo "$f differs from reference_counts.py"; exit 1; }
  done
  echo "every headcount run's counts equal reference_counts.py"
fi
