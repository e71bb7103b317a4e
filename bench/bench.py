#!/usr/bin/env python3
"""Side-by-side benchmark of `openssl ocsp` and `ocsp serve` (run it through bench/run.sh).

Builds a PKI with `openssl ca`, grows its index.txt to --entries lines (a few real
certificates from `openssl ca`, the rest written directly), makes OCSP requests with
`openssl ocsp -reqout`, then runs each responder in turn on the same files with the same
request mix, and prints requests/s, p50/p99 latency, server CPU per 1,000 answers and the
ratios against the targets of issue 4. It never fails on a speed.

Load tools: `ab` without keep-alive for `openssl ocsp` (it speaks HTTP/1.0, closes every
connection, and spins forever after a bare connect-and-close, so its port is only ever
polled with `ss -ltn`); `wrk` with keep-alive for `ocsp serve` (the target's setting), and
`ab` for `ocsp serve` too, for a like-for-like line.

Before/after: with `--baseline BIN` (another build of `ocsp`, e.g. of an earlier commit),
the same `ocsp serve` loads run on both binaries in the same run, one after the other per
mix, and a table prints each figure of this build as a ratio of the baseline's.
"""

import argparse
import base64
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# `nice -n N` in front of every server, load generator and `openssl speed` (--nice).
NICE = []

