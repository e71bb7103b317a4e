#!/usr/bin/env bash
# CRL figures beside openssl (docs/crl.md): a CRL of ENTRIES entries (default 1,000,000;
# 20-octet random serials, random order) built and signed with a P-256 key by our builder,
# then loaded by our reader into its revoked-serial table and by `openssl crl -noout`
# (parse only, then parse and verify) on the same file. Prints times, peak resident
# memory and ratios. Not a test: it never fails on a speed.
#
#   bench/crl.sh [ENTRIES]
#
# Then the status source (`ocsp serve --crl`: read, verify, table) on the same file, and
# `ocsp crl` on an index.txt of ENTRIES revoked certificates beside `openssl ca -gencrl`
# on the same index.
#
# Needs openssl and GNU time (/usr/bin/time); installs them when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing benchmark tools: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

cargo build --release --locked -q -p ocsp-proto --example crl_bench
cargo build --release --locked -q -p ocsp-status --features crl --example crl_source_load
cargo build --release --locked -q -p ocsp
BIN=$PWD/target/release/examples/crl_bench
SRC=$PWD/target/release/examples/crl_source_load
OCSP=$PWD/target/release/ocsp
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 30 -subj "/C=XX/O=Example/CN=CRL bench CA" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# "elapsed seconds, max RSS kB" of a command, its output in $W/out.
timed() { /usr/bin/time -f '%e %M' -o tm "$@" >out 2>&1 || { cat out >&2; return 1; }; cat tm; }

echo "== build: $n entries, P-256 (goal <= 2 s)"
read -r b_wall b_rss < <(timed "$BIN" build ca.key ca.pem "$n" crl.der)
cat out
build_s=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' out)
echo "build: ${build_s} s in the builder (process ${b_wall} s wall incl. generating entries, peak RSS ${b_rss} kB)"

echo "== load: ours (read, parse, verify, table) vs openssl crl"
read -r o_wall o_rss < <(timed "$BIN" load crl.der ca.pem)
cat out
read -r p_wall p_rss < <(timed openssl crl -inform DER -in crl.der -noout)
read -r v_wall v_rss < <(timed openssl crl -inform DER -in crl.der -noout -CAfile ca.pem)
grep -q "verify OK" out || { echo "openssl did not verify our CRL:" >&2; cat out >&2; exit 1; }
size=$(stat -c %s crl.der)
python3 - "$n" "$size" "$o_wall" "$o_rss" "$p_wall" "$p_rss" "$v_wall" "$v_rss" "$build_s" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
ow, orss, pw, prss, vw, vrss, bs = map(float, sys.argv[3:])
ow = max(ow, 0.01)  # /usr/bin/time's resolution, for small runs
print(f"CRL: {n} entries, {size/1e6:.1f} MB DER")
print(f"{'':28}{'wall s':>9}{'peak RSS MB':>14}")
print(f"{'ours: load+verify+table':28}{ow:9.2f}{orss/1024:14.1f}")
print(f"{'openssl crl -noout':28}{pw:9.2f}{prss/1024:14.1f}")
print(f"{'openssl crl -noout -CAfile':28}{vw:9.2f}{vrss/1024:14.1f}")
print(f"ratio openssl(parse)/ours: time {pw/ow:.2f}x, memory {prss/orss:.2f}x")
print(f"ratio openssl(verify)/ours: time {vw/ow:.2f}x, memory {vrss/orss:.2f}x")
print(f"build {n} entries with P-256: {bs:.2f} s (goal 2 s)")
PY

echo "== the CRL status source on the same file (ocsp serve --crl at start; goal <= 1.5 s, <= 64 B/entry)"
read -r s_wall s_rss < <(timed "$SRC" crl.der ca.pem)
cat out
s_secs=$(sed -n 's/^seconds=//p' out)
s_bpe=$(sed -n 's/^bytes_per_entry=//p' out)

echo "== ocsp crl: $n revoked entries from index.txt, P-256 (goal <= 2 s), beside openssl ca -gencrl"
mkdir -p ca
python3 - "$n" > ca/index.txt <<'PY'
import sys, random
n = int(sys.argv[1])
r = random.Random(7)
out = sys.stdout
for i in range(n):
    serial = "%040X" % (r.getrandbits(159) | (1 << 152))
    reason = ("", ",keyCompromise", ",superseded", ",cessationOfOperation")[i % 4]
    out.write("R\t491231235959Z\t250101000000Z%s\t%s\tunknown\t/CN=x%d\n" % (reason, serial, i))
PY
printf '[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\ndatabase = %s/ca/index.txt\ncertificate = %s/ca.pem\nprivate_key = %s/ca.key\ncrlnumber = %s/ca/crlnumber.openssl\ndefault_md = sha256\ndefault_crl_days = 7\n' \
  "$W" "$W" "$W" "$W" > ca/ca.cnf
echo 01 > ca/crlnumber.openssl
read -r c_wall c_rss < <(timed "$OCSP" crl --index ca/index.txt --ca ca.pem --keyfile ca.key --crlnumber ca/crlnumber --outform DER --out ca/ours.crl)
cat out
read -r g_wall g_rss < <(timed openssl ca -config ca/ca.cnf -gencrl -out ca/openssl.crl)
python3 - "$n" "$s_wall" "$s_rss" "$s_secs" "$s_bpe" "$c_wall" "$c_rss" "$g_wall" "$g_rss" <<'PY'
import sys
n = int(sys.argv[1])
sw, srss, ss, bpe, cw, crss, gw, grss = map(float, sys.argv[2:])
cw = max(cw, 0.01)  # /usr/bin/time's resolution, for small runs
print(f"{'':36}{'wall s':>9}{'peak RSS MB':>14}")
print(f"{'source: load+verify+table':36}{sw:9.2f}{srss/1024:14.1f}   ({ss:.2f} s in open, {bpe:.1f} B/entry)")
print(f"{'ocsp crl ({} revoked)'.format(n):36}{cw:9.2f}{crss/1024:14.1f}")
print(f"{'openssl ca -gencrl (same index)':36}{gw:9.2f}{grss/1024:14.1f}")
print(f"ratio openssl ca -gencrl / ocsp crl: time {gw/cw:.2f}x, memory {grss/crss:.2f}x")
PY
