#!/usr/bin/env python3
"""The shared-ledger benchmarks (issue: past one machine), with PostgreSQL started by this script
(tools/pg-cluster: a new cluster in a temporary directory, loopback, synchronous_commit = on):

- pgbench's own insert throughput on the same server, 8 clients, one INSERT per transaction: the
  ceiling for one durable commit at a time;
- 8 writer processes (Tests/PalimpsestSharedWriter, each through its own replica) appending in
  batches of --batch events: acknowledged, durable events per second, while 2 replicas follow
  (`replicate --follow`): the replica lag (how long the oldest event each catch-up copied had been
  committed) at p50 / p99;
- the same 8 writers appending one event per transaction: p50 / p99 latency of an append;
- Anarchism (15,180 revisions) imported through PostgreSQL against the LMDB import, same run.

Rewrites the section of BENCHMARKS.md between the shared-ledger markers.
Usage: tools/bench-shared [--runs N] [--events N] [--batch N] [--no-build]
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_bench import BIN, ROOT, SHARED, Stat, machine, replace_section, sh  # noqa: E402

ANARCHISM = SHARED / "corpora" / "wikipedia" / "enwiki-Anarchism.xml.lzma"
WRITER = ROOT / ".build" / "release" / "PalimpsestSharedWriter"
CLUSTER = ROOT / "tools" / "pg-cluster"


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def createdb(cluster, name):
    return sh([CLUSTER, "createdb", cluster, name]).stdout.strip()


def run_writers(url, work, tag, events, batch):
    """8 writer processes at once; returns (acknowledged events, wall seconds, latencies ms)."""
    procs = []
    start = time.perf_counter()
    for n in range(8):
        procs.append(subprocess.Popen([WRITER, url, work / f"{tag}-writer{n}", f"{tag}{n}", str(events), str(batch)],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    outputs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - start
    acked, latencies = 0, []
    for p, out in zip(procs, outputs):
        if p.returncode != 0:
            sys.exit(f"bench: a writer failed ({p.returncode})")
        summary = json.loads(out.strip().splitlines()[-1])
        acked += summary["acked"]
        latencies += summary["latencies"]
    return acked, wall, latencies


def follow(p, lags, stop):
    """Reads a following replica's steps until it ends."""
    for line in p.stdout:
        if stop.is_set():
            continue
        record = json.loads(line)
        if record.get("lagSeconds") is not None:
            lags.append(record["lagSeconds"])
    p.wait()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", type=int, default=2000, help="events per writer in the batch run")
    ap.add_argument("--batch", type=int, default=100, help="events per transaction in the batch run")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    opts = ap.parse_args()
    if not opts.no_build:
        for product in ("palimpsest", "PalimpsestSharedWriter"):
            subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="palimpsest-bench-shared-"))
    work.chmod(0o755)  # the server runs as an unprivileged user (tools/pg-cluster) and must reach its directory
    cluster = work / "pg"
    base = sh([CLUSTER, "start", cluster]).stdout.strip()
    try:
        # pgbench: 8 clients, one durable INSERT per transaction.
        sh(["psql", "-qAtX", base, "-c", "CREATE TABLE bench (id bigserial PRIMARY KEY, v bytea NOT NULL)"])
        script = work / "insert.sql"
        script.write_text("INSERT INTO bench (v) VALUES (decode(md5(random()::text), 'hex'));\n")
        pgbench_tps = []
        for _ in range(opts.runs):
            out = sh(["pgbench", "-n", "-c", "8", "-j", "2", "-T", "10", "-f", script, base]).stdout
            pgbench_tps.append(float(next(l for l in out.splitlines() if l.startswith("tps")).split("=")[1].split()[0]))

        batch_rates, single_p50, single_p99, lag_p50, lag_p99, lag_max = ([] for _ in range(6))
        for k in range(opts.runs):
            print(f"run {k + 1} of {opts.runs}: 8 writers in batches, 2 replicas following…", file=sys.stderr)
            url = createdb(cluster, f"batch{k}")
            sh([BIN, "--ledger", url, "init", "--replica", work / f"batch{k}-origin"])
            lags, stop = [], threading.Event()
            replicas = [subprocess.Popen([BIN, "replicate", url, "--into", work / f"batch{k}-replica{n}", "--follow", "--poll", "1", "--json"],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for n in range(2)]
            followers = [threading.Thread(target=follow, args=(p, lags, stop)) for p in replicas]
            for t in followers:
                t.start()
            time.sleep(1)
            acked, wall, _ = run_writers(url, work, f"b{k}-", opts.events, opts.batch)
            batch_rates.append(acked / wall)
            time.sleep(2)
            stop.set()
            for p in replicas:
                p.terminate()
            for t in followers:
                t.join(timeout=30)
            lag_p50.append(percentile(lags, 50))
            lag_p99.append(percentile(lags, 99))
            lag_max.append(max(lags) if lags else float("nan"))

            print(f"run {k + 1} of {opts.runs}: 8 writers, one event per transaction…", file=sys.stderr)
            url = createdb(cluster, f"single{k}")
            sh([BIN, "--ledger", url, "init", "--replica", work / f"single{k}-origin"])
            _, _, latencies = run_writers(url, work, f"s{k}-", 200, 1)
            single_p50.append(percentile(latencies, 50))
            single_p99.append(percentile(latencies, 99))

        lmdb_secs, pg_secs = [], []
        for k in range(opts.runs):
            print(f"run {k + 1} of {opts.runs}: Anarchism into LMDB, then through PostgreSQL…", file=sys.stderr)
            ledger = work / f"anarchism-lmdb{k}"
            sh([BIN, "--ledger", ledger, "init"])
            start = time.perf_counter()
            sh([BIN, "--ledger", ledger, "import", "mediawiki", ANARCHISM])
            lmdb_secs.append(time.perf_counter() - start)
            url = createdb(cluster, f"anarchism{k}")
            sh([BIN, "--ledger", url, "init", "--replica", work / f"anarchism-pg{k}"])
            start = time.perf_counter()
            sh([BIN, "--ledger", url, "--replica", work / f"anarchism-pg{k}", "import", "mediawiki", ANARCHISM])
            pg_secs.append(time.perf_counter() - start)
        size = sh(["psql", "-qAtX", url, "-c", "SELECT pg_total_relation_size('palimpsest_events')"]).stdout.strip()
        server_version = sh(["psql", "-qAtX", url, "-c", "SHOW server_version"]).stdout.strip()

        tps, rate = Stat(pgbench_tps), Stat(batch_rates)
        lmdb, pg = Stat(lmdb_secs), Stat(pg_secs)
        lines = [
            "<!-- shared:begin (written by tools/bench-shared; edit the script, not this section) -->",
            "## A shared ledger in PostgreSQL",
            "",
            f"`tools/bench-shared --runs {opts.runs} --events {opts.events} --batch {opts.batch}` on {machine()}: PostgreSQL "
            f"{server_version} started by the script (tools/pg-cluster: loopback, "
            "`synchronous_commit = on`, `fsync = on`). Medians of the runs (min–max).",
            "",
            "| Measure | Palimpsest | Peer / goal |",
            "|---|---|---|",
            f"| 8 writer processes, {opts.batch} events per transaction, 2 replicas following: acknowledged durable events/s "
            f"| {rate.fmt(0)} | goal ≥ 1,000; pgbench, 8 clients, one INSERT per transaction: {tps.fmt(0)} tps |",
            f"| 8 writer processes, one event per transaction: append latency p50 | {Stat(single_p50).fmt(1, ' ms')} | — |",
            f"| the same: p99 | {Stat(single_p99).fmt(1, ' ms')} | — |",
            f"| replica lag under the batch load, p50 (age of the oldest event each catch-up copied) | {Stat(lag_p50).fmt(2, ' s')} | — |",
            f"| replica lag p99 | {Stat(lag_p99).fmt(2, ' s')} | goal < 1 s |",
            f"| replica lag, worst | {Stat(lag_max).fmt(2, ' s')} | — |",
            f"| Anarchism `import mediawiki` through PostgreSQL | {pg.fmt(1, ' s')} | LMDB alone {lmdb.fmt(1, ' s')}: "
            f"{pg.median / lmdb.median:.2f}× (goal ≤ 2×) |",
            f"| Anarchism in PostgreSQL: `palimpsest_events` with its indexes and TOAST | {int(size) / 1e6:.1f} MB | — |",
            "",
            "<!-- shared:end -->",
        ]
        replace_section(Path(opts.out), "shared", lines)
    finally:
        subprocess.run([CLUSTER, "stop", cluster], check=False)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
