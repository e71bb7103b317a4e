#!/usr/bin/env bash
# Run every test of the workspace on a fresh machine: installs the real peers the tests
# use when they are absent (openssl, curl; mandoc for the man pages; promtool from
# prometheus for the alert rules and the dashboard; chromium for the status page;
# lintian, man-db and systemd for the Debian package; pkilint and Python cryptography
# from PyPI; softhsm2 for the PKCS#11 token tests), runs the whole suite, then builds and tests the Debian package
# (scripts/test-package.sh, as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v mandoc >/dev/null 2>&1 || need+=(mandoc)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || need+=(python3-pip)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test peers: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# pkilint judges our OCSP responses beside `ocsp lint` (lint_ocsp_response) and our CRLs
# (lint_crl); the CRL tests build delta CRLs with Python `cryptography`, a pkilint dependency.
if ! command -v lint_ocsp_response >/dev/null 2>&1 || ! command -v lint_crl >/dev/null 2>&1; then
  echo "installing test peer: pkilint (PyPI)"
  python3 -m pip install -q pkilint 2>/dev/null || python3 -m pip install -q --break-system-packages pkilint
fi

cargo test --workspace --all-targets --locked "$@"
# Written by crates/ocsp/tests/status_page_browser.rs (headless Chromium).
shot="${CARGO_TARGET_DIR:-target}/tmp/status-page.png"
[ -s "$shot" ] || { echo "no status page screenshot at $shot" >&2; exit 1; }
echo "status page screenshot: $(realpath "$shot")"
$SUDO ./scripts/test-package.sh
