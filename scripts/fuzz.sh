#!/usr/bin/env bash
# Run the cargo-fuzz targets in fuzz/, one after another, one process each.
#
#   scripts/fuzz.sh --smoke              every target ~10 s (what .ci/run does)
#   scripts/fuzz.sh --time 600 [TARGET]  a campaign: 600 s per target
#   scripts/fuzz.sh --list               the targets
#
# Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Seeds (real requests and responses made by `openssl ocsp`, CRLs made by `openssl ca
# -gencrl`, index lines, a config) are
# generated into fuzz/corpus/<target> when that directory is empty, so nothing binary is
# committed. Logs go to fuzz/logs/<run>/<target>.log; crashes to fuzz/artifacts/<target>/.
# Prints one summary line per target (executions, coverage, corpus, crashes) and exits
# non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ=$ROOT/fuzz

ALL_TARGETS=(request response get_path index_txt config roundtrip crl h1_differential)
secs=10
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) secs=10 ;;
    --time) secs=$2; shift ;;
    --list) printf '%s\n' "${ALL_TARGETS[@]}"; exit 0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: the nightly toolchain is missing: rustup toolchain install nightly" >&2
  exit 3
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
  exit 3
fi

max_len() {
  case "$1" in
    request) echo 12288 ;;
    get_path) echo 20000 ;;
    config) echo 8192 ;;
    crl) echo 65536 ;;
    h1_differential) echo 4096 ;;
    *) echo 16384 ;;
  esac
}

# ---- seeds -----------------------------------------------------------------------------
seed() {
  local t=$1 dir=$FUZZ/corpus/$1
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || return 0
  local s=$FUZZ/corpus/.seeds
  if [ ! -d "$s" ]; then make_seeds "$s"; fi
  case "$t" in
    request) cp "$s"/req*.der "$dir"/ 2>/dev/null || true ;;
    response) cp "$s"/resp*.der "$dir"/ 2>/dev/null || true ;;
    roundtrip) cp "$s"/req*.der "$s"/resp*.der "$dir"/ 2>/dev/null || true ;;
    get_path) cp "$s"/path* "$dir"/ 2>/dev/null || true ;;
    index_txt) cp "$s"/index* "$dir"/ ;;
    config) cp "$s"/config* "$dir"/ ;;
    crl) cp "$s"/crl* "$dir"/ 2>/dev/null || true ;;
    h1_differential) cp "$s"/head* "$dir"/ 2>/dev/null || true ;;
  esac
  # libFuzzer needs at least one input; an empty one is fine.
  [ -n "$(ls -A "$dir")" ] || : >"$dir/empty"
}

