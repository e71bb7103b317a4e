#!/usr/bin/env bash
# The PostgreSQL status source beside the index.txt source, in one run
# (bench/postgres.py says what is measured; docs/postgres.md has the figures).
#
#   bench/postgres.sh           full run (100,000 entries for GET, 1,000,000 for node start)
#   bench/postgres.sh --quick   small sizes, short loads (a shared machine)
#
# Installs wrk and PostgreSQL when missing; builds `ocsp` in release mode (or uses
# $OCSP_BIN). Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
  || need+=(postgresql postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing benchmark tools: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

for a in "$@"; do
  case "$a" in -h|--help) exec python3 bench/postgres.py --help ;; esac
done

if [ -z "${OCSP_BIN:-}" ]; then
  echo "building ocsp (release)..." >&2
  cargo build --release --locked -p ocsp >&2 || cargo build --release -p ocsp >&2
  target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || echo target)
  OCSP_BIN="$target_dir/release/ocsp"
fi
export OCSP_BIN
exec python3 bench/postgres.py "$@"
