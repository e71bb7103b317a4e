#!/usr/bin/env bash
# Run every test of the workspace on a fresh machine: installs the real peers the tests
# use (openssl, curl, pkilint) when they are absent, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test peers: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# The CRL tests lint our CRLs with pkilint (`lint_crl`) and build delta CRLs with Python
# `cryptography` (a pkilint dependency).
if ! command -v lint_crl >/dev/null 2>&1; then
  command -v python3 >/dev/null 2>&1 || {
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-pip
  }
  echo "installing test peer: pkilint (pip)"
  python3 -m pip install -q pkilint || python3 -m pip install -q --break-system-packages pkilint
fi

cargo test --workspace --all-targets --locked "$@"