make_seeds() {
  local s=$1
  mkdir -p "$s"
  cat >"$s/index1" <<'IDX'
V	491231235959Z		1001	unknown	/CN=good.example
R	491231235959Z	240101000000Z,keyCompromise	1002	unknown	/CN=revoked.example
E	200101000000Z		1003	unknown	/CN=expired.example
R	20510101000000Z	240101000000Z,keyTime,20231231000000Z	0A1B	unknown	/CN=key time
R	491231235959Z	240101000000Z,holdInstruction,1.2.840.10040.2.2	0B	unknown	/C=XX/CN=hold
R	491231235959Z	240101000000Z,CAkeyTime,20231231000000Z	0C	unknown	/CN=ca key
R	491231235959Z	240101000000Z	0D	name\	with tab	/CN=tab\	here
IDX
  printf 'V\t491231235959Z\t\t01\tunknown\t/CN=a\n# comment\n' >"$s/index2"
  printf 'R\t491231235959Z\t240101000000Z,superseded\tFF\tunknown\t/CN=b\n\n' >"$s/index3"
  cat >"$s/config1" <<'CFG'
[server]
listen = ["127.0.0.1:2560", "[::1]:2560"]
port = 2560
text = true
[server.limits]
max_body_bytes = 10240
max_uri_bytes = 16384
max_cert_ids = 64
header_timeout_secs = 10
body_timeout_secs = 10
idle_timeout_secs = 60
request_timeout_secs = 8
max_connections = 10000
shutdown_grace_secs = 10

[[issuer]]
name = "root"
ca = "cacert.pem"
index = "index.txt"
rsigner = "ocsp.crt"
rkey = "ocsp.key"
passin = "file:pass.txt"
rmd = "sha384"
rsigopt = ["rsa_padding_mode:pss"]
ndays = 1
nmin = 30
unknown_serial = "revoked"
responder_id = "name"
resp_no_certs = true
rother = ["chain.pem"]
CFG
  printf '[[issuer]]\nca = "/a"\nindex = "b"\n' >"$s/config2"
  printf 'GET /MEIwQDA%%2BMDwwOjAJ?x HTTP/1.1\r\nHost: a\r\nIf-None-Match: "ab"\r\n\r\nHEAD / HTTP/1.1\r\n\r\n' >"$s/head1"
  printf 'POST / HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc' >"$s/head2"
  printf 'POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n' >"$s/head3"
  printf 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' >"$s/head4"
  printf 'GET /a\n b HTTP/1.1\nX: a\r\n b\r\n\r\n' >"$s/head5"
  if ! command -v openssl >/dev/null 2>&1; then
    echo "fuzz.sh: openssl not found: DER seeds skipped (the fuzzer starts from nothing)" >&2
    return 0
  fi
  local w
  w=$(mktemp -d)
  (
    cd "$w"
    set +e
    for kind in rsa ec; do
      if [ $kind = rsa ]; then kopt=(-newkey rsa:2048); else kopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); fi
      openssl req -x509 "${kopt[@]}" -nodes -keyout ca-$kind.key -out ca-$kind.pem -days 30 \
        -subj "/CN=Fuzz seed CA $kind" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
        -out leaf.csr -subj "/CN=leaf" 2>/dev/null
      openssl x509 -req -in leaf.csr -CA ca-$kind.pem -CAkey ca-$kind.key -set_serial 0x1001 \
        -days 10 -out leaf-$kind.pem 2>/dev/null
      openssl ocsp -issuer ca-$kind.pem -cert leaf-$kind.pem -reqout "$s/req-$kind-nonce.der" 2>/dev/null
      openssl ocsp -issuer ca-$kind.pem -sha256 -cert leaf-$kind.pem -no_nonce -reqout "$s/req-$kind-sha256.der" 2>/dev/null
      openssl ocsp -issuer ca-$kind.pem -serial 0x1001 -serial 0x1002 -serial 0x1003 -serial 0x99 \
        -reqout "$s/req-$kind-multi.der" 2>/dev/null
      for r in nonce sha256 multi; do
        openssl ocsp -index "$s/index1" -rsigner ca-$kind.pem -rkey ca-$kind.key -CA ca-$kind.pem \
          -ndays 1 -reqin "$s/req-$kind-$r.der" -respout "$s/resp-$kind-$r.der" 2>/dev/null
      done
      openssl ocsp -index "$s/index1" -rsigner ca-$kind.pem -rkey ca-$kind.key -CA ca-$kind.pem \
        -ndays 1 -resp_key_id -resp_no_certs -reqin "$s/req-$kind-multi.der" -respout "$s/resp-$kind-bykey.der" 2>/dev/null
      # CRLs from `openssl ca -gencrl`: v1 (no extensions at all) and v2 (CRL number, AKI,
      # every reason form index.txt can hold), in DER and PEM.
      printf '[ca]\ndefault_ca=d\n[d]\ndatabase=idx\ncertificate=ca-%s.pem\nprivate_key=ca-%s.key\ndefault_md=sha256\ndefault_crl_days=7\n[v2]\ndatabase=idx\ncertificate=ca-%s.pem\nprivate_key=ca-%s.key\ndefault_md=sha256\ndefault_crl_days=7\ncrlnumber=crlnum\ncrl_extensions=x\n[x]\nauthorityKeyIdentifier=keyid:always\n' \
        $kind $kind $kind $kind >ca.cnf
      printf 'R\t491231235959Z\t240101000000Z\t0A\tunknown\t/CN=a\nR\t491231235959Z\t240102000000Z\tC0FFEE\tunknown\t/CN=b\n' >idx
      openssl ca -config ca.cnf -gencrl -out "$s/crl-$kind-v1.pem" 2>/dev/null
      openssl crl -in "$s/crl-$kind-v1.pem" -outform DER -out "$s/crl-$kind-v1.der" 2>/dev/null
      grep -v '^V' "$s/index1" | grep -v '^E' >idx
      echo 1000 >crlnum
      openssl ca -config ca.cnf -name v2 -gencrl -out "$s/crl-$kind-v2.pem" 2>/dev/null
      openssl crl -in "$s/crl-$kind-v2.pem" -outform DER -out "$s/crl-$kind-v2.der" 2>/dev/null
    done
    printf '\x30\x03\x0a\x01\x01' >"$s/resp-malformed.der"
    printf '\x30\x03\x0a\x01\x06' >"$s/resp-unauthorized.der"
    for f in "$s"/req*.der; do
      b=$(basename "$f" .der)
      b64=$(base64 -w0 <"$f")
      printf '/%s' "$b64" >"$s/path-$b-plain"
      printf '/ocsp/%s' "$(printf '%s' "$b64" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')" >"$s/path-$b-pct"
      printf '//%s' "$(printf '%s' "$b64" | tr '+/' '-_' | tr -d '=')" >"$s/path-$b-url"
    done
  )
  rm -rf "$w"
}

# ---- build and run ---------------------------------------------------------------------
cd "$FUZZ"
# Logs of this run only (several runs may share the corpus at once: CI smoke next to a
# campaign); the corpus and the artifacts directories are shared.
LOGS=logs/$(date -u +%Y%m%dT%H%M%SZ)-$$
mkdir -p "$LOGS"
echo "fuzz.sh: building the targets (nightly, release with debug assertions); logs in fuzz/$LOGS"
cargo +nightly fuzz build -O -a >"$LOGS/build.log" 2>&1 || { tail -40 "$LOGS/build.log" >&2; exit 1; }

status=0
printf '%-10s %8s %12s %10s %8s %8s %8s\n' target seconds executions exec/s cov ft crashes
available=" $(cargo fuzz list 2>/dev/null | tr '\n' ' ') "
for t in "${targets[@]}"; do
  if [[ "$available" != *" $t "* ]]; then
    printf '%-10s not a target of fuzz/Cargo.toml (cargo fuzz list: %s)\n' "$t" "$available"
    status=1
    continue
  fi
  seed "$t"
  mkdir -p "artifacts/$t"
  before=$(find "artifacts/$t" -type f | wc -l)
  t0=$(date +%s)
  set +e
  cargo +nightly fuzz run -O -a "$t" "corpus/$t" -- \
    -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$LOGS/$t.log" 2>&1
  rc=$?
  set -e
  took=$(($(date +%s) - t0))
  after=$(find "artifacts/$t" -type f | wc -l)
  crashes=$((after - before))
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$LOGS/$t.log" | awk '{print $2}' | tail -1)
  last=$(grep -E '^#[0-9]+' "$LOGS/$t.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  eps=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-10s %8s %12s %10s %8s %8s %8s\n' "$t" "$took" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    echo "fuzz.sh: $t failed (exit $rc); see fuzz/$LOGS/$t.log and fuzz/artifacts/$t/" >&2
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$LOGS/$t.log" | head -5 >&2 || true
  fi
done
exit $status
