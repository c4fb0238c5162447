#!/usr/bin/env python3
"""The benchmark suite (issue: benchmark suite): every comparison in one run, each Palimpsest figure
beside a peer (git, WikiWho) or the physical limit (raw LMDB, compiled here from
../shared/tools/lmdb-limit/lmdb_limit.c) measured in the same run, medians of --runs repetitions with
min and max. Rewrites the "suite" section at the top of BENCHMARKS.md (the deeper sections below it
come from tools/bench-ledger, -importers, -replay, -provenance and -audit).

  tools/bench            the full run: site-policy and all 15,180 Anarchism revisions, WikiWho run here
  tools/bench --quick    site-policy and the first 1,000 Anarchism revisions (WikiWho run on those too)

Standard library only (WikiWho itself is installed by tools/bench when missing).
"""
import argparse
import json
import lzma
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_bench import BENCH, BIN, LIMIT, ROOT, SHARED, Stat, build_release, fresh_ledger, machine, peak_rss_mb, replace_section, results, sh, timed  # noqa: E402
from provenance_bench import phrases_from  # noqa: E402

SITE_POLICY = SHARED / "corpora" / "site-policy" / "events.jsonl.xz"
ANARCHISM = SHARED / "corpora" / "wikipedia" / "enwiki-Anarchism.xml.lzma"
WIKIWHO_RUN = SHARED / "tools" / "wikiwho" / "run_wikiwho.py"
RFCS_BUNDLE = SHARED / "corpora" / "git" / "rust-lang-rfcs.bundle"
AGREEMENT = SHARED / "tools" / "wikiwho" / "agreement.py"
TOOLS = ROOT / "tools" / "benchmarks"
PAGE = "Anarchism"


def say(message):
    print(message, file=sys.stderr, flush=True)


