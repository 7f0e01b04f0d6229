#!/usr/bin/env bash
# Builds the libFuzzer targets with AddressSanitizer and runs each for RUNS executions
# (default 10 million) on the seed corpus, in Fuzz/corpus/<target>. A crash is saved in
# Fuzz/crashes/; add it to Fuzz/regressions/<target>/ so that `swift test` replays it.
#
#   Scripts/fuzz.sh [csv|gzip|all] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH=${1:-all}
RUNS=${2:-10000000}
swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  --product FuzzCSV >/dev/null
swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  --product FuzzGzip >/dev/null
BIN=.build-fuzz/release
seed() {  # the committed fixtures and small generated dumps as the seed corpus
  mkdir -p Fuzz/corpus/csv Fuzz/corpus/gzip Fuzz/crashes
  for f in Tests/HeadcountEndToEndTests/Fixtures/*.gz; do
    cp -n "$f" Fuzz/corpus/gzip/ 2>/dev/null || true
    (gzip -dc "$f" 2>/dev/null || true) | head -c 4096 > "Fuzz/corpus/csv/$(basename "$f" .gz)"
  done
  cp -n Tests/HeadcountEndToEndTests/Fixtures/*.csv Tests/HeadcountEndToEndTests/Fixtures/*.tsv Fuzz/corpus/csv/ 2>/dev/null || true
}
seed
run() {  # target corpus
  echo "== $1: $RUNS runs"
  "$BIN/$1" -runs="$RUNS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=Fuzz/crashes/ "$2" 2>&1 | grep -E "^(stat::|#[0-9]+ *DONE|Done|==[0-9]+==ERROR|SUMMARY|artifact)" || true
}
[[ $WHICH == csv || $WHICH == all ]] && run FuzzCSV Fuzz/corpus/csv
[[ $WHICH == gzip || $WHICH == all ]] && run FuzzGzip Fuzz/corpus/gzip
ls Fuzz/crashes
