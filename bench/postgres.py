#!/usr/bin/env python3
"""PostgreSQL status source beside the index.txt source, in one run (bench/postgres.sh).

Starts a throwaway PostgreSQL cluster (initdb + pg_ctl on a free port; as the `postgres`
OS user when run as root), builds a PKI with `openssl ca` and an index of --entries
lines, loads the same statuses into the database, then measures:

1. cacheable GET (wrk, keep-alive, random serials, cache warmed first) on `ocsp serve`
   with the index.txt source, the PostgreSQL source strict and bounded; the database ones
   as a ratio of index.txt (goals: bounded >= 0.9x, strict >= 0.6x);
2. node start with --start-entries rows: time to `listening`, RSS (goals <= 3 s,
   <= 150 MB at 1,000,000);
3. revocation to all nodes: three nodes per mode; each revocation is committed, then
   every node is asked for that serial until it says revoked; the time from the commit
   returning to the last node answering revoked, and the answers that were still `good`
   after the commit returned (stale; goal 0 for strict; bounded with NOTIFY: p99 <= 50 ms).

It never fails on a speed. `--quick`: small sizes and short loads (a shared machine).
"""

import argparse
import base64
import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the helpers of bench/bench.py)

from bench import log, run  # noqa: E402


# ---------------------------------------------------------------- the cluster


