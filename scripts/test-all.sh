#!/usr/bin/env bash
# Run every test of the workspace on a fresh machine: installs the real peers the tests
# use (openssl, curl, promtool; pkilint and Python cryptography from PyPI) when they are
# absent, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || need+=(python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test peers: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# pkilint judges our OCSP responses beside `ocsp lint` (lint_ocsp_response) and our CRLs
# (lint_crl); the CRL tests build delta CRLs with Python `cryptography`, a pkilint dependency.
if ! command -v lint_ocsp_response >/dev/null 2>&1 || ! command -v lint_crl >/dev/null 2>&1; then
  echo "installing test peer: pkilint (PyPI)"
  python3 -m pip install -q pkilint 2>/dev/null || python3 -m pip install -q --break-system-packages pkilint
fi

cargo test --workspace --all-targets --locked "$@"
