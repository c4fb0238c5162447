#!/usr/bin/env python3
"""The audit benchmarks (issue: audit), with the raw-LMDB cursor scan measured in the same run:
`verify` over the largest ledger at hand (Wikipedia's Anarchism, 15,180 revisions, 1 GB of text);
signing a checkpoint and proving inclusion and consistency at 10^6 events; writing the report on the
most edited document (Anarchism) and checking it with tools/verify-report.py.

Rewrites the section of BENCHMARKS.md between the audit markers. Usage: tools/bench-audit [--runs N]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_bench import BENCH, BIN, LIMIT, ROOT, SHARED, Stat, build_release, fresh_ledger, machine, peak_rss_mb, replace_section, results, sh, timed  # noqa: E402

ANARCHISM = SHARED / "corpora" / "wikipedia" / "enwiki-Anarchism.xml.lzma"
MILLION = 1_000_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    opts = ap.parse_args()
    runs = opts.runs
    build_release()
    work = Path(tempfile.mkdtemp(prefix="palimpsest-bench-audit-"))
    try:
        print("importing Anarchism…", file=sys.stderr)
        anarchism = fresh_ledger(work, "anarchism")
        sh([BIN, "--ledger", anarchism, "import", "mediawiki", ANARCHISM])

        print("verify…", file=sys.stderr)
        verify_secs, summary = [], None
        for _ in range(runs):
            secs, out = timed([BIN, "--ledger", anarchism, "verify", "--json"])
            verify_secs.append(secs)
            summary = json.loads(out)
        verify_rss = peak_rss_mb([BIN, "--ledger", anarchism, "verify"])[0]

        print("raw LMDB cursor scan…", file=sys.stderr)
        limit_bin = work / "lmdb_limit"
        sh(["gcc", "-O2", "-o", limit_bin, LIMIT.parent / "lmdb_limit.c", "-llmdb"])
        raw_db = work / "raw"
        sh([limit_bin, "append", raw_db, str(MILLION), "200", "0", "sync"])
        scan_evs, scan_mbs = [], []
        for _ in range(runs):
            r = results(sh([limit_bin, "scan", raw_db]).stdout, "scan")[0]
            scan_evs.append(float(r["ev_per_s"]))
            scan_mbs.append(float(r["MBps"]))
        subprocess.run(["rm", "-rf", str(raw_db)])

        print("checkpoint and proofs at 10^6 events…", file=sys.stderr)
        big = work / "million"
        audit = results(sh([BENCH, "audit", big, str(MILLION), str(runs)]).stdout, "audit")[0]
        subprocess.run(["rm", "-rf", str(big)])
        # The whole command, on the Anarchism ledger (the 10^6-event one lacks the built-in projections,
        # which the CLI would first build).
        cli_prove, cli_checkpoint = [], []
        for k in range(runs):
            secs, _ = timed([BIN, "--ledger", anarchism, "checkpoint"])
            cli_checkpoint.append(secs * 1000)
            secs, _ = timed([BIN, "--ledger", anarchism, "prove", str(1 + (k * 7919) % 15_180)])
            cli_prove.append(secs * 1000)

        print("the report on Anarchism…", file=sys.stderr)
        report_json, report_html, check = [], [], []
        path = work / "anarchism.json"
        key = sh([BIN, "--ledger", anarchism, "checkpoint", "--public-key"]).stdout.strip()
        for _ in range(runs):
            secs, _ = timed([BIN, "--ledger", anarchism, "report", "Anarchism", "--out", path])
            report_json.append(secs)
            secs, _ = timed([BIN, "--ledger", anarchism, "report", "Anarchism", "--out", work / "anarchism.html"])
            report_html.append(secs)
        report_rss = peak_rss_mb([BIN, "--ledger", anarchism, "report", "Anarchism", "--out", path])[0]
        for _ in range(max(1, runs // 2)):
            secs, out = timed(["python3", ROOT / "tools" / "verify-report.py", path, "--public-key", key])
            check.append(secs)
        sizes = (path.stat().st_size, (work / "anarchism.html").stat().st_size)
        write_report(opts, runs, summary, Stat(verify_secs), verify_rss, Stat(scan_evs), Stat(scan_mbs), audit, Stat(cli_prove), Stat(cli_checkpoint),
                     Stat(report_json), Stat(report_html), report_rss, Stat(check), sizes)
    finally:
        subprocess.run(["rm", "-rf", str(work)])


def write_report(opts, runs, summary, verify, verify_rss, scan_evs, scan_mbs, audit, cli_prove, cli_checkpoint, report_json, report_html, report_rss, check, sizes):
    events, text_bytes, texts = summary["events"], summary["textBytes"], summary["texts"]
    ev_s = events / verify.median
    mb_s = text_bytes / 1e6 / verify.median
    lines = [
        "<!-- audit:begin (written by tools/bench-audit; do not edit by hand) -->",
        "## Audit: verify, checkpoints, proofs, reports",
        "",
        f"{machine()}; median of {runs} runs (min–max), release build, measured {time.strftime('%Y-%m-%d')}.",
        "",
        "| what | Palimpsest | measured against, same run | ratio |",
        "|---|---|---|---|",
        f"| `verify`, Anarchism ({events:,} events, {texts:,} distinct texts, {text_bytes / 1e6:,.0f} MB of text): every hash, the chain, every text, the Merkle tree, the indexes "
        f"| {verify.fmt(1, ' s')} = {ev_s:,.0f} events/s, {mb_s:,.0f} MB/s of text; peak RSS {verify_rss:.0f} MB "
        f"| raw LMDB cursor scan of 10^6 200-byte values: {scan_evs.fmt(0, ' ev/s')}, {scan_mbs.fmt(0, ' MB/s')} "
        f"| {mb_s / scan_mbs.median:.2f}× the raw scan's MB/s; {ev_s / scan_evs.median:.4f}× its events/s |",
        f"| sign a checkpoint at {int(audit['events']):,} events (library: Merkle root from the stored tree + Ed25519) | {float(audit['checkpoint_p50_ms']):.2f} ms "
        f"(min {float(audit['checkpoint_min_ms']):.2f}, max {float(audit['checkpoint_max_ms']):.2f}); `palimpsest checkpoint` as a whole process on Anarchism {cli_checkpoint.fmt(1, ' ms')} | — | — |",
        f"| inclusion proof at 10^6 events (library, {int(audit['proofs'])} random positions) | p50 {float(audit['inclusion_p50_us']):.0f} µs, p99 {float(audit['inclusion_p99_us']):.0f} µs "
        f"({int(audit['path_length'])} hashes); `palimpsest prove POS` as a whole process on Anarchism {cli_prove.fmt(1, ' ms')} | — | — |",
        f"| consistency proof at 10^6 events (library, random old size) | p50 {float(audit['consistency_p50_us']):.0f} µs, p99 {float(audit['consistency_p99_us']):.0f} µs | — | — |",
        f"| `report Anarchism` (the most edited document: every version's diff, proofs, blame), JSON | {report_json.fmt(1, ' s')}, {sizes[0] / 1e6:,.0f} MB, peak RSS {report_rss:.0f} MB | — | — |",
        f"| the same report as HTML | {report_html.fmt(1, ' s')}, {sizes[1] / 1e6:,.0f} MB | — | — |",
        f"| `tools/verify-report.py` on that JSON report (Python, standard library) | {check.fmt(1, ' s')} | — | — |",
        "",
        "The 10^6-event ledger is built by `PalimpsestBench audit` with the built-in projections off (the Merkle tree is always",
        f"kept): building it took {float(audit['build_secs']):.0f} s. Proof and checkpoint costs depend only on the tree, O(log² n) node reads.",
        "",
        "```",
        "tools/bench-audit --runs N      # this section; about 10 minutes",
        "palimpsest --ledger DIR import mediawiki enwiki-Anarchism.xml.lzma; palimpsest --ledger DIR verify --json",
        "gcc -O2 lmdb_limit.c -llmdb; lmdb_limit append DB 1000000 200 0 sync; lmdb_limit scan DB",
        ".build/release/PalimpsestBench audit DIR 1000000 RUNS; palimpsest --ledger ANARCHISM prove POS; palimpsest --ledger ANARCHISM checkpoint",
        "palimpsest --ledger DIR report Anarchism --out anarchism.json (and .html); python3 tools/verify-report.py anarchism.json --public-key KEY",
        "```",
        "<!-- audit:end -->",
    ]
    replace_section(Path(opts.out), "audit", lines)


if __name__ == "__main__":
    main()
