#!/usr/bin/env python3
"""Keys in a PKCS#11 token (SoftHSM2) benchmarked beside the token itself and beside key
files (run it through bench/hsm.sh).

Builds a PKI with `openssl ca` (bench.py's), a SoftHSM2 token in the work directory with
the RSA-2048 and P-256 responder keys imported, then, for each key:

1. the token's raw signing rate: `pkcs11_speed` with as many threads as `ocsp serve` has
   signing threads, each with its own session (what the token can do, nothing else);
2. `ocsp serve --rkey pkcs11:…` under a nonce load (every request signed in the token): its
   requests/s as a ratio of (1). Goal: >= 0.8.
3. cacheable GETs (`wrk`, keep-alive, random serials from a presigned set) with the key in
   the token and with the key in its file, and `openssl ocsp` (key file, `ab`) as the
   reference: the token must not change the cached path.
"""

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench as b  # noqa: E402

MODULE_PATHS = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
PIN = "4711"


def softhsm(work):
    module = next((m for m in MODULE_PATHS if os.path.isfile(m)), None)
    if not module:
        raise SystemExit("bench: SoftHSM2 is not installed: apt-get install -y softhsm2")
    store = f"{work}/softhsm"
    os.makedirs(f"{store}/tokens", exist_ok=True)
    with open(f"{store}/softhsm2.conf", "w") as f:
        f.write(f"directories.tokendir = {store}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = f"{store}/softhsm2.conf"
    b.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", PIN, "--so-pin", PIN + PIN])
    return module


def import_key(d, name, key_id):
    plain = f"{d}/{name}.p8.pem"
    b.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", f"{d}/{name}.key", "-out", plain])
    b.run(["softhsm2-util", "--import", plain, "--token", "bench", "--label", name, "--id", key_id, "--pin", PIN])
    os.remove(plain)


def raw_rate(module, name, threads, secs):
    out = b.run(b.NICE + [os.environ["PKCS11_SPEED_BIN"], module, "bench", name, PIN, str(threads), str(secs)])
    return float(re.search(r"signatures_per_second (\d+)", out).group(1))


def start_token(d, signer, module, threads, extra=()):
    uri = f"pkcs11:token=bench;object=ocsp-{signer}"
    cmd = [os.environ["OCSP_BIN"], "serve", "--index", f"{d}/index.txt", "--listen", "127.0.0.1:0",
           "--rsigner", f"{d}/ocsp-{signer}.crt", "--rkey", uri, "--pkcs11-module", module,
           "--passin", f"pass:{PIN}", "--ca", f"{d}/cacert.pem", "--ndays", "1",
           "--signing-threads", str(threads), *extra]
    s = b.Server(f"ours-token-{signer}", cmd, env={"RUST_LOG": "warn"})
    s.wait_ours()
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 s per load, once, small index (a shared machine)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per load run (default 10)")
    ap.add_argument("--conns", type=int, default=64, help="concurrent connections (default 64)")
    ap.add_argument("--entries", type=int, default=100_000, help="index entries (default 100000)")
    ap.add_argument("--requests", type=int, default=1000, help="distinct serials requested (default 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per load, best kept (default 3)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                    help="signing threads of ocsp serve and threads of the raw-rate probe (default: cores)")
    ap.add_argument("--skip-openssl", action="store_true", help="do not run openssl ocsp")
    ap.add_argument("--work", help="working directory (default: a new temporary one)")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.repeat = min(args.duration, 2), 1
        args.entries, args.requests, args.conns = min(args.entries, 2000), min(args.requests, 100), min(args.conns, 16)
    for v in ("OCSP_BIN", "PKCS11_SPEED_BIN"):
        if v not in os.environ:
            raise SystemExit("bench: run me through bench/hsm.sh")
    work = args.work or tempfile.mkdtemp(prefix="ocsp-bench-hsm-")
    d = f"{work}/pki"
    rng = random.Random(4)
    b.log(f"PKI with openssl ca in {d} ...")
    b.make_pki(d, 3)
    base = open(f"{d}/index.txt").readlines()
    real = b.real_serials(d)
    synth = b.write_index(f"{d}/index.txt", base, args.entries, rng)
    paths, _ = b.make_requests(d, work, synth, real[2:], args.requests, rng)
    module = softhsm(work)
    import_key(d, "ocsp-rsa", "01")
    import_key(d, "ocsp-p256", "02")
    rows = []

    def best(measure):
        tries = [measure() for _ in range(args.repeat)]
        return max(tries, key=lambda t: t["rps"] if isinstance(t, dict) else t)

    try:
        for signer, label in (("rsa", "RSA-2048"), ("p256", "P-256")):
            secs = max(2, args.duration // 2)
            raw = best(lambda: raw_rate(module, f"ocsp-{signer}", args.threads, secs))
            s = start_token(d, signer, module, args.threads)
            nonce = best(lambda: b.load_wrk(s, work, "nonce", args, check=True))
            get_token = best(lambda: b.load_wrk(s, work, "get", args, check=True))
            s.stop()
            f = b.start_ours(d, signer, extra=["--signing-threads", str(args.threads)])
            get_file = best(lambda: b.load_wrk(f, work, "get", args, check=True))
            f.stop()
            ref = None
            if not args.skip_openssl:
                # The reference is `openssl ocsp`, which can stop answering under `ab`
                # (it is single-threaded and has no timeouts): a failed try is reported and
                # left out, never the end of the run.
                tries = []
                for _ in range(args.repeat):
                    o = b.start_openssl(d, signer)
                    try:
                        tries.append(b.load_ab(o, work, "get", args, paths[0]))
                    except SystemExit as e:
                        b.log(f"  openssl ocsp reference ({label}) failed, left out: {str(e).splitlines()[-1]}")
                    finally:
                        o.stop()
                ref = max(tries, key=lambda t: t["rps"]) if tries else None
            rows.append((label, raw, nonce, get_token, get_file, ref))
            b.log(f"  {label}: token raw {raw:,.0f}/s, nonce {nonce['rps']:,.0f}/s "
                  f"(bad {nonce['bad']}, non-2xx {nonce['non2xx']}), GET token {get_token['rps']:,.0f}/s, "
                  f"GET file {get_file['rps']:,.0f}/s" + (f", openssl GET {ref['rps']:,.0f}/s" if ref else ""))
    finally:
        for s in list(b.RUNNING):
            s.stop()

    mode = "quick (rough: shared CPU)" if args.quick else f"best of {args.repeat}"
    print(f"\n### Keys in SoftHSM2 ({mode}; {args.threads} signing threads, wrk -c{args.conns}, "
          f"{args.duration} s per load; {os.cpu_count()} cores)\n")
    print("| key | token raw signatures/s | nonce req/s (signed in the token) | ratio (goal >= 0.8) "
          "| GET token req/s | GET file req/s | token/file | openssl ocsp GET (ab) | token/openssl | file/openssl |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, raw, nonce, gt, gf, ref in rows:
        r = nonce["rps"] / raw if raw else 0
        refs = (f"{ref['rps']:,.0f} | {gt['rps'] / ref['rps']:.1f}x | {gf['rps'] / ref['rps']:.1f}x"
                if ref else "- | - | -")
        print(f"| {label} | {raw:,.0f} | {nonce['rps']:,.0f} | {r:.2f} | {gt['rps']:,.0f} | {gf['rps']:,.0f} "
              f"| {gt['rps'] / gf['rps']:.2f} | {refs} |")
    bad = sum((n["bad"] or 0) + n["non2xx"] + n["errors"] for _, _, n, _, _, _ in rows)
    print(f"\nbad or failed nonce answers: {bad}")


if __name__ == "__main__":
    main()