class Cluster:
    def __init__(self, work):
        self.dir = f"{work}/pg"
        os.makedirs(self.dir)
        self.bin = pg_bin()
        self.root = os.geteuid() == 0
        if self.root:
            shutil.chown(self.dir, "postgres")
            os.chmod(work, 0o755)
        self.port = bench.free_port()
        self.as_pg(["initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres", "--no-sync"])
        self.as_pg(["pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o",
                    f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                    f"-c synchronous_commit=off -c max_connections=200", "start"])
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def as_pg(self, cmd):
        cmd = [os.path.join(self.bin, cmd[0])] + cmd[1:]
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return run(cmd)

    def psql(self, sql=None, file=None, stdin=None):
        cmd = [os.path.join(self.bin, "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", self.url]
        cmd += ["-f", file] if file else ["-c", sql]
        r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise SystemExit(f"bench: psql failed: {r.stderr}")
        return r.stdout.strip()

    def stop(self):
        try:
            self.as_pg(["pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "stop"])
        except SystemExit:
            pass


def pg_bin():
    """The directory of the server binaries and psql (Debian: /usr/lib/postgresql/N/bin)."""
    base = "/usr/lib/postgresql"
    if os.path.isdir(base):
        for v in sorted(os.listdir(base), key=lambda v: int(v) if v.isdigit() else 0, reverse=True):
            if os.path.exists(f"{base}/{v}/bin/initdb") and os.path.exists(f"{base}/{v}/bin/psql"):
                return f"{base}/{v}/bin"
    initdb, psql = shutil.which("initdb"), shutil.which("psql")
    if initdb and psql and os.path.dirname(initdb) == os.path.dirname(psql):
        return os.path.dirname(initdb)
    raise SystemExit("bench: PostgreSQL server binaries not found (apt-get install -y postgresql)")


# ---------------------------------------------------------------- schema and data


def der_tlv(b, i):
    """(tag, content start, end) of the DER element at i."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n


def issuer_key(d):
    """(spki_sha256 hex, subject_der hex, cert_der hex) of the CA certificate."""
    cert = subprocess.run(["openssl", "x509", "-in", f"{d}/cacert.pem", "-outform", "DER"],
                          stdout=subprocess.PIPE, check=True).stdout
    _, c, _ = der_tlv(cert, 0)          # Certificate
    _, t, _ = der_tlv(cert, c)          # TBSCertificate
    i = t
    fields = []
    while len(fields) < 7:
        tag, s, e = der_tlv(cert, i)
        fields.append((tag, i, e))
        i = e
    if fields[0][0] != 0xA0:            # no explicit version: shift
        fields.insert(0, None)
    subject = cert[fields[5][1]:fields[5][2]]
    spki = cert[fields[6][1]:fields[6][2]]
    return hashlib.sha256(spki).hexdigest(), subject.hex(), cert.hex()


def load_schema(cluster, ocsp_bin, repo):
    if has_cli(ocsp_bin, ["db", "migrate"]):
        run([ocsp_bin, "db", "migrate", "--db", cluster.url])
        return
    cluster.psql("CREATE TABLE ocsp_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
    cluster.psql(file=f"{repo}/crates/ocsp-status/src/postgres/migrations/0001_initial.sql")
    cluster.psql("INSERT INTO ocsp_schema (version) VALUES (1)")


def has_cli(ocsp_bin, sub):
    return subprocess.run([ocsp_bin, *sub, "--help"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def load_rows(cluster, d, index_path, ocsp_bin):
    """The index's statuses into the database: `ocsp import` when this build has it, else
    COPY through psql. Returns (rows in the file, seconds)."""
    if has_cli(ocsp_bin, ["import"]):
        n = sum(1 for _ in open(index_path))
        t0 = time.monotonic()
        run([ocsp_bin, "import", "--db", cluster.url, "--ca", f"{d}/cacert.pem", "--index", index_path,
             "--name", "bench", "--quiet"])
        return n, time.monotonic() - t0
    spki, subject, cert = issuer_key(d)
    cluster.psql(f"INSERT INTO ocsp_issuer (name, spki_sha256, subject_der, cert_der) VALUES "
                 f"('bench', '\\x{spki}', '\\x{subject}', '\\x{cert}') ON CONFLICT DO NOTHING")
    rows = []
    for line in open(index_path):
        f = line.rstrip("\n").split("\t")
        if len(f) < 4:
            continue
        serial = f[3]
        if len(serial) % 2:
            serial = "0" + serial
        if int(serial[:2], 16) & 0x80:
            serial = "00" + serial
        if f[0] == "R":
            rows.append(f"\\\\x{serial}\tR\t2030-12-31\t2025-01-01\t1")
        else:
            rows.append(f"\\\\x{serial}\tV\t2030-12-31\t\\N\t\\N")
    t0 = time.monotonic()
    # psql -c cannot take COPY data from stdin together with other statements: use a file.
    sql = f"{d}/load.sql"
    with open(sql, "w") as fsql:
        fsql.write("BEGIN;\nCREATE TEMP TABLE x (serial bytea, status char(1), not_after timestamptz, "
                   "revoked_at timestamptz, reason smallint);\nCOPY x FROM STDIN;\n")
        fsql.write("\n".join(rows) + "\n\\.\n")
        fsql.write("INSERT INTO ocsp_cert (issuer_id, serial, status, not_after, revoked_at, reason) "
                   "SELECT (SELECT id FROM ocsp_issuer WHERE name = 'bench'), serial, status, not_after, "
                   "revoked_at, reason FROM x ON CONFLICT (issuer_id, serial) DO NOTHING;\nCOMMIT;\n")
    cluster.psql(file=sql)
    return len(rows), time.monotonic() - t0


# ---------------------------------------------------------------- nodes


def start_node(d, ocsp_bin, url, status, name):
    cfg = f"{d}/{name}.toml"
    with open(cfg, "w") as f:
        f.write(f'[server]\nlisten = ["127.0.0.1:0"]\n[database]\nurl = "{url}"\nnode_id = "{name}"\n'
                f'[[issuer]]\nca = "{d}/cacert.pem"\nrsigner = "{d}/ocsp-rsa.crt"\nrkey = "{d}/ocsp-rsa.key"\n'
                f'ndays = 1\n[issuer.status]\ntype = "postgres"\n{status}\n'
                f'[cache]\nmax_entries = 400000\n')
    s = bench.Server(name, [ocsp_bin, "serve", "--config", cfg], env={"RUST_LOG": "warn"})
    s.wait_ours()
    return s


class Asker:
    """Keep-alive GETs to one node."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def status(self, path, serial):
        self.c.request("GET", path)
        r = self.c.getresponse()
        body = r.read()
        if r.status != 200:
            return f"http{r.status}"
        return bench.cert_status(body, serial)


def revocation_test(cluster, d, ocsp_bin, serials, paths, mode, status, count):
    nodes = [start_node(d, ocsp_bin, cluster.url, status, f"{mode}-{i}") for i in range(3)]
    try:
        askers = [Asker(n.port) for n in nodes]
        lat, stale, wrong = [], 0, 0
        cli = has_cli(ocsp_bin, ["revoke"])
        # Without the CLI: one persistent psql session, so a revocation costs a commit.
        writer = None if cli else subprocess.Popen(
            [os.path.join(cluster.bin, "psql"), "-X", "-q", "-t", "-A", "-d", cluster.url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(count):
            serial, path = serials[k], paths[k]
            for a in askers:
                a.status(path, serial)      # warm: cached as good
            if cli:
                run([ocsp_bin, "revoke", "--db", cluster.url, "--ca", f"{d}/cacert.pem", "--serial", serial,
                     "--reason", "keyCompromise"])
            else:
                writer.stdin.write(f"UPDATE ocsp_cert SET status = 'R', revoked_at = now(), reason = 1 "
                                   f"WHERE serial = '\\x{serial}'; SELECT 'done{k}';\n")
                writer.stdin.flush()
                while writer.stdout.readline().strip() != f"done{k}":
                    pass
            t0 = time.monotonic()
            pending = set(range(3))
            while pending:
                for i in list(pending):
                    st = askers[i].status(path, serial)
                    if st == "revoked":
                        pending.discard(i)
                    elif st == "good":
                        stale += 1
                    elif st != "?":
                        wrong += 1
                if time.monotonic() - t0 > 10:
                    raise SystemExit(f"bench: {mode}: a node still not revoked after 10 s")
            lat.append((time.monotonic() - t0) * 1e3)
        if writer:
            writer.stdin.close()
            writer.wait(10)
        lat.sort()
        pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))]
        return {"mode": mode, "n": count, "p50": pct(0.5), "p99": pct(0.99), "max": lat[-1],
                "stale": stale, "wrong": wrong}
    finally:
        for n in nodes:
            n.stop()


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, short loads")
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--start-entries", type=int, default=1_000_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--revocations", type=int, default=200)
    ap.add_argument("--staleness-ms", type=int, default=1000, help="max_staleness_ms of the bounded nodes")
    ap.add_argument("--work")
    args = ap.parse_args()
    if args.quick:
        args.entries, args.start_entries = 20_000, 200_000
        args.duration, args.conns, args.requests, args.revocations = 3, 16, 200, 30
    ocsp_bin = os.environ["OCSP_BIN"]
    repo = os.path.dirname(HERE)
    work = args.work or tempfile.mkdtemp(prefix="ocsp-pgbench-")
    d = f"{work}/pki"
    import random
    rng = random.Random(4)
    cluster = None
    out = {}
    try:
        log(f"PostgreSQL cluster in {work}/pg ...")
        cluster = Cluster(work)
        load_schema(cluster, ocsp_bin, repo)
        log("PKI with openssl ca ...")
        bench.make_pki(d, 3)
        base = open(f"{d}/index.txt").readlines()
        real = bench.real_serials(d)
        synth = bench.write_index(f"{d}/index.txt", base, args.entries, rng)
        n, secs = load_rows(cluster, d, f"{d}/index.txt", ocsp_bin)
        log(f"{n:,} rows loaded in {secs:.1f} s")
        paths, _ = bench.make_requests(d, work, synth, real[2:], args.requests, rng)

        class A:
            pass
        wa = A()
        wa.conns, wa.duration = args.conns, args.duration

        def measure(server, name):
            bench.load_wrk(server, work, "get", wa, duration=max(1, args.duration // 2))  # warm the cache
            r = bench.load_wrk(server, work, "get", wa, check=True)
            log(f"  {name:<28} {r['rps']:>10,.0f} req/s  p50 {bench.fmt(r['p50'], 2)} ms  p99 "
                f"{bench.fmt(r['p99'], 2)} ms  cpu {r['cpu_ms_per_1k']:.0f} ms/1k  errors {r['errors'] + r['non2xx']}"
                f"  bad {r['bad']}")
            return r

        log("cacheable GET, random serials:")
        s = bench.start_ours(d, "rsa", extra=["--cache-max-entries", "400000"])
        out["index"] = measure(s, "index.txt")
        s.stop()
        for mode, status in (("strict", ""), ("bounded", f"max_staleness_ms = {args.staleness_ms}")):
            s = start_node(d, ocsp_bin, cluster.url, status, f"get-{mode}")
            out[mode] = measure(s, f"postgres {mode}")
            s.stop()

        log(f"node start with {args.start_entries:,} rows ...")
        bench.write_index(f"{d}/big.txt", [], args.start_entries - n, random.Random(9))
        n2, secs2 = load_rows(cluster, d, f"{d}/big.txt", ocsp_bin)
        total = int(cluster.psql("SELECT count(*) FROM ocsp_cert"))
        log(f"  {total:,} rows in the database ({n2:,} more loaded in {secs2:.1f} s)")
        starts = []
        for i in range(3 if not args.quick else 1):
            s = start_node(d, ocsp_bin, cluster.url, "", f"start-{i}")
            time.sleep(0.5)
            starts.append((s.ready_secs, bench.rss_mb(s.proc.pid)))
            s.stop()
        out["start"] = {"rows": total, "secs": min(x[0] for x in starts), "rss_mb": max(x[1] for x in starts)}

        log("revocation to all nodes (3 nodes per mode) ...")
        # Good entries only (write_index revokes every 10th).
        pairs = [s_hex for i, s_hex in enumerate(synth) if i % 10 != 0][: args.revocations * 2]
        template = bench.request_der(d, synth[0], False)
        sb = bytes.fromhex(synth[0])

        def path_of(s_hex):
            der = template.replace(sb, bytes.fromhex(s_hex))
            return "/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")
        half = len(pairs) // 2
        for mode, status, chunk in (("strict", "", pairs[:half]),
                                    ("bounded", f"max_staleness_ms = {args.staleness_ms}", pairs[half:])):
            r = revocation_test(cluster, d, ocsp_bin, chunk, [path_of(x) for x in chunk], mode, status,
                                min(args.revocations, len(chunk)))
            out[f"revoke_{mode}"] = r
            log(f"  {mode:<8} {r['n']} revocations: p50 {r['p50']:.1f} ms  p99 {r['p99']:.1f} ms  "
                f"max {r['max']:.1f} ms  stale answers {r['stale']}  wrong {r['wrong']}")
    finally:
        for s in list(bench.RUNNING):
            s.stop()
        if cluster:
            cluster.stop()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"### PostgreSQL source beside index.txt ({'quick' if args.quick else 'full'} run, "
          f"{args.entries:,} entries, wrk -c{args.conns} {args.duration} s, random serials, cache warm)")
    print()
    print("| source | req/s | p50 ms | p99 ms | ratio to index.txt | goal |")
    print("|---|---:|---:|---:|---:|---|")
    base_rps = out["index"]["rps"]
    for key, name, goal in (("index", "index.txt", "—"), ("strict", "postgres strict", ">= 0.6"),
                            ("bounded", f"postgres bounded {args.staleness_ms} ms", ">= 0.9")):
        r = out[key]
        print(f"| {name} | {r['rps']:,.0f} | {bench.fmt(r['p50'], 2)} | {bench.fmt(r['p99'], 2)} | "
              f"{r['rps'] / base_rps:.2f} | {goal} |")
    st = out["start"]
    print()
    print(f"Node start with {st['rows']:,} rows: {st['secs']:.2f} s to listening, RSS {st['rss_mb']:.0f} MB "
          f"(goal at 1,000,000: <= 3 s, <= 150 MB).")
    print()
    print("| revocation to all 3 nodes | n | p50 ms | p99 ms | max ms | stale answers | goal |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for mode, goal in (("strict", "0 stale"), ("bounded", "p99 <= 50 ms")):
        r = out[f"revoke_{mode}"]
        print(f"| {mode} | {r['n']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {r['stale']} | {goal} |")


if __name__ == "__main__":
    main()