CNF = """\
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/cacert.pem
private_key = $dir/private/cakey.pem
serial = $dir/serial
default_md = sha256
default_days = 3650
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_OCSP ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
[ v3_leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout + r.stderr


# ---------------------------------------------------------------- PKI and index


def make_pki(d, leaves):
    os.makedirs(f"{d}/private", exist_ok=True)
    os.makedirs(f"{d}/newcerts", exist_ok=True)
    open(f"{d}/index.txt", "w").close()
    with open(f"{d}/serial", "w") as f:
        f.write("1000\n")
    cnf = f"{d}/openssl.cnf"
    with open(cnf, "w") as f:
        f.write(CNF.format(dir=d))
    run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", f"{d}/private/cakey.pem"])
    run(["openssl", "req", "-config", cnf, "-new", "-x509", "-key", f"{d}/private/cakey.pem",
         "-out", f"{d}/cacert.pem", "-days", "3650", "-subj", "/CN=Bench Root CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def issue(name, keyopts, ext):
        run(["openssl", "genpkey", *keyopts, "-out", f"{d}/{name}.key"])
        run(["openssl", "req", "-config", cnf, "-new", "-key", f"{d}/{name}.key",
             "-out", f"{d}/{name}.csr", "-subj", f"/CN={name}"])
        run(["openssl", "ca", "-batch", "-config", cnf, "-extensions", ext, "-notext",
             "-in", f"{d}/{name}.csr", "-out", f"{d}/{name}.crt"])

    issue("ocsp-rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "v3_OCSP")
    issue("ocsp-p256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "v3_OCSP")
    for i in range(leaves):
        issue(f"leaf{i}", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "v3_leaf")
    # One real revocation, as the seed does it.
    run(["openssl", "ca", "-config", cnf, "-revoke", f"{d}/leaf0.crt", "-crl_reason", "keyCompromise"])


def real_serials(d):
    out = []
    for line in open(f"{d}/index.txt"):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 4:
            out.append(f[3])
    return out


def synthetic_serial(rng):
    # 16 octets, top bit clear, no leading zero: every CertID has the same length.
    return "01" + "%030X" % rng.getrandbits(120)


def write_index(path, base_lines, n, rng, revoked_every=10):
    """base_lines plus synthetic entries up to n lines; returns the synthetic serials."""
    serials = []
    seen = set()
    with open(path, "w") as f:
        for line in base_lines:
            f.write(line)
        i = 0
        while len(base_lines) + i < n:
            s = synthetic_serial(rng)
            if s in seen:
                continue
            seen.add(s)
            if i % revoked_every == 0:
                f.write(f"R\t301231235959Z\t250101000000Z,keyCompromise\t{s}\tunknown\t/CN=bench-{i}\n")
            else:
                f.write(f"V\t301231235959Z\t\t{s}\tunknown\t/CN=bench-{i}\n")
            serials.append(s)
            i += 1
    return serials


# ---------------------------------------------------------------- requests


def request_der(d, serial, nonce):
    out = f"{d}/req-{serial}-{int(nonce)}.der"
    run(["openssl", "ocsp", "-issuer", f"{d}/cacert.pem", "-serial", "0x" + serial,
         "-reqout", out, "-nonce" if nonce else "-no_nonce"])
    with open(out, "rb") as f:
        return f.read()


def make_requests(d, work, serials, real, count, rng):
    """count nonce-free requests (GET paths and POST bodies) over random serials, a nonce
    template (prefix; wrk appends 16 random octets), one fixed nonce request for ab."""
    template = request_der(d, serials[0], False)
    sb = bytes.fromhex(serials[0])
    assert template.count(sb) == 1
    picked = rng.sample(serials, min(count - len(real), len(serials)))
    ders = [template.replace(sb, bytes.fromhex(s)) for s in picked]
    ders += [request_der(d, s, False) for s in real]
    rng.shuffle(ders)
    nonce_der = request_der(d, serials[0], True)
    assert nonce_der[-18:-16] == b"\x04\x10", "openssl's nonce is expected last, 16 octets"
    paths = ["/" + urllib.parse.quote(base64.b64encode(x).decode(), safe="") for x in ders]
    with open(f"{work}/paths.txt", "w") as f:
        f.write("\n".join(paths) + "\n")
    with open(f"{work}/bodies.hex", "w") as f:
        f.write("\n".join(x.hex() for x in ders) + "\n")
    with open(f"{work}/nonce-prefix.hex", "w") as f:
        f.write(nonce_der[:-16].hex() + "\n")
    with open(f"{work}/post.der", "wb") as f:
        f.write(ders[0])
    with open(f"{work}/nonce.der", "wb") as f:
        f.write(nonce_der)
    return paths, ders


LUA_COMMON = r"""
local function unhex(h) return (h:gsub("%x%x", function(c) return string.char(tonumber(c, 16)) end)) end
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
local check = os.getenv("BENCH_CHECK") == "1"
function init(args)
  math.randomseed(os.time() + math.floor((os.clock() * 1e6)) + #args * 7919 + math.random(1, 1e6))
  load_data(args, unhex)
end
if check then
  function response(status, headers, body)
    local p = body:find("\10\1", 1, true)
    if status ~= 200 or not p or p > 5 or body:byte(p + 2) ~= 0 then bad = bad + 1 end
  end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + (t:get("bad") or 0) end
  io.write(string.format("BAD_ANSWERS %d\n", b))
end
"""

LUA = {
    "get": r"""
local paths, n = {}, 0
function load_data(args, unhex) for l in io.lines(args[1]) do n = n + 1; paths[n] = wrk.format("GET", l) end end
function request() return paths[math.random(n)] end
""",
    "post": r"""
local bodies, n = {}, 0
local hdr = { ["Content-Type"] = "application/ocsp-request" }
function load_data(args, unhex) for l in io.lines(args[1]) do n = n + 1; bodies[n] = wrk.format("POST", "/", hdr, unhex(l)) end end
function request() return bodies[math.random(n)] end
""",
    "nonce": r"""
local prefix
local hdr = { ["Content-Type"] = "application/ocsp-request" }
function load_data(args, unhex) for l in io.lines(args[1]) do prefix = unhex(l) end end
function request()
  local t = {}
  for i = 1, 16 do t[i] = string.char(math.random(0, 255)) end
  return wrk.format("POST", "/", hdr, prefix .. table.concat(t))
end
""",
}


def lua_script(work, kind):
    p = f"{work}/{kind}.lua"
    with open(p, "w") as f:
        f.write(LUA[kind] + LUA_COMMON)
    return p


# ---------------------------------------------------------------- servers


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def listening(port):
    out = subprocess.run(["ss", "-ltnH"], stdout=subprocess.PIPE, text=True).stdout
    return any(re.search(rf"[:.]{port}\s", l + " ") for l in out.splitlines())


def cpu_secs(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1]) / 1024
    return 0.0


RUNNING = []


class Server:
    def __init__(self, name, cmd, env=None, port=None):
        RUNNING.append(self)
        self.name = name
        self.port = port
        self.started = time.monotonic()
        self.log = open(f"{tempfile.gettempdir()}/bench-{name}-{os.getpid()}.log", "w")
        environ = {**os.environ, **(env or {})}
        if env is not None and "RUST_LOG" not in env:
            environ.pop("RUST_LOG", None)
        self.proc = subprocess.Popen(NICE + cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=environ)
        self.ready_secs = None

    def wait_ours(self, timeout=120):
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line or "")
        if not m:
            self.stop()
            raise SystemExit(f"bench: ocsp serve did not start: {line!r}; see {self.log.name}")
        self.port = int(m.group(1))
        self.ready_secs = time.monotonic() - self.started

    def wait_openssl(self, timeout=60):
        # Never connect to see if it is up: a bare connect-and-close makes openssl ocsp 3.0 spin.
        deadline = time.monotonic() + timeout
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: openssl ocsp did not start; see {self.log.name}")
            time.sleep(0.05)
        self.ready_secs = time.monotonic() - self.started

    def stop(self):
        if self in RUNNING:
            RUNNING.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_openssl(d, signer):
    port = free_port()
    s = Server(f"openssl-{signer}", ["openssl", "ocsp", "-index", f"{d}/index.txt", "-port", str(port),
                                      "-rsigner", f"{d}/ocsp-{signer}.crt", "-rkey", f"{d}/ocsp-{signer}.key",
                                      "-CA", f"{d}/cacert.pem", "-ndays", "1", "-ignore_err"], port=port)
    s.wait_openssl()
    return s


def start_ours(d, signer, extra=(), index=None, rust_log="warn", binary=None):
    cmd = [binary or os.environ["OCSP_BIN"], "serve", "--index", index or f"{d}/index.txt",
           "--listen", "127.0.0.1:0", "--rsigner", f"{d}/ocsp-{signer}.crt",
           "--rkey", f"{d}/ocsp-{signer}.key", "--ca", f"{d}/cacert.pem", "--ndays", "1", *extra]
    # rust_log=None: the default logging (every access line, to the server's log file).
    env = {"RUST_LOG": rust_log} if rust_log is not None else {}
    s = Server(f"ours-{signer}", cmd, env=env)
    s.wait_ours()
    return s


# ---------------------------------------------------------------- load


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(out):
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        r[f"p{pct}"] = float(m.group(1)) * UNITS[m.group(2)] if m else None
    m = re.search(r"(\d+) requests in", out)
    r["n"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"BAD_ANSWERS (\d+)", out)
    r["bad"] = int(m.group(1)) if m else None
    return r


def parse_ab(out):
    r = {"rps": float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\d+)", out, re.M)
        r[f"p{pct}"] = float(m.group(1)) if m else None
    r["n"] = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
    m = re.search(r"Non-2xx responses:\s+(\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    # ab counts an answer whose length differs from the first one as failed ("Length"):
    # ECDSA signatures vary in length, so only connection-level failures count here.
    m = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", out)
    if m:
        r["errors"] = sum(int(x) for x in m.groups())
    else:
        r["errors"] = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    r["bad"] = None
    return r


def load_wrk(server, work, kind, args, url_path=None, check=False, duration=None):
    url = f"http://127.0.0.1:{server.port}"
    cmd = ["wrk", "-t", "2", "-c", str(args.conns), "-d", f"{duration or args.duration}s", "--latency"]
    if kind == "hot":
        cmd += [url + url_path]
        if check:
            cmd += ["-s", lua_script(work, "get"), "--", "/dev/null"]
    else:
        data = {"get": "paths.txt", "post": "bodies.hex", "nonce": "nonce-prefix.hex"}[kind]
        cmd += ["-s", lua_script(work, kind), url, "--", f"{work}/{data}"]
    c0 = cpu_secs(server.proc.pid)
    out = run(NICE + cmd, env={**os.environ, "BENCH_CHECK": "1" if check else "0"})
    r = parse_wrk(out)
    r["cpu_ms_per_1k"] = (cpu_secs(server.proc.pid) - c0) * 1e3 / max(r["n"], 1) * 1000
    r["tool"] = f"wrk -c{args.conns} keep-alive"
    return r


def load_ab(server, work, kind, args, url_path):
    url = f"http://127.0.0.1:{server.port}"
    cmd = ["ab", "-q", "-r", "-c", str(args.conns), "-t", str(args.duration), "-n", "10000000"]
    if kind in ("get", "hot"):
        cmd += [url + url_path]
    else:
        body = f"{work}/{'nonce' if kind == 'nonce' else 'post'}.der"
        cmd += ["-p", body, "-T", "application/ocsp-request", url + "/"]
    c0 = cpu_secs(server.proc.pid)
    out = run(NICE + cmd)
    r = parse_ab(out)
    r["cpu_ms_per_1k"] = (cpu_secs(server.proc.pid) - c0) * 1e3 / max(r["n"], 1) * 1000
    r["tool"] = f"ab -c{args.conns} new connection each"
    return r


def best_of(n, f):
    vals = [v for v in (f() for _ in range(n)) if v is not None]
    return max(vals) if vals else None


def openssl_speed(alg, secs):
    out = run(NICE + ["openssl", "speed", "-seconds", str(secs), "-multi", "2", alg])
    if alg.startswith("rsa"):
        m = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)", out, re.M)
    else:
        m = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)", out)
    return float(m.group(1)) if m else None


def sign_bench(d, signer, secs):
    """Our own signer alone: `ocsp sign-bench` (build and sign nonce answers on one thread
    per core, nothing else running). Signatures per second."""
    out = run(NICE + [os.environ["OCSP_BIN"], "sign-bench", "--ca", f"{d}/cacert.pem", "--index", f"{d}/index.txt",
                      "--rsigner", f"{d}/ocsp-{signer}.crt", "--rkey", f"{d}/ocsp-{signer}.key",
                      "--seconds", str(secs), "--direct-only"])
    m = re.search(r"direct signatures/s: ([\d.]+)", out)
    c = re.search(r"direct CPU µs per signature: ([\d.]+)", out)
    SIGN_CPU_US.append(float(c.group(1)) if c else None)
    return float(m.group(1)) if m else None


# CPU µs per signature of each `ocsp sign-bench` run, in order (see sign_bench).
SIGN_CPU_US = []


def nonce_flood(server, work, args, hot):
    """Cacheable GETs (half the connections) while nonce POSTs (the other half) flood in,
    both `wrk` at once: (GETs/s, nonces/s)."""
    half = max(1, args.conns // 2)
    url = f"http://127.0.0.1:{server.port}"
    common = ["wrk", "-t", "1", "-c", str(half), "-d", f"{args.duration}s"]
    g = subprocess.Popen(NICE + common + ["-s", lua_script(work, "get"), url, "--", f"{work}/paths.txt"],
                         stdout=subprocess.PIPE, text=True, env={**os.environ, "BENCH_CHECK": "0"})
    n = subprocess.Popen(NICE + common + ["-s", lua_script(work, "nonce"), url, "--", f"{work}/nonce-prefix.hex"],
                         stdout=subprocess.PIPE, text=True)
    go, no = g.communicate()[0], n.communicate()[0]
    return parse_wrk(go)["rps"], parse_wrk(no)["rps"]


# ---------------------------------------------------------------- reload under load


def cert_status(der, serial_hex):
    sb = bytes.fromhex(serial_hex)
    i = der.find(bytes([0x02, len(sb)]) + sb)
    if i < 0:
        return "?"
    return {0x80: "good", 0xA1: "revoked", 0x82: "unknown"}.get(der[i + 2 + len(sb)], "?")


def ocsp_get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read()


def big_index_test(args, d, work, rng, base_lines, template, template_serial):
    """Load time and RSS with a big index, then replace the index repeatedly under load."""
    n = args.big_entries
    big = f"{work}/big/index.txt"
    os.makedirs(f"{work}/big", exist_ok=True)
    log(f"writing a {n:,}-entry index...")
    serials = write_index(big, base_lines, n, rng)
    size_mb = os.path.getsize(big) / 1e6
    lines = open(big).read().splitlines(keepends=True)
    s = start_ours(d, "rsa", ["--cache-max-entries", "200000"], index=big)
    res = {"entries": n, "index_mb": size_mb, "start_secs": s.ready_secs, "rss_idle_mb": rss_mb(s.proc.pid)}
    sb0 = bytes.fromhex(template_serial)
    assert template.count(sb0) == 1
    paths = []
    for x in rng.sample(serials, 1000):
        paths.append("/" + urllib.parse.quote(base64.b64encode(template.replace(sb0, bytes.fromhex(x))).decode(), safe=""))
    with open(f"{work}/big-paths.txt", "w") as f:
        f.write("\n".join(paths) + "\n")
    # The serial that flips between good and revoked on each replace.
    flip = serials[1]
    flip_path = "/" + urllib.parse.quote(base64.b64encode(template.replace(sb0, bytes.fromhex(flip))).decode(), safe="")
    flip_line = next(i for i, l in enumerate(lines) if f"\t{flip}\t" in l)
    dur = max(args.duration, 6)
    url = f"http://127.0.0.1:{s.port}"
    wrk = subprocess.Popen(NICE + ["wrk", "-t", "2", "-c", str(args.conns), "-d", f"{dur}s", "--latency",
                            "-s", lua_script(work, "get"), url, "--", f"{work}/big-paths.txt"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, "BENCH_CHECK": "1"})
    time.sleep(1)
    reloads, stale, seen_secs, first_req = 0, 0, [], []
    end = time.monotonic() + dur - 2
    state = "R" if lines[flip_line].startswith("R") else "V"
    while time.monotonic() < end:
        state = "V" if state == "R" else "R"
        f = lines[flip_line].split("\t")
        if state == "R":
            f[0], f[2] = "R", "250101000000Z,keyCompromise"
        else:
            f[0], f[2] = "V", ""
        lines[flip_line] = "\t".join(f)
        tmp = big + ".new"
        with open(tmp, "w") as fh:
            fh.writelines(lines)
        t0 = time.monotonic()
        os.replace(tmp, big)  # what `openssl ca` does
        der = ocsp_get(s.port, flip_path)
        first_req.append(time.monotonic() - t0)
        want = "revoked" if state == "R" else "good"
        if cert_status(der, flip) != want:
            stale += 1
        seen_secs.append(time.monotonic() - t0)
        reloads += 1
        time.sleep(0.5)
    out = wrk.communicate()[0]
    w = parse_wrk(out)
    res.update({
        "rss_loaded_mb": rss_mb(s.proc.pid),
        "reloads": reloads,
        "reload_first_request_secs_max": max(first_req) if first_req else None,
        "stale": stale,
        "under_load_rps": w["rps"],
        "failed": (w["bad"] or 0) + w["non2xx"] + w["errors"],
    })
    s.stop()
    return res


# ---------------------------------------------------------------- main


def fmt(x, nd=0):
    if x is None:
        return "—"
    return f"{x:,.{nd}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a few seconds, small index; for CI")
    ap.add_argument("--entries", type=int, default=100_000, help="index entries (default 100000)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per load run (default 10)")
    ap.add_argument("--conns", type=int, default=64, help="concurrent connections (default 64)")
    ap.add_argument("--requests", type=int, default=1000, help="distinct serials requested (default 1000)")
    ap.add_argument("--big-entries", type=int, default=1_000_000, help="entries of the reload test index")
    ap.add_argument("--skip-big", action="store_true", help="skip the big-index load/reload test")
    ap.add_argument("--skip-openssl", action="store_true", help="do not run openssl ocsp")
    ap.add_argument("--no-presign", action="store_true", help="start ocsp serve cold instead of from a presigned store")
    ap.add_argument("--work", help="working directory (default: a new temporary one, removed after)")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--repeat", type=int, default=3,
                    help="run every load this many times and keep the best (default 3; the machine's "
                         "neighbours move single runs by ±15 %%)")
    ap.add_argument("--baseline", metavar="BIN",
                    help="another ocsp binary (an earlier build) to run beside this one on the same "
                         "loads; prints this build's figures as ratios of its")
    ap.add_argument("--only-ours", action="store_true",
                    help="skip openssl, the P-256 and big-index runs: only the ocsp serve RSA loads "
                         "(with --baseline: a quick before/after)")
    ap.add_argument("--nice", type=int, default=0,
                    help="run servers and load tools under `nice -n N` (e.g. -10 as root, on a shared machine)")
    args = ap.parse_args()
    if args.smoke:
        args.entries = min(args.entries, 2000)
        args.duration = min(args.duration, 2)
        args.conns = min(args.conns, 16)
        args.requests = min(args.requests, 100)
        args.big_entries = min(args.big_entries, 20_000)
        args.repeat = 1
    args.repeat = max(1, args.repeat)
    if args.only_ours:
        args.skip_openssl = args.skip_big = True
    if args.nice:
        NICE[:] = ["nice", "-n", str(args.nice)]
    if "OCSP_BIN" not in os.environ:
        raise SystemExit("bench: run me through bench/run.sh (or set OCSP_BIN)")
    work = args.work or tempfile.mkdtemp(prefix="ocsp-bench-")
    os.makedirs(work, exist_ok=True)
    d = f"{work}/pki"
    rng = random.Random(4)
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.release()}",
               "openssl": run(["openssl", "version"]).strip(), "entries": args.entries,
               "conns": args.conns, "duration": args.duration, "runs": [],
               "load_before": " ".join(open("/proc/loadavg").read().split()[:3]), "nice": args.nice,
               "repeat": args.repeat}
    try:
        log(f"PKI with openssl ca in {d} ...")
        make_pki(d, 5)
        base = open(f"{d}/index.txt").readlines()
        real = real_serials(d)
        synth = write_index(f"{d}/index.txt", base, args.entries, rng)
        log(f"index: {args.entries:,} entries ({os.path.getsize(d + '/index.txt') / 1e6:.1f} MB)")
        paths, ders = make_requests(d, work, synth, real[2:], args.requests, rng)
        hot = paths[0]

        speed_secs = 1 if args.smoke else 5
        if not args.only_ours:
            log("openssl speed -multi 2 rsa2048 / ecdsap256 ...")
            results["speed_rsa2048_sign"] = best_of(args.repeat, lambda: openssl_speed("rsa2048", speed_secs))
            results["speed_p256_sign"] = best_of(args.repeat, lambda: openssl_speed("ecdsap256", speed_secs))

        def record(server, mix, measure):
            # The best of --repeat runs, with every run's figure kept.
            tries = [measure() for _ in range(args.repeat)]
            r = max(tries, key=lambda t: t["rps"])
            r["all_rps"] = [t["rps"] for t in tries]
            r.update({"server": server, "mix": mix})
            results["runs"].append(r)
            log(f"  {server:<22} {mix:<14} {r['tool']:<28} {r['rps']:>10,.0f} req/s  p50 {fmt(r['p50'], 2)} ms"
                f"  p99 {fmt(r['p99'], 2)} ms  cpu {r['cpu_ms_per_1k']:.0f} ms/1k  errors {r['errors'] + r['non2xx']}")

        def record1(server, mix, measure):
            # One of --repeat runs, interleaved with another server's: the best is kept.
            t = measure()
            prev = next((r for r in results["runs"] if r["server"] == server and r["mix"] == mix
                         and r["tool"] == t["tool"]), None)
            every = (prev["all_rps"] if prev else []) + [t["rps"]]
            if prev is None or t["rps"] > prev["rps"]:
                if prev is not None:
                    results["runs"].remove(prev)
                t.update({"server": server, "mix": mix})
                results["runs"].append(t)
                prev = t
            prev["all_rps"] = every
            log(f"  {server:<36} {mix:<6} {t['tool']:<22} {t['rps']:>10,.0f} req/s  p99 {fmt(t['p99'], 2)} ms"
                f"  cpu {t['cpu_ms_per_1k']:.1f} ms/1k  errors {t['errors'] + t['non2xx']}")
            return t

        if not args.skip_openssl:
            for signer in ("rsa", "p256"):
                name = f"openssl ocsp ({signer.upper()})"
                mixes = ("get", "post", "nonce", "hot") if signer == "rsa" else ("nonce",)
                for mix in mixes:
                    # A fresh process per run: when ab stops on time it closes connections
                    # openssl has not read yet, after which openssl ocsp 3.0 spins forever.
                    def measure(signer=signer, mix=mix):
                        s = start_openssl(d, signer)
                        try:
                            return load_ab(s, work, mix, args, hot)
                        finally:
                            s.stop()
                    record(name, mix, measure)

        extra = ["--cache-max-entries", str(max(200_000, 2 * args.entries))]
        if not args.no_presign:
            log("ocsp presign (sha1 CertIDs, as openssl ocsp -issuer sends them) ...")
            t0 = time.monotonic()
            run([os.environ["OCSP_BIN"], "presign", "--index", f"{d}/index.txt", "--ca", f"{d}/cacert.pem",
                 "--rsigner", f"{d}/ocsp-rsa.crt", "--rkey", f"{d}/ocsp-rsa.key", "--ndays", "1",
                 "--hash", "sha1", "--quiet", "--out", f"{work}/responses.store"])
            results["presign_secs"] = time.monotonic() - t0
            results["store_mb"] = os.path.getsize(f"{work}/responses.store") / 1e6
            extra += ["--store", f"{work}/responses.store"]
        s = start_ours(d, "rsa", extra)
        results["ours_start_secs"] = s.ready_secs
        if args.no_presign:
            for p in paths:  # warm the cache
                ocsp_get(s.port, p)
        if args.baseline:
            # This build and the baseline on the same store, index and loads, alternating
            # per mix so that a change of the machine's load hits both alike.
            b = start_ours(d, "rsa", extra, binary=args.baseline)
            b.name = "baseline"
            for mix in ("get", "post", "nonce", "hot"):
                record("ocsp serve (RSA)", mix, lambda mix=mix: load_wrk(s, work, mix, args, hot))
                record("baseline ocsp serve (RSA)", mix, lambda mix=mix: load_wrk(b, work, mix, args, hot))
            results["baseline_rss_mb"] = rss_mb(b.proc.pid)
            b.stop()
        else:
            # The default configuration (every access line written, to the server's log
            # file) beside the access log off (RUST_LOG=warn), alternating per run.
            on = start_ours(d, "rsa", extra, rust_log=None)
            on.name = "ours-rsa-logging"
            for mix in ("get", "post"):
                for _ in range(args.repeat):
                    record1("ocsp serve (RSA)", mix, lambda mix=mix: load_wrk(s, work, mix, args, hot))
                    record1("ocsp serve (RSA), default logging", mix, lambda mix=mix: load_wrk(on, work, mix, args, hot))
            on.stop()
            # Nonces, and a nonce flood beside cacheable GETs, with the default signing
            # pool and with answers handed back one at a time (--signing-batch 1, the pool
            # before batching), alternating per run.
            one = start_ours(d, "rsa", extra + ["--signing-batch", "1"])
            one.name = "ours-rsa-batch1"
            # Each round: the references (openssl speed, our signer alone) and the nonce
            # loads one after the other, so that every ratio is taken in the same minute.
            results["nonce_rounds"] = []
            for _ in range(args.repeat):
                sp = openssl_speed("rsa2048", speed_secs)
                alone = sign_bench(d, "rsa", speed_secs)
                a = record1("ocsp serve (RSA)", "nonce", lambda: load_wrk(s, work, "nonce", args, hot))
                b1 = record1("ocsp serve (RSA), --signing-batch 1", "nonce", lambda: load_wrk(one, work, "nonce", args, hot))
                results["nonce_rounds"].append({"alg": "RSA-2048", "speed": sp, "alone": alone,
                                                "alone_cpu_us": SIGN_CPU_US[-1], "nonce": a["rps"],
                                                "nonce_cpu_us": a["cpu_ms_per_1k"], "batch1": b1["rps"]})
                log(f"  round: openssl speed {fmt(sp)}/s, sign-bench {fmt(alone)}/s, nonces {a['rps']:,.0f}/s "
                    f"(--signing-batch 1: {b1['rps']:,.0f}/s)")
            floods = {"default": [], "batch1": []}
            for _ in range(args.repeat):
                for name, srv in (("default", s), ("batch1", one)):
                    floods[name].append(nonce_flood(srv, work, args, hot))
            one.stop()
            for name, flood in floods.items():
                results[f"flood_{name}"] = {"get": max(f[0] for f in flood), "nonce": max(f[1] for f in flood),
                                            "all": flood}
                log(f"  nonce flood ({name}): cacheable GETs/s {' / '.join(f'{f[0]:,.0f}' for f in flood)}, "
                    f"nonces/s {' / '.join(f'{f[1]:,.0f}' for f in flood)}")
            record("ocsp serve (RSA)", "hot", lambda: load_wrk(s, work, "hot", args, hot))
        if not args.only_ours:
            for mix in ("get", "post", "nonce"):
                record("ocsp serve (RSA)", mix, lambda mix=mix: load_ab(s, work, mix, args, hot))
        results["ours_rss_mb"] = rss_mb(s.proc.pid)
        s.stop()
        if args.only_ours:
            raise SkipRest
        s = start_ours(d, "p256", ["--no-cache"])
        for _ in range(args.repeat):
            sp = openssl_speed("ecdsap256", speed_secs)
            alone = sign_bench(d, "p256", speed_secs)
            a = record1("ocsp serve (P-256)", "nonce", lambda: load_wrk(s, work, "nonce", args, hot))
            results.setdefault("nonce_rounds", []).append({"alg": "P-256", "speed": sp, "alone": alone,
                                                           "alone_cpu_us": SIGN_CPU_US[-1], "nonce": a["rps"],
                                                           "nonce_cpu_us": a["cpu_ms_per_1k"]})
            log(f"  round: openssl speed {fmt(sp)}/s, sign-bench {fmt(alone)}/s, nonces {a['rps']:,.0f}/s")
        s.stop()

        if not args.skip_big:
            results["big"] = big_index_test(args, d, work, rng, base,
                                            request_der(d, synth[0], False), synth[0])
    except SkipRest:
        pass
    finally:
        for s in list(RUNNING):  # never leave a server behind (a spinning openssl ocsp least of all)
            s.stop()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    results["load_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
    report(results)
    report_baseline(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


class SkipRest(Exception):
    """--only-ours: the remaining runs are skipped."""


def report_baseline(res):
    runs = [r for r in res["runs"] if r["tool"].startswith("wrk")]
    ours = {r["mix"]: r for r in runs if r["server"] == "ocsp serve (RSA)"}
    base = {r["mix"]: r for r in runs if r["server"] == "baseline ocsp serve (RSA)"}
    if not base:
        return
    print()
    print("### This build against the baseline (same run, same loads, wrk keep-alive)")
    print()
    print("| mix | this build req/s | baseline req/s | ratio | this build p99 ms | baseline p99 ms | CPU ms/1k this / baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    names = {"get": "cacheable GET", "post": "cacheable POST", "nonce": "nonce POST (RSA-2048)", "hot": "one hot GET URL"}
    for mix in ("get", "post", "nonce", "hot"):
        o, b = ours.get(mix), base.get(mix)
        if not o or not b:
            continue
        print(f"| {names[mix]} | {o['rps']:,.0f} ({' / '.join(f'{x:,.0f}' for x in o.get('all_rps', []))}) | "
              f"{b['rps']:,.0f} ({' / '.join(f'{x:,.0f}' for x in b.get('all_rps', []))}) | "
              f"{o['rps'] / b['rps']:.2f}× | {fmt(o['p99'], 2)} | {fmt(b['p99'], 2)} | "
              f"{o['cpu_ms_per_1k']:.0f} / {b['cpu_ms_per_1k']:.0f} |")
    if "baseline_rss_mb" in res:
        print(f"\nRSS after the runs: this build {res.get('ours_rss_mb', 0):.0f} MB, baseline {res['baseline_rss_mb']:.0f} MB")


def report(res):
    runs = res["runs"]

    def get(server, mix, tool_prefix=None):
        for r in runs:
            if r["server"] == server and r["mix"] == mix and (tool_prefix is None or r["tool"].startswith(tool_prefix)):
                return r
        return None

    print()
    print(f"## Results — {res['date']}, {res['machine']}, {res['openssl']}")
    print(f"index {res['entries']:,} entries; {res['conns']} connections; {res['duration']} s per run, best of {res.get('repeat', 1)}; "
          f"load generator on the same machine; load average before/after: {res.get('load_before')} / {res.get('load_after')}"
          + (f"; servers and load tools at nice {res['nice']}" if res.get("nice") else ""))
    print()
    print("| server | mix | load | req/s (best run) | every run | p50 ms | p99 ms | server CPU ms / 1k answers | errors |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    names = {"get": "GET, 1,000 random serials", "post": "POST, 1,000 random serials",
             "nonce": "POST, fresh nonce each", "hot": "GET, one hot URL"}
    for r in runs:
        every = " / ".join(f"{x:,.0f}" for x in r.get("all_rps", [r["rps"]]))
        print(f"| {r['server']} | {names[r['mix']]} | {r['tool']} | {r['rps']:,.0f} | {every} | {fmt(r['p50'], 2)} | "
              f"{fmt(r['p99'], 2)} | {r['cpu_ms_per_1k']:,.0f} | {r['errors'] + r['non2xx']} |")
    print()
    print(f"openssl speed -multi 2: rsa2048 {fmt(res.get('speed_rsa2048_sign'))} sign/s, "
          f"ecdsap256 {fmt(res.get('speed_p256_sign'))} sign/s")
    for r in res.get("nonce_rounds", []):
        print(f"nonce round ({r['alg']}): openssl speed -multi 2 {fmt(r['speed'])} sign/s, ocsp sign-bench "
              f"{fmt(r['alone'])} sign/s, ocsp serve nonces {r['nonce']:,.0f}/s"
              + (f", with --signing-batch 1 {r['batch1']:,.0f}/s" if "batch1" in r else ""))
    if "presign_secs" in res:
        print(f"ocsp presign: {res['entries']:,} answers in {res['presign_secs']:.1f} s, store {res['store_mb']:.0f} MB; "
              f"ocsp serve start with the store: {res['ours_start_secs']:.1f} s; RSS after the runs {res['ours_rss_mb']:.0f} MB")
    print()
    print("| target | measured | ratio | target | met |")
    print("|---|---:|---:|---:|---|")

    def line(name, ours, base, target, better="higher"):
        if ours is None or base is None or not base:
            print(f"| {name} | — | — | {target} | not measured |")
            return
        ratio = ours / base
        met = ratio >= target if better == "higher" else ratio <= target
        print(f"| {name} | {ours:,.0f} vs {base:,.0f} | {ratio:.2f}× | ≥ {target}× | {'yes' if met else 'NO'} |")

    o_get, o_post = get("openssl ocsp (RSA)", "get"), get("openssl ocsp (RSA)", "post")
    w_get, w_post = get("ocsp serve (RSA)", "get", "wrk"), get("ocsp serve (RSA)", "post", "wrk")
    a_get = get("ocsp serve (RSA)", "get", "ab")
    line("cacheable GET, keep-alive, vs openssl ocsp", w_get and w_get["rps"], o_get and o_get["rps"], 30)
    line("cacheable POST, keep-alive, vs openssl ocsp", w_post and w_post["rps"], o_post and o_post["rps"], 30)
    for label, r in (("GET", w_get), ("POST", w_post)):
        if r and r["p99"] is not None:
            print(f"| p99 of cacheable {label} | {r['p99']:.2f} ms | — | ≤ 5 ms | {'yes' if r['p99'] <= 5 else 'NO'} |")
    # Throughput ratios move with whatever else the machine runs; CPU per answer does not.
    if w_get and o_get and w_get["cpu_ms_per_1k"]:
        print(f"| server CPU per cacheable GET answer, openssl ocsp / ocsp serve (keep-alive) | "
              f"{o_get['cpu_ms_per_1k'] / 1000:.3f} vs {w_get['cpu_ms_per_1k'] / 1000:.3f} ms | "
              f"{o_get['cpu_ms_per_1k'] / w_get['cpu_ms_per_1k']:.1f}× | (≥ 30× by throughput) | — |")
    if a_get and o_get:
        print(f"| like for like, both under ab (new connection each), cacheable GET | "
              f"{a_get['rps']:,.0f} vs {o_get['rps']:,.0f} | {a_get['rps'] / o_get['rps']:.1f}× | — | — |")
    w_nonce = get("ocsp serve (RSA)", "nonce", "wrk")
    line("nonce POST (RSA-2048) vs openssl speed -multi 2 rsa2048", w_nonce and w_nonce["rps"],
         res.get("speed_rsa2048_sign"), 0.8)
    p_nonce, o_p = get("ocsp serve (P-256)", "nonce"), get("openssl ocsp (P256)", "nonce")
    line("nonce POST (P-256) vs openssl ocsp (P-256)", p_nonce and p_nonce["rps"], o_p and o_p["rps"], 3)
    # The default configuration: the access log on, against the same build with it off.
    for mix, label in (("get", "GET"), ("post", "POST")):
        off, on = get("ocsp serve (RSA)", mix, "wrk"), get("ocsp serve (RSA), default logging", mix, "wrk")
        line(f"cacheable {label}, default logging vs access log off (same run)", on and on["rps"],
             off and off["rps"], 0.95)
        if on and off and off["cpu_ms_per_1k"]:
            print(f"| server CPU per cacheable {label} answer, default logging / log off | "
                  f"{on['cpu_ms_per_1k']:.2f} vs {off['cpu_ms_per_1k']:.2f} µs | "
                  f"{on['cpu_ms_per_1k'] / off['cpu_ms_per_1k']:.2f}× | (≤ 1.05×) | — |")
    # Nonces at the key's limit: against openssl speed -multi 2 and against our signer
    # alone, each taken in the same round as the nonce load (best round; every round).
    for alg in ("RSA-2048", "P-256"):
        rounds = [r for r in res.get("nonce_rounds", []) if r["alg"] == alg]
        for ref, name in (("speed", "openssl speed -multi 2"), ("alone", "our signer alone (ocsp sign-bench)")):
            ratios = [(r["nonce"] / r[ref], r) for r in rounds if r.get(ref)]
            if not ratios:
                print(f"| nonce POST ({alg}) vs {name}, same round | — | — | ≥ 0.8× | not measured |")
                continue
            best, r = max(ratios, key=lambda x: x[0])
            every = " / ".join(f"{x:.2f}" for x, _ in ratios)
            print(f"| nonce POST ({alg}) vs {name}, same round (every round: {every}) | "
                  f"{r['nonce']:,.0f} vs {r[ref]:,.0f} | {best:.2f}× | ≥ 0.8× | {'yes' if best >= 0.8 else 'NO'} |")
        # The same comparison by CPU time (µs per signature alone / server µs per nonce
        # answer): what the neighbours take of the cores does not move it.
        eff = [(r["alone_cpu_us"] / r["nonce_cpu_us"], r) for r in rounds if r.get("alone_cpu_us") and r.get("nonce_cpu_us")]
        if eff:
            best, r = max(eff, key=lambda x: x[0])
            every = " / ".join(f"{x:.2f}" for x, _ in eff)
            print(f"| CPU per signature alone / server CPU per nonce answer ({alg}; every round: {every}) | "
                  f"{r['alone_cpu_us']:.0f} vs {r['nonce_cpu_us']:.0f} µs | {best:.2f}× | (≥ 0.8×) | — |")
    w_one = get("ocsp serve (RSA), --signing-batch 1", "nonce", "wrk")
    line("nonce POST (RSA-2048), default vs --signing-batch 1 (same run)", w_nonce and w_nonce["rps"],
         w_one and w_one["rps"], 1.0)
    fl, f1 = res.get("flood_default"), res.get("flood_batch1")
    if fl and f1:
        half = res["conns"] // 2
        print(f"| nonce flood (-c{half} nonces + -c{half} cacheable GETs at once), GETs/s: default vs "
              f"--signing-batch 1 | {fl['get']:,.0f} vs {f1['get']:,.0f} | {fl['get'] / f1['get']:.2f}× | ≥ 0.9× | "
              f"{'yes' if fl['get'] >= 0.9 * f1['get'] else 'NO'} |")
        print(f"| nonce flood, nonces/s: default vs --signing-batch 1 | {fl['nonce']:,.0f} vs {f1['nonce']:,.0f} | "
              f"{fl['nonce'] / f1['nonce']:.2f}× | — | — |")
    big = res.get("big")
    if big:
        print(f"| {big['entries']:,}-entry index ({big['index_mb']:.0f} MB): start (load + key) | "
              f"{big['start_secs']:.2f} s | — | ≤ 1 s | {'yes' if big['start_secs'] <= 1 else 'NO'} |")
        r = big["reload_first_request_secs_max"]
        print(f"| reload under load: slowest first answer after a replace ({big['reloads']} replaces) | "
              f"{fmt(r and r * 1000)} ms | — | ≤ 1 s | {'yes' if r is not None and r <= 1 else 'NO'} |")
        print(f"| RSS while serving the big index | {big['rss_loaded_mb']:.0f} MB | — | ≤ 200 MB | "
              f"{'yes' if big['rss_loaded_mb'] <= 200 else 'NO'} |")
        print(f"| failed / stale answers while reloading under load ({big['under_load_rps']:,.0f} req/s) | "
              f"{big['failed']} / {big['stale']} | — | 0 / 0 | {'yes' if big['failed'] == 0 and big['stale'] == 0 else 'NO'} |")


if __name__ == "__main__":
    main()
