#!/usr/bin/env bash
# `ocsp import` into PostgreSQL, timed (docs/postgres.md): an index.txt of N entries
# (1% revoked) loaded into an empty database (one transaction: COPY into a temp table,
# one UPDATE and one INSERT), then loaded again (nothing changes, no generation step).
# Prints the times and entries/s. Not a test: it never fails on a speed (goal: 1,000,000
# entries in <= 30 s).
#
#   bench/pg_import.sh             1,000,000 entries
#   bench/pg_import.sh --quick     20,000 entries
#   bench/pg_import.sh --entries N
#
# The database: $OCSP_DATABASE_URL when set (a database this run may fill), else a
# throwaway cluster (initdb + pg_ctl on a free port in a temp dir, as the postgres OS
# user when run as root; default server settings), removed at exit. Builds `ocsp` in
# release mode (or uses $OCSP_BIN). Installs openssl and PostgreSQL when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

n=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) n=20000 ;;
    --entries) n=$2; shift ;;
    --entries=*) n=${1#--entries=} ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (--quick, --entries N)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ -z "${OCSP_DATABASE_URL:-}" ] && [ -z "$pgbin" ]; then need+=(postgresql); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
fi

if [ -z "${OCSP_BIN:-}" ]; then
  echo "building ocsp (release)..." >&2
  cargo build --release --locked -p ocsp >&2 || cargo build --release -p ocsp >&2
  OCSP_BIN=$PWD/target/release/ocsp
fi

W=$(mktemp -d /tmp/ocsp-pg-bench-XXXXXX)
chmod 755 "$W"
pgctl=
cleanup() {
  if [ -n "$pgctl" ]; then $pgctl -D "$W/data" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

if [ -z "${OCSP_DATABASE_URL:-}" ]; then
  run_pg=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$W"; run_pg=(runuser -u postgres --); fi
  pw=$(openssl rand -hex 12)
  echo "$pw" > "$W/pw"; chmod 644 "$W/pw"
  "${run_pg[@]}" "$pgbin/initdb" -D "$W/data" -U postgres -E UTF8 --locale=C --auth-local=trust \
    --auth-host=scram-sha-256 --pwfile="$W/pw" --no-instructions >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pgctl="${run_pg[*]} $pgbin/pg_ctl"
  $pgctl -D "$W/data" -l "$W/log" -w -o "-p $port -k $W -c listen_addresses=127.0.0.1" start >/dev/null
  export OCSP_DATABASE_URL="postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable"
  where="throwaway cluster ($($pgbin/postgres --version), default settings)"
else
  where="\$OCSP_DATABASE_URL"
fi

cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 30 -subj "/O=ocsp bench/CN=Import bench CA" 2>/dev/null
# index.txt: serials 1000.., notAfter in 2030, every 100th revoked (keyCompromise).
awk -v n="$n" 'BEGIN {
  for (i = 0; i < n; i++) {
    s = sprintf("%X", 4096 + i); if (length(s) % 2) s = "0" s
    if (i % 100 == 0) printf "R\t300101000000Z\t260101000000Z,keyCompromise\t%s\tunknown\t/CN=leaf %d\n", s, i
    else printf "V\t300101000000Z\t\t%s\tunknown\t/CN=leaf %d\n", s, i
  }
}' > index.txt

"$OCSP_BIN" db migrate >/dev/null
now() { date +%s.%N; }
t0=$(now)
"$OCSP_BIN" import --quiet --ca ca.pem --index index.txt > first.out
t1=$(now)
"$OCSP_BIN" import --quiet --ca ca.pem --index index.txt > second.out
t2=$(now)
first=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
second=$(python3 -c "print(f'{$t2 - $t1:.2f}')")
rate1=$(python3 -c "print(f'{$n / ($t1 - $t0):.0f}')")
rate2=$(python3 -c "print(f'{$n / ($t2 - $t1):.0f}')")

echo "== ocsp import: $n index.txt entries into $where"
grep '^imported' first.out | sed 's/^/   /'
grep '^imported' second.out | sed 's/^/   /'
echo "first import (all new):     $first s wall, $rate1 entries/s (goal: 1,000,000 in <= 30 s)"
echo "second import (unchanged):  $second s wall, $rate2 entries/s"
