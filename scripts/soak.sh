#!/usr/bin/env bash
# Soak test (issue 5, point 5): mixed load — cacheable GETs, nonce POSTs, malformed
# requests, slow clients and slowloris connections — on a release build of `ocsp serve`
# while index.txt is rewritten (by rename, as openssl ca does) every 3 seconds.
# Judged: zero 5xx, zero answers disagreeing with the index at the time, every signed
# answer verified, RSS at the end within 10 % of RSS after the first minute.
#
#   scripts/soak.sh            10 minutes; the results table goes into docs/robustness.md
#   scripts/soak.sh --short    90 seconds; printed only (RSS growth reported, not judged)
#   scripts/soak.sh --secs N   N seconds; printed only
#
# Traffic goes to 127.0.0.1 only; the test is crates/ocsp/tests/it/robust_soak.rs (soak_long).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=600
write_docs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --short) secs=90; write_docs=0 ;;
    --secs) secs=$2; write_docs=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

report=$(mktemp)
trap 'rm -f "$report"' EXIT
echo "soak.sh: building (release) and soaking for ${secs} s"
OCSP_SOAK_SECS=$secs OCSP_SOAK_REPORT=$report \
  cargo test --release --locked -p ocsp --test it -- --ignored --nocapture --exact robust_soak::soak_long
echo
cat "$report"

if [ "$write_docs" = 1 ]; then
  doc=docs/robustness.md
  {
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on commit $(git rev-parse --short HEAD), $(nproc) cores ($(uname -m)), release build:"
    echo
    echo "| | |"
    echo "|---|---|"
    cat "$report"
  } >"$report.md"
  if [ -f "$doc" ] && grep -q '<!-- soak:begin -->' "$doc"; then
    awk -v f="$report.md" '
      /<!-- soak:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
      /<!-- soak:end -->/ { skip = 0 }
      !skip { print }
    ' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
    echo "soak.sh: results written to $doc"
  else
    echo "soak.sh: $doc has no <!-- soak:begin --> marker; results not written" >&2
  fi
  rm -f "$report.md"
fi
