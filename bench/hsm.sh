#!/usr/bin/env bash
# Keys in a PKCS#11 token (SoftHSM2), benchmarked (docs/hsm.md, docs/benchmarks.md). Not a
# test: it prints figures and ratios and never fails on a speed.
#
#   bench/hsm.sh            full run (10 s per load, best of 3)
#   bench/hsm.sh --quick    a few seconds per load, once (a shared machine: figures are rough)
#   bench/hsm.sh --help     all options
#
# 1. nonce requests signed in the token, as a ratio of the token's raw signing rate
#    measured in the same run with as many threads (goal >= 0.8 for RSA-2048 and P-256);
# 2. cacheable GETs with the key in the token beside the same with the key in a file, and
#    `openssl ocsp` (key file) as the reference: where the key lives must not matter.
#
# Installs softhsm2, wrk, ab and openssl when missing; builds `ocsp` and the raw-rate probe
# (crates/ocsp-signer/examples/pkcs11_speed.rs) in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v ab >/dev/null 2>&1 || need+=(apache2-utils)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing benchmark tools: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

for a in "$@"; do
  case "$a" in -h|--help) exec python3 bench/hsm.py --help ;; esac
done

target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || echo target)
if [ -z "${OCSP_BIN:-}" ]; then
  echo "building ocsp (release)..." >&2
  cargo build --release --locked -p ocsp >&2 || cargo build --release -p ocsp >&2
  OCSP_BIN="$target_dir/release/ocsp"
fi
echo "building the raw-rate probe (release)..." >&2
cargo build --release --locked -p ocsp-signer --features pkcs11 --example pkcs11_speed >&2 \
  || cargo build --release -p ocsp-signer --features pkcs11 --example pkcs11_speed >&2
export OCSP_BIN PKCS11_SPEED_BIN="$target_dir/release/examples/pkcs11_speed"
exec python3 bench/hsm.py "$@"
