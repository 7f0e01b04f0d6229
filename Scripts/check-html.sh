#!/usr/bin/env bash
# Renders a report.html, a compare.html and a peak.html with headless Chromium (Debian's
# `chromium`), writes PNG screenshots, and fails when the pages log a console error
# or try to load anything from the network.
#
#   Scripts/check-html.sh [OUT_DIR]      (default: /tmp/headcount-html-check)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/headcount-html-check}
command -v chromium >/dev/null || { echo "check-html: chromium is not installed (apt-get install chromium)" >&2; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT"
swift build -c release --product headcount >/dev/null
H=$PWD/.build/release/headcount
cd "$OUT"
"$H" generate --teams 300 --rows 60000 --seed 5 --out before >/dev/null
"$H" generate --teams 320 --rows 70000 --seed 6 --out after >/dev/null
"$H" report --contacts before/contacts.csv.gz --label before --out report --quiet
"$H" report --contacts after/contacts.csv.gz --label after --out report-after --quiet
"$H" compare before after --out compare >/dev/null
"$H" peak --from 2000-01-01 --to 2100-12-31 --out peak >/dev/null

status=0
for page in report/report.html compare/compare.html peak/peak.html; do
  png="$OUT/$(basename "$page" .html).png"
  log="$OUT/$(basename "$page" .html).log"
  chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
    --window-size=1200,3000 --screenshot="$png" "file://$OUT/$page" 2>"$log" >/dev/null || true
  # Console messages from the page are logged as CONSOLE(...) lines; network loads as requests.
  if grep -E 'CONSOLE|Uncaught' "$log" >/dev/null; then
    echo "check-html: $page logged console messages:" >&2
    grep -E 'CONSOLE|Uncaught' "$log" >&2
    status=1
  fi
  if grep -Eo '(src|href)="(https?:)?//[^"]*' "$page" >/dev/null; then
    echo "check-html: $page refers to the network" >&2
    status=1
  fi
  [[ -s "$png" ]] || { echo "check-html: no screenshot for $page" >&2; status=1; }
  echo "$page: $(wc -c < "$page") bytes, screenshot $png"
done
exit $status