def anarchism_xml(work, revisions):
    """The Anarchism export decompressed, cut after `revisions` revisions when given (the page is
    closed properly). Returns the path and the revision IDs in order."""
    path = work / "anarchism.xml"
    ids, count, inside = [], 0, False
    with lzma.open(ANARCHISM, "rt", encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        for line in src:
            out.write(line)
            stripped = line.strip()
            if stripped.startswith("<revision"):
                inside = True
            elif inside and stripped.startswith("<id>"):
                ids.append(int(re.search(r"<id>(\d+)</id>", stripped).group(1)))
                inside = False
            elif stripped == "</revision>":
                count += 1
                if revisions and count == revisions:
                    out.write("  </page>\n</mediawiki>\n")
                    break
    return path, ids


def git_repo(work, name, stream_command):
    repo = work / name
    shutil.rmtree(repo, ignore_errors=True)
    sh(["git", "init", "-q", "-b", "main", repo])
    start = time.perf_counter()
    p = subprocess.run(f"{stream_command} | /usr/bin/time -f %M git -C '{repo}' fast-import --quiet", shell=True,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench: git fast-import failed: {p.stderr[-400:]}")
    return repo, time.perf_counter() - start, int(p.stderr.strip().splitlines()[-1]) / 1024


def git_blame_as_blame_json(repo, path, revision_ids):
    """`git blame --porcelain` turned into the shape agreement.py reads: each line's text attributed
    to the revision whose commit git names (commits are the revisions in order)."""
    commits = sh(["git", "-C", repo, "rev-list", "--reverse", "main"]).stdout.split()
    revision_of = {c: revision_ids[i] for i, c in enumerate(commits)}
    tokens, current = [], None
    for line in sh(["git", "-C", repo, "blame", "--porcelain", "main", "--", path]).stdout.splitlines():
        if line.startswith("\t"):
            tokens.append({"text": line[1:] + "\n", "origin": {"source": f"enwiki rev {revision_of[current]}"}, "removedBy": []})
        elif re.match(r"^[0-9a-f]{40} ", line):
            current = line.split()[0]
    return {"tokens": tokens}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="site-policy and the first 1,000 Anarchism revisions (under 3 minutes)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    opts = ap.parse_args()
    runs, quick = max(5, opts.runs), opts.quick
    began = time.perf_counter()
    for path in (SITE_POLICY, ANARCHISM, WIKIWHO_RUN, AGREEMENT, LIMIT):
        if not path.exists():
            sys.exit(f"bench: missing {path}")
    say("building release binaries…")
    build_release()
    work = Path(tempfile.mkdtemp(prefix="palimpsest-bench-suite-"))
    f = {}  # every figure, by name
    try:
        say("inputs…")
        site = work / "site-policy.jsonl"
        with open(site, "wb") as out:
            subprocess.run(["xz", "-dc", SITE_POLICY], stdout=out, check=True)
        site_text = sum(len(json.loads(line).get("text", "").encode()) for line in site.read_text(encoding="utf-8").splitlines())
        xml, revision_ids = anarchism_xml(work, 1000 if quick else None)

        say("raw LMDB (the limit)…")
        limit = work / "lmdb_limit"
        sh(["gcc", "-O2", "-o", limit, LIMIT.parent / "lmdb_limit.c", "-llmdb"])
        n1, n100, nbody, nscan = (1000, 50_000, 1000, 200_000) if quick else (10_000, 500_000, 10_000, 1_000_000)
        raw = {k: [] for k in ("commit1", "commit100", "body_MBps", "scan_evs", "scan_MBps")}
        for _ in range(runs):
            db = work / "raw"
            for n, size, batch, key in ((n1, 200, 1, "commit1"), (n100, 200, 100, "commit100"), (nbody, 20480, 1000, "body_MBps")):
                shutil.rmtree(db, ignore_errors=True)
                r = results(sh([limit, "append", db, str(n), str(size), str(batch), "sync"]).stdout, "append")[0]
                raw[key].append(float(r["MBps"] if key == "body_MBps" else r["ev_per_s"]))
            shutil.rmtree(db, ignore_errors=True)
            sh([limit, "append", db, str(nscan), "200", "0", "sync"])
            r = results(sh([limit, "scan", db]).stdout, "scan")[0]
            raw["scan_evs"].append(float(r["ev_per_s"]))
            raw["scan_MBps"].append(float(r["MBps"]))
        f["raw"] = {k: Stat(v) for k, v in raw.items()}

        say("durable appends through the library…")
        lib1, lib100, catch1, catch100 = [], [], [], []
        for _ in range(runs):
            d = work / "append"
            shutil.rmtree(d, ignore_errors=True)
            r = results(sh([BENCH, "append", d, str(n1 // 5 if quick else 3000), "1"]).stdout, "append")[0]
            lib1.append(float(r["ev_per_s"]))
            catch1.append(float(r["catchup_secs"]))
            shutil.rmtree(d, ignore_errors=True)
            r = results(sh([BENCH, "append", d, str(n100 // 10), "100"]).stdout, "append")[0]
            lib100.append(float(r["ev_per_s"]))
            catch100.append(float(r["catchup_secs"]))
        f["append1"], f["append100"] = Stat(lib1), Stat(lib100)
        f["catchup1"], f["catchup100"] = Stat(catch1), Stat(catch100)
        f["append_n"] = (n1 // 5 if quick else 3000, n100 // 10)

        say("imports (site-policy, Anarchism) and git fast-import of the same histories…")
        for name, command in (("site", ["import", "jsonl", site, "--json"]), ("anarchism", ["import", "mediawiki", xml, "--json"])):
            secs, rss, inner, log = [], [], [], []
            for _ in range(runs):
                ledger = fresh_ledger(work, f"{name}.ledger")
                m, s, out = peak_rss_mb([BIN, "--ledger", ledger] + command)
                summary = json.loads(out)
                secs.append(s)
                rss.append(m)
                inner.append(summary["seconds"])
                log.append(summary["logSeconds"])
            f[name] = {"secs": Stat(secs), "rss": Stat(rss), "inner": Stat(inner), "log": Stat(log), "events": summary["added"], "text": summary["textBytes"], "ledger": ledger}
        f["site"]["text"] = site_text
        streams = {"site": f"python3 '{TOOLS}/jsonl_to_git.py' '{site}'", "anarchism": f"python3 '{TOOLS}/mediawiki_to_git.py' '{xml}'"}
        for name, stream in streams.items():
            # The stream is written once to a file, so that git fast-import alone is timed.
            stream_file = work / f"{name}.fi"
            subprocess.run(f"{stream} > '{stream_file}'", shell=True, check=True)
            secs, rss = [], []
            for _ in range(runs):
                repo, s, m = git_repo(work, f"{name}.git", f"cat '{stream_file}'")
                secs.append(s)
                rss.append(m)
            sh(["git", "-C", repo, "checkout", "-q", "main"])
            f[name]["git_secs"], f[name]["git_rss"], f[name]["repo"] = Stat(secs), Stat(rss), repo

        say("import git (rust-lang/rfcs, the Anarchism repository) and git log -p --first-parent…")
        rfcs = work / "rfcs"
        shutil.rmtree(rfcs, ignore_errors=True)
        sh(["git", "clone", "-q", "--branch", "master", RFCS_BUNDLE, rfcs])
        f["import_git"] = {}
        for name, repo, branch in (("rfcs", rfcs, "master"), ("anarchism", f["anarchism"]["repo"], "main")):
            secs, rss, parts, log_p = [], [], [], []
            for _ in range(runs):
                ledger = fresh_ledger(work, f"git-{name}.ledger")
                m, s, out = peak_rss_mb([BIN, "--ledger", ledger, "import", "git", repo, "--branch", branch, "--json"])
                summary = json.loads(out)
                secs.append(s)
                rss.append(m)
                parts.append(summary)
                log_p.append(timed(["git", "-C", repo, "log", "-p", "--first-parent", branch])[0])
            f["import_git"][name] = {"secs": Stat(secs), "rss": Stat(rss), "log_p": Stat(log_p), "events": parts[-1]["added"],
                                     "commits": int(sh(["git", "-C", repo, "rev-list", "--count", branch]).stdout),
                                     "analysis": Stat([p["analysisSeconds"] for p in parts]), "log": Stat([p["logSeconds"] for p in parts]),
                                     "projections": Stat([p["projectionSeconds"] for p in parts])}

        say("WikiWho over the same Anarchism revisions (once: it takes minutes)…")
        ww_dir = work / "wikiwho"
        ww_dir.mkdir()
        m, s, _ = peak_rss_mb(["python3", WIKIWHO_RUN, "--out-dir", ww_dir, "--name", PAGE] + (["--max-revs", "1000"] if quick else []) + [xml])
        f["wikiwho"] = {"secs": s, "rss": m, "output": ww_dir / f"{PAGE}.wikiwho.json"}

        an_ledger, an_repo = f["anarchism"]["ledger"], f["anarchism"]["repo"]
        say("provenance accuracy (ours and git blame's, against WikiWho)…")
        blame_file = work / "blame.json"
        blame_file.write_text(sh([BIN, "--ledger", an_ledger, "blame", PAGE, "--json"]).stdout)
        f["agreement"] = json.loads(sh(["python3", AGREEMENT, blame_file, f["wikiwho"]["output"]]).stdout)
        git_blame_file = work / "git-blame.json"
        git_blame_file.write_text(json.dumps(git_blame_as_blame_json(an_repo, f"{PAGE}.wiki", revision_ids)))
        f["git_agreement"] = json.loads(sh(["python3", AGREEMENT, git_blame_file, f["wikiwho"]["output"]]).stdout)

        say("who removed phrase P: one document, the whole ledger, git log -S…")
        both = work / "both.ledger"
        shutil.rmtree(both, ignore_errors=True)
        shutil.copytree(an_ledger, both)
        sh([BIN, "--ledger", both, "import", "jsonl", site])
        phrases = phrases_from(sh([BIN, "--ledger", an_ledger, "show", PAGE]).stdout)
        in_doc = results(sh([BENCH, "removed-in", both, PAGE, str(runs)] + phrases).stdout, "removed")
        whole = results(sh([BENCH, "removed", both, str(runs)] + phrases).stdout, "removed")
        git_s, git_rss = [], []
        for phrase in phrases:
            one = []
            for _ in range(runs):
                m, s, _ = peak_rss_mb(["git", "-C", an_repo, "log", "-S" + phrase, "--format=%H", "main", "--", f"{PAGE}.wiki"])
                one.append(s * 1e3)
                git_rss.append(m)
            git_s.append(Stat(one).median)
        cli_rss = []
        cli_s = []
        for phrase in phrases:
            one = []
            for _ in range(runs):
                m, s, _ = peak_rss_mb([BIN, "--ledger", both, "removed", phrase, "--json"])
                one.append(s * 1e3)
                cli_rss.append(m)
            cli_s.append(Stat(one).median)
        f["removed"] = {"phrases": len(phrases), "doc": [float(r["p50_ms"]) for r in in_doc], "whole": [float(r["p50_ms"]) for r in whole],
                        "cli": cli_s, "git": git_s, "cli_rss": Stat(cli_rss), "git_rss": Stat(git_rss)}

        say("blame of the last version, git blame…")
        lib_blame = results(sh([BENCH, "blame", an_ledger, PAGE, str(runs * 4)]).stdout, "blame")[0]
        cli_b, cli_b_rss, git_b, git_b_rss = [], [], [], []
        for _ in range(runs):
            m, s, _ = peak_rss_mb([BIN, "--ledger", an_ledger, "blame", PAGE], discard_output=True)
            cli_b.append(s * 1e3)
            cli_b_rss.append(m)
            m, s, _ = peak_rss_mb(["git", "-C", an_repo, "blame", "--porcelain", "main", "--", f"{PAGE}.wiki"], discard_output=True)
            git_b.append(s * 1e3)
            git_b_rss.append(m)
        # blame --json (every token's removals and restorations) and --json --runs (origins only),
        # beside git blame --porcelain (measured above).
        json_b, json_b_rss, runs_b, runs_b_rss = [], [], [], []
        for _ in range(runs):
            m, s, _ = peak_rss_mb([BIN, "--ledger", an_ledger, "blame", PAGE, "--json"], discard_output=True)
            json_b.append(s * 1e3)
            json_b_rss.append(m)
            m, s, _ = peak_rss_mb([BIN, "--ledger", an_ledger, "blame", PAGE, "--json", "--runs"], discard_output=True)
            runs_b.append(s * 1e3)
            runs_b_rss.append(m)
        f["blame"] = {"lib": lib_blame, "cli": Stat(cli_b), "cli_rss": Stat(cli_b_rss), "git": Stat(git_b), "git_rss": Stat(git_b_rss),
                      "json": Stat(json_b), "json_rss": Stat(json_b_rss), "runs": Stat(runs_b), "runs_rss": Stat(runs_b_rss)}

        say("start-up: palimpsest --version, git --version…")
        f["startup"] = {"ours": Stat([timed([BIN, "--version"])[0] * 1e3 for _ in range(20 * runs)]),
                        "git": Stat([timed(["git", "--version"])[0] * 1e3 for _ in range(20 * runs)])}

        say("text of version N, git show…")
        shows = [results(sh([BENCH, "show", an_ledger, PAGE, "500"]).stdout, "show")[0] for _ in range(runs)]
        commits = sh(["git", "-C", an_repo, "rev-list", "--reverse", "main"]).stdout.split()
        rng = random.Random(8)
        picks = [rng.randrange(len(commits)) for _ in range(10 * runs)]
        cli_show = sorted(timed([BIN, "--ledger", an_ledger, "show", PAGE, "--version", str(i + 1)])[0] * 1e3 for i in picks)
        git_show = sorted(timed(["git", "-C", an_repo, "show", f"{commits[i]}:{PAGE}.wiki"])[0] * 1e3 for i in picks)
        f["show"] = {"lib_p50": Stat([float(r["p50_us"]) for r in shows]), "lib_p99": Stat([float(r["p99_us"]) for r in shows]),
                     "cli": cli_show, "git": git_show}

        say("rebuild and replay, verify, git fsck…")
        rebuilds = [results(sh([BENCH, "rebuild", an_ledger]).stdout, "rebuild")[0] for _ in range(runs)]
        f["rebuild"] = {k: Stat([float(r[k]) for r in rebuilds]) for k in ("rebuild_ev_per_s", "replay_ev_per_s", "replay_MBps")}
        verify_s, verify_rss, fsck_s = [], [], []
        for _ in range(runs):
            m, s, out = peak_rss_mb([BIN, "--ledger", an_ledger, "verify", "--json"])
            verify_s.append(s)
            verify_rss.append(m)
            verify_bytes = json.loads(out)["textBytes"]
            fsck_s.append(timed(["git", "-C", an_repo, "fsck", "--full", "--no-progress"])[0])
        f["verify"] = {"secs": Stat(verify_s), "rss": Stat(verify_rss), "bytes": verify_bytes, "fsck": Stat(fsck_s)}

        say("storage: the ledger, the texts, git gc --aggressive…")
        size = results(sh([BENCH, "size", an_ledger]).stdout, "size")[0]
        gc_s = timed(["git", "-C", an_repo, "gc", "--aggressive", "--quiet"])[0]
        pack = sum(p.stat().st_size for p in (an_repo / ".git" / "objects" / "pack").glob("*.pack"))
        f["storage"] = {"used": int(size["used_bytes"]), "live": int(size["live_bytes"]), "pack": pack, "gc_secs": gc_s,
                        "tables": table_bytes(an_ledger)}
        site_repo = f["site"]["repo"]
        sh(["git", "-C", site_repo, "gc", "--aggressive", "--quiet"])
        f["site_storage"] = {"pack": sum(p.stat().st_size for p in (site_repo / ".git" / "objects" / "pack").glob("*.pack")),
                             "tables": table_bytes(f["site"]["ledger"])}

        write_report(opts, quick, runs, f, time.perf_counter() - began)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# The log and the texts (the record), as opposed to the tables derived from them.
CORE_TABLES = ("log", "texts", "textIndex")


def table_bytes(ledger):
    """Live bytes of each named table (branch, leaf and overflow pages), as `mdb_stat -ea` counts them."""
    out = sh(["mdb_stat", "-ea", ledger]).stdout
    tables, name = {}, None
    pages = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Status of "):
            name = line[len("Status of "):]
            pages = {}
        elif name and ":" in line:
            key, _, value = line.partition(":")
            if key in ("Branch pages", "Leaf pages", "Overflow pages"):
                pages[key] = int(value)
                if len(pages) == 3:
                    tables[name] = sum(pages.values()) * 4096
    return tables


def share(ratio):
    """A ratio as a percentage with as many digits as it needs to show more than zeros."""
    digits = 1 if ratio >= 0.01 else 2 if ratio >= 0.001 else 3 if ratio >= 0.0001 else 4
    return f"{ratio:.{digits}%}"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * p))]


def versions():
    def first_line(args):
        try:
            return subprocess.run(args, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    try:
        from importlib.metadata import version
        wikiwho = version("wikiwho")
    except Exception:  # noqa: BLE001 — any failure means "not known"
        wikiwho = "?"
    head = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return f"Palimpsest {head}; WikiWho {wikiwho}; {first_line(['python3', '--version'])}; {first_line(['xz', '--version'])}"


def write_report(opts, quick, runs, f, seconds):
    raw, site, an, ww, rem, bl, sh_, rb, ve, st = (f["raw"], f["site"], f["anarchism"], f["wikiwho"], f["removed"], f["blame"],
                                                   f["show"], f["rebuild"], f["verify"], f["storage"])
    scope = "the first 1,000 Anarchism revisions" if quick else f"all {an['events']:,} Anarchism revisions"
    site_mb, an_mb = site["text"] / 1e6, an["text"] / 1e6
    lib_blame_ms = float(bl["lib"]["p50_ms"])
    rem_doc, rem_whole, rem_git = Stat(rem["doc"]), Stat(rem["whole"]), Stat(rem["git"])
    agree, gagree = f["agreement"], f["git_agreement"]

    ss = f["site_storage"]

    def core(storage):
        return sum(v for k, v in storage["tables"].items() if k in CORE_TABLES)

    def largest(storage):
        top = sorted(storage["tables"].items(), key=lambda kv: -kv[1])[:4]
        return ", ".join(f"{k} {v / 1e6:,.1f} MB" for k, v in top)

    def mbps(stat, mb):
        return f"{mb / stat.median:,.1f} MB/s ({mb / stat.max:,.1f}–{mb / stat.min:,.1f})"

    rows = [
        ("durable append, 1 event per transaction (library)", f"{f['append1'].fmt(0)} events/s",
         f"raw LMDB, 200-byte values: {raw['commit1'].fmt(0)} events/s", f"{f['append1'].median / raw['commit1'].median:.0%} of raw"),
        ("durable append, 100 events per transaction (library)", f"{f['append100'].fmt(0)} events/s",
         f"raw LMDB: {raw['commit100'].fmt(0)} events/s", f"{f['append100'].median / raw['commit100'].median:.1%} of raw"),
        (f"bulk import, site-policy ({site['events']:,} events, {site_mb:.1f} MB of text), whole CLI process", mbps(site["secs"], site_mb),
         f"raw LMDB 20 KB bodies: {raw['body_MBps'].fmt(0)} MB/s; `git fast-import`: {mbps(site['git_secs'], site_mb)}",
         f"{site_mb / site['secs'].median / raw['body_MBps'].median:.1%} of raw; {site['git_secs'].median / site['secs'].median:.2f}× git"),
        (f"bulk import, Anarchism ({an['events']:,} revisions, {an_mb:,.0f} MB of text), whole CLI process", mbps(an["secs"], an_mb),
         f"raw LMDB 20 KB bodies: {raw['body_MBps'].fmt(0)} MB/s; `git fast-import`: {mbps(an['git_secs'], an_mb)}",
         f"{an_mb / an['secs'].median / raw['body_MBps'].median:.1%} of raw; {an['git_secs'].median / an['secs'].median:.2f}× git"),
        ("the log alone: until the last event is committed (the imports above; following projections still folding)",
         f"site-policy {mbps(site['log'], site_mb)}; Anarchism {mbps(an['log'], an_mb)}",
         f"`git fast-import`: site-policy {mbps(site['git_secs'], site_mb)}; Anarchism {mbps(an['git_secs'], an_mb)}",
         f"{site['git_secs'].median / site['log'].median:.2f}× / {an['git_secs'].median / an['log'].median:.2f}× git's MB/s"),
        ("Anarchism import, the command returning with every projection current", f"{an['secs'].fmt(1, ' s')} (log {an['log'].median:.1f} s, then the catch-up)",
         f"`git fast-import` of the same history: {an['git_secs'].fmt(1, ' s')}", f"{an['secs'].median / an['git_secs'].median:.1f}× git's time"),
        ("following projections catching up after the durable appends above (deferred)",
         f"{f['append_n'][0]:,} events: {f['catchup1'].fmt(2, ' s')}; {f['append_n'][1]:,} events: {f['catchup100'].fmt(2, ' s')}", "—", "—"),
        ("ingest with full provenance (the Anarchism import above: every projection)", f"{an['events'] / an['secs'].median:,.0f} revisions/s; {an['secs'].fmt(1, ' s')}; peak RSS {an['rss'].fmt(0, ' MB')}",
         f"WikiWho {ww['secs']:.1f} s (one run), {an['events'] / ww['secs']:,.0f} revisions/s, peak RSS {ww['rss']:.0f} MB",
         f"{ww['secs'] / an['secs'].median:.1f}× faster; {an['rss'].median / ww['rss']:.2f}× WikiWho's memory"),
        (f"provenance: origin agreement with WikiWho ({agree['characters']:,} characters of the last revision)", f"{agree['origin_agreement']:.4f}",
         f"`git blame` (line-level): {gagree['origin_agreement']:.4f}", f"{agree['origin_agreement'] - gagree['origin_agreement']:+.4f} over git"),
        (f"provenance: removal agreement with WikiWho ({agree['characters_ever_removed']:,} characters ever removed)",
         "—" if agree["removal_agreement"] is None else f"{agree['removal_agreement']:.4f}", "`git blame` records no removals", "—"),
        (f"who removed phrase P, {rem['phrases']} phrases by a fixed rule, in the document (library, warm)", f"p50 {rem_doc.median:,.1f} ms, p99 {pct(rem['doc'], 0.99):,.1f} ms",
         f"`git log -S`: p50 {rem_git.median:,.0f} ms, p99 {pct(rem['git'], 0.99):,.0f} ms", f"{rem_git.median / rem_doc.median:,.1f}× faster at p50"),
        ("the same across the whole ledger (Anarchism and site-policy together)", f"library p50 {rem_whole.median:,.1f} ms, p99 {pct(rem['whole'], 0.99):,.1f} ms; CLI p50 {Stat(rem['cli']).median:,.0f} ms",
         f"`git log -S` (one file): p50 {rem_git.median:,.0f} ms", f"{rem_git.median / rem_whole.median:,.1f}× (library), {rem_git.median / Stat(rem['cli']).median:,.1f}× (CLI)"),
        (f"blame of the last version ({bl['lib']['tokens']} tokens)", f"library {lib_blame_ms:,.1f} ms ({float(bl['lib']['min_ms']):,.1f}–{float(bl['lib']['max_ms']):,.1f}); CLI {bl['cli'].fmt(0, ' ms')}",
         f"`git blame`: {bl['git'].fmt(0, ' ms')}", f"{bl['git'].median / lib_blame_ms:.1f}× (library), {bl['git'].median / bl['cli'].median:.1f}× (CLI)"),
        ("`blame --json` (every token with its removals and restorations) / `blame --json --runs` (origins only), whole CLI",
         f"{bl['json'].fmt(0, ' ms')}, peak {bl['json_rss'].fmt(0, ' MB')} / {bl['runs'].fmt(0, ' ms')}, peak {bl['runs_rss'].fmt(0, ' MB')}",
         f"`git blame --porcelain`: {bl['git'].fmt(0, ' ms')}, peak {bl['git_rss'].fmt(0, ' MB')}",
         f"{bl['json'].median / bl['git'].median:.1f}× / {bl['runs'].median / bl['git'].median:.2f}× git's time"),
        ("start-up: `palimpsest --version`, whole process", f"{f['startup']['ours'].fmt(1, ' ms')}", f"`git --version`: {f['startup']['git'].fmt(1, ' ms')}",
         f"{f['startup']['ours'].median / f['startup']['git'].median:.1f}× git's"),
        ("text of version N (random N)", f"library p50 {sh_['lib_p50'].fmt(0, ' µs')}, p99 {sh_['lib_p99'].fmt(0, ' µs')}; CLI p50 {pct(sh_['cli'], 0.5):,.1f} ms, p99 {pct(sh_['cli'], 0.99):,.1f} ms",
         f"`git show REV:path`: p50 {pct(sh_['git'], 0.5):,.1f} ms, p99 {pct(sh_['git'], 0.99):,.1f} ms", f"{pct(sh_['git'], 0.5) / pct(sh_['cli'], 0.5):.2f}× (CLI)"),
        ("full rebuild of every projection / replay reading every text", f"{rb['rebuild_ev_per_s'].fmt(0)} events/s; replay {rb['replay_ev_per_s'].fmt(0)} events/s, {rb['replay_MBps'].fmt(0)} MB/s",
         f"raw LMDB cursor scan: {raw['scan_evs'].fmt(0)} events/s, {raw['scan_MBps'].fmt(0)} MB/s",
         f"{share(rb['rebuild_ev_per_s'].median / raw['scan_evs'].median)} of the scan's events/s; replay {share(rb['replay_MBps'].median / raw['scan_MBps'].median)} of its MB/s"),
        (f"verify (every hash, the chain, every text, the Merkle tree, the indexes; {ve['bytes'] / 1e6:,.0f} MB of text)", f"{mbps(ve['secs'], ve['bytes'] / 1e6)}; {ve['secs'].fmt(1, ' s')}",
         f"raw LMDB cursor scan: {raw['scan_MBps'].fmt(0)} MB/s; `git fsck --full`: {ve['fsck'].fmt(1, ' s')}",
         f"{ve['bytes'] / 1e6 / ve['secs'].median / raw['scan_MBps'].median:.1%} of the scan; {ve['fsck'].median / ve['secs'].median:.2f}× git fsck's speed"),
        ("storage by part, Anarchism (live bytes by table, `mdb_stat -ea`)", f"log and texts {core(st) / 1e6:,.1f} MB; every table {sum(st['tables'].values()) / 1e6:,.1f} MB; largest: {largest(st)}",
         f"`git gc --aggressive` pack {st['pack'] / 1e6:,.1f} MB", f"log and texts {core(st) / st['pack']:.2f}×; everything {sum(st['tables'].values()) / st['pack']:.1f}× git's pack"),
        ("storage by part, site-policy", f"log and texts {core(ss) / 1e6:,.1f} MB; every table {sum(ss['tables'].values()) / 1e6:,.1f} MB; largest: {largest(ss)}",
         f"`git gc --aggressive` pack {ss['pack'] / 1e6:,.2f} MB", f"log and texts {core(ss) / ss['pack']:.2f}×; everything {sum(ss['tables'].values()) / ss['pack']:.1f}× git's pack"),
        ("storage after the Anarchism import", f"data file {st['used'] / 1e6:,.1f} MB, of which live {st['live'] / 1e6:,.1f} MB",
         f"sum of the texts {an_mb:,.1f} MB; `git gc --aggressive` pack {st['pack'] / 1e6:,.1f} MB ({st['gc_secs']:.0f} s)",
         f"live {st['live'] / st['pack']:,.1f}× git's pack; {st['live'] / an['text']:.1%} of the texts"),
        *[(f"`import git` {label} ({g['commits']:,} commits, {g['events']:,} events), whole command, every projection current",
           f"{g['secs'].fmt(2, ' s')} (analysis {g['analysis'].fmt(2, ' s')}, log {g['log'].fmt(2, ' s')}, projections {g['projections'].fmt(2, ' s')} after); peak {g['rss'].fmt(0, ' MB')}",
           f"`git log -p --first-parent`: {g['log_p'].fmt(2, ' s')}", f"{g['secs'].median / max(g['log_p'].median, 2):.1f}× (against max(git log -p, 2 s))")
          for label, g in (("rust-lang/rfcs", f["import_git"]["rfcs"]), ("of the Anarchism repository", f["import_git"]["anarchism"]))],
        ("peak memory: imports", f"site-policy {site['rss'].fmt(0, ' MB')}; Anarchism {an['rss'].fmt(0, ' MB')}",
         f"`git fast-import` {site['git_rss'].fmt(0, ' MB')} / {an['git_rss'].fmt(0, ' MB')}; WikiWho {ww['rss']:.0f} MB", f"{an['rss'].median / an['git_rss'].median:.1f}× git (Anarchism)"),
        ("peak memory: queries (whole CLI processes)", f"`removed` {rem['cli_rss'].fmt(0, ' MB')}; `blame` {bl['cli_rss'].fmt(0, ' MB')}; `verify` {ve['rss'].fmt(0, ' MB')}",
         f"`git log -S` {rem['git_rss'].fmt(0, ' MB')}; `git blame` {bl['git_rss'].fmt(0, ' MB')}", f"{bl['cli_rss'].median / bl['git_rss'].median:.1f}× git blame"),
    ]
    gr, ga = f["import_git"]["rfcs"], f["import_git"]["anarchism"]
    goals = [
        ("durable append at ≥ 50% of raw LMDB (foundation)", f["append1"].median / raw["commit1"].median >= 0.5, f"{f['append1'].median / raw['commit1'].median:.0%}"),
        ("bulk import ≥ 100 MB/s of text (foundation)", an_mb / an["secs"].median >= 100, f"{an_mb / an['secs'].median:.1f} MB/s"),
        ("a version's text p50 < 2 ms (foundation, replay)", sh_["lib_p50"].median < 2000, f"{sh_['lib_p50'].median / 1000:.2f} ms"),
        ("storage ≤ 2× git's pack (foundation, importers)", st["live"] <= 2 * st["pack"], f"{st['live'] / st['pack']:.1f}×"),
        ("origin agreement with WikiWho ≥ 0.95 (provenance)", agree["origin_agreement"] >= 0.95, f"{agree['origin_agreement']:.4f}"),
        ("removal agreement with WikiWho ≥ 0.90 (provenance)", (agree["removal_agreement"] or 0) >= 0.90, f"{agree['removal_agreement']}"),
        ("ingest Anarchism < 30 s (provenance)", None if quick else an["secs"].median < 30, f"{an['secs'].median:.1f} s"),
        ("ingest peak RSS < 500 MB (provenance)", None if quick else an["rss"].median < 500, f"{an['rss'].median:.0f} MB"),
        ("`removed` p50 < 10 ms (provenance)", rem_doc.median < 10, f"{rem_doc.median:.1f} ms"),
        ("`blame` < 100 ms (provenance)", lib_blame_ms < 100, f"{lib_blame_ms:.1f} ms"),
        ("Anarchism import with every projection current ≤ 15 s (write path)", None if quick else an["secs"].median <= 15, f"{an['secs'].median:.1f} s"),
        ("… and ≤ 3× `git fast-import` of the same history (write path)", an["secs"].median <= 3 * an["git_secs"].median, f"{an['secs'].median / an['git_secs'].median:.1f}×"),
        ("… peak RSS ≤ 300 MB (write path)", None if quick else an["rss"].median <= 300, f"{an['rss'].median:.0f} MB"),
        ("the log alone ≥ `git fast-import`'s MB/s, Anarchism (write path)", an["log"].median <= an["git_secs"].median, f"{an['git_secs'].median / an['log'].median:.2f}×"),
        ("storage, everything ≤ 3× git's pack, Anarchism (write path)", sum(st["tables"].values()) <= 3 * st["pack"], f"{sum(st['tables'].values()) / st['pack']:.1f}×"),
        ("storage, log and texts ≤ 1.5× git's pack, Anarchism (write path)", core(st) <= 1.5 * st["pack"], f"{core(st) / st['pack']:.2f}×"),
        ("storage, everything ≤ 3× git's pack, site-policy (write path)", sum(ss["tables"].values()) <= 3 * ss["pack"], f"{sum(ss['tables'].values()) / ss['pack']:.1f}×"),
        ("storage, log and texts ≤ 1.5× git's pack, site-policy (write path)", core(ss) <= 1.5 * ss["pack"], f"{core(ss) / ss['pack']:.2f}×"),
        ("rebuild of every projection ≤ 10 s and ≤ 2× `git fast-import`, Anarchism (write path)",
         None if quick else an["events"] / rb["rebuild_ev_per_s"].median <= min(10, 2 * an["git_secs"].median), f"{an['events'] / rb['rebuild_ev_per_s'].median:.1f} s"),
        ("durable appends ≥ 50% of raw at 1 event per transaction (write path)", f["append1"].median / raw["commit1"].median >= 0.5, f"{f['append1'].median / raw['commit1'].median:.0%}"),
        ("durable appends ≥ 25% of raw at 100 per transaction (write path)", f["append100"].median / raw["commit100"].median >= 0.25, f"{f['append100'].median / raw['commit100'].median:.1%}"),
        ("origin agreement ≥ 0.97, removal ≥ 0.945 on Anarchism (write path, no regression)",
         None if quick else agree["origin_agreement"] >= 0.97 and (agree["removal_agreement"] or 0) >= 0.945, f"{agree['origin_agreement']:.4f} / {agree['removal_agreement']}"),
        ("`import git` rust-lang/rfcs completes, within 5× max(`git log -p --first-parent`, 2 s) (import git)",
         gr["secs"].median <= 5 * max(gr["log_p"].median, 2), f"{gr['secs'].median / max(gr['log_p'].median, 2):.1f}×"),
        ("`import git` of the Anarchism repository within 5× `git log -p --first-parent` (import git)",
         None if quick else ga["secs"].median <= 5 * max(ga["log_p"].median, 2), f"{ga['secs'].median / max(ga['log_p'].median, 2):.1f}×"),
        ("`removed`, 20 phrases, whole ledger: CLI p50 ≤ 10 ms (query latency)", Stat(rem["cli"]).median <= 10, f"{Stat(rem['cli']).median:.0f} ms"),
        ("… ≥ 100× faster than `git log -S` at p50 (query latency)", rem_git.median >= 100 * Stat(rem["cli"]).median, f"{rem_git.median / Stat(rem['cli']).median:.1f}×"),
        ("`show DOC --version N`: CLI p50 ≤ `git show`'s (query latency)", pct(sh_["cli"], 0.5) <= pct(sh_["git"], 0.5), f"{pct(sh_['cli'], 0.5):.1f} ms vs {pct(sh_['git'], 0.5):.1f} ms"),
        ("`palimpsest --version` ≤ 3 ms (query latency)", f["startup"]["ours"].median <= 3, f"{f['startup']['ours'].median:.1f} ms"),
        ("`blame` (text) CLI ≤ `git blame` (query latency)", bl["cli"].median <= bl["git"].median, f"{bl['cli'].median:.0f} ms vs {bl['git'].median:.0f} ms"),
        ("`blame --json --runs` ≤ `git blame --porcelain` (query latency)", bl["runs"].median <= bl["git"].median, f"{bl['runs'].median:.0f} ms"),
        ("`blame --json` ≤ 10× `git blame --porcelain` (query latency)", bl["json"].median <= 10 * bl["git"].median, f"{bl['json'].median / bl['git'].median:.1f}×"),
        ("blame peak memory ≤ 2× git's (query latency)", max(bl["cli_rss"].median, bl["json_rss"].median, bl["runs_rss"].median) <= 2 * bl["git_rss"].median,
         f"{max(bl['cli_rss'].median, bl['json_rss'].median, bl['runs_rss'].median):.0f} MB vs {bl['git_rss'].median:.0f} MB"),
        ("`verify` ≤ `git fsck --full` (query latency)", ve["secs"].median <= ve["fsck"].median, f"{ve['secs'].median:.2f} s vs {ve['fsck'].median:.2f} s"),
        ("`import git` peak memory ≤ 300 MB on both (import git)", None if quick else max(gr["rss"].median, ga["rss"].median) <= 300,
         f"{gr['rss'].median:.0f} MB / {ga['rss'].median:.0f} MB"),
    ]
    command = "tools/bench" + (" --quick" if quick else "") + (f" --runs {runs}" if runs != 5 else "")
    lines = [
        "<!-- suite:begin (generated by tools/bench; do not edit by hand) -->",
        "## The suite: Palimpsest beside git, WikiWho and raw LMDB" + (" (quick run)" if quick else ""),
        "",
        f"`{command}` ran every row below in one run of {seconds / 60:.1f} minutes on {time.strftime('%Y-%m-%d')}, over site-policy and {scope}.",
        f"Machine: {machine()}. Versions: {versions()}.",
        f"Figures are medians of {runs} runs with (min–max), except where a row says otherwise; each ratio compares figures from this run.",
        "",
        "| what | Palimpsest | measured against, same run | ratio |",
        "|---|---|---|---|",
    ] + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows] + [
        "",
        "Goals set by the earlier issues, judged on this run" + (" (a quick run judges only what does not depend on the whole history)" if quick else "") + ":",
        "",
        "| goal | this run | met |",
        "|---|---|---|",
    ] + [f"| {g} | {v} | {'—' if ok is None else ('yes' if ok else '**no**')} |" for g, ok, v in goals] + [
        "",
        "Commands (what `tools/benchmarks/suite.py` runs; DIR is a fresh ledger, REPO the same history in git):",
        "",
        "```",
        "gcc -O2 ../shared/tools/lmdb-limit/lmdb_limit.c -llmdb; lmdb_limit append DB N 200 1|100 sync; lmdb_limit append DB N 20480 1000 sync; lmdb_limit scan DB",
        "PalimpsestBench append DIR N 1|100",
        "palimpsest --ledger DIR import jsonl site-policy.jsonl --json; palimpsest --ledger DIR import mediawiki anarchism.xml --json   # under /usr/bin/time",
        "python3 tools/benchmarks/{jsonl,mediawiki}_to_git.py … > STREAM; git -C REPO fast-import --quiet < STREAM",
        "python3 ../shared/tools/wikiwho/run_wikiwho.py --out-dir D --name Anarchism [--max-revs 1000] anarchism.xml",
        "palimpsest --ledger DIR blame Anarchism --json > blame.json; python3 ../shared/tools/wikiwho/agreement.py blame.json D/Anarchism.wikiwho.json",
        "git -C REPO blame --porcelain main -- Anarchism.wiki   # turned into the same shape, each line's revision",
        "PalimpsestBench removed-in DIR Anarchism RUNS P…; PalimpsestBench removed DIR RUNS P…; palimpsest --ledger DIR removed P --json",
        "git -C REPO log -SP --format=%H main -- Anarchism.wiki",
        "git clone --branch master ../shared/corpora/git/rust-lang-rfcs.bundle RFCS; palimpsest --ledger DIR import git RFCS|REPO --json; git -C RFCS|REPO log -p --first-parent",
        "PalimpsestBench blame DIR Anarchism RUNS; palimpsest --ledger DIR blame Anarchism [--json [--runs]]; git -C REPO blame --porcelain main -- Anarchism.wiki",
        "palimpsest --version; git --version   # 20 × RUNS each",
        "PalimpsestBench show DIR Anarchism 500; palimpsest --ledger DIR show Anarchism --version N; git -C REPO show REV:Anarchism.wiki",
        "PalimpsestBench rebuild DIR; palimpsest --ledger DIR verify --json; git -C REPO fsck --full",
        "PalimpsestBench size DIR; mdb_stat -ea DIR   # live bytes by table; git -C REPO gc --aggressive",
        "```",
        "<!-- suite:end -->",
    ]
    out = Path(opts.out)
    text = out.read_text(encoding="utf-8") if out.exists() else "# Benchmarks\n\n"
    if "<!-- suite:begin" not in text:
        # The suite's table goes first: after the title and the paragraph under it.
        at = text.find("<!-- ")
        at = len(text) if at < 0 else at
        text = text[:at].rstrip("\n") + "\n\n<!-- suite:begin -->\n<!-- suite:end -->\n\n" + text[at:]
        out.write_text(text, encoding="utf-8")
    replace_section(out, "suite", lines)


if __name__ == "__main__":
    main()
