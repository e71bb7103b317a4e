#!/usr/bin/env bash
# Side-by-side benchmark: `openssl ocsp` vs `ocsp serve` on the same PKI, index and
# request mix (docs/benchmarks.md). Not a test: it prints figures and ratios and never
# fails on a speed.
#
#   bench/run.sh            full run (100,000-entry index, 10 s per load, 1M-entry reload test)
#   bench/run.sh --smoke    a few seconds, small index (CI may call this)
#   bench/run.sh --help     all options
#
# Installs its load tools (wrk, ab) and openssl when missing; builds `ocsp` in release
# mode (or uses $OCSP_BIN). Every server listens on 127.0.0.1 only... except
# `openssl ocsp -port`, which cannot be told an address; all traffic goes to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v ab >/dev/null 2>&1 || need+=(apache2-utils)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing benchmark tools: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

for a in "$@"; do
  case "$a" in -h|--help) exec python3 bench/bench.py --help ;; esac
done

if [ -z "${OCSP_BIN:-}" ]; then
  echo "building ocsp (release)..." >&2
  cargo build --release --locked -p ocsp >&2 || cargo build --release -p ocsp >&2
  target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || echo target)
  OCSP_BIN="$target_dir/release/ocsp"
fi
export OCSP_BIN
exec python3 bench/bench.py "$@"
