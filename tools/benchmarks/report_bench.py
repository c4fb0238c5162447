#!/usr/bin/env python3
"""The report benchmarks (issue: reports at any size), with `git log -p` of the same history in the
same run: `report Anarchism` (all 15,180 versions) as JSON and as HTML, a one-year report (2005),
tools/verify-report.py on the whole-history JSON, and headless Chromium shooting the HTML report's
first screen (written to docs/screenshots/report-summary.png for the README).

Rewrites the section of BENCHMARKS.md between the report markers.
Usage: tools/bench-report [--runs N] [--ledger DIR] [--no-build]
  --ledger DIR   an Anarchism ledger already imported (else one is imported here, about a minute)
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_bench import BIN, ROOT, SHARED, Stat, build_release, fresh_ledger, machine, peak_rss_mb, replace_section, sh  # noqa: E402

ANARCHISM = SHARED / "corpora" / "wikipedia" / "enwiki-Anarchism.xml.lzma"
SCREENSHOT = ROOT / "docs" / "screenshots" / "report-summary.png"


def tree_peak_rss_mb(args):
    """Peak of the summed RSS of a command and every process under it, sampled every 50 ms, and wall
    seconds: the verifier checks commitments in worker processes, and GNU time's %M is the largest
    single process, not their sum. Pages a forked worker shares with its parent count twice, so
    the figure errs high."""
    start = time.perf_counter()
    p = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0

    def tree(pid):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = [int(c) for c in f.read().split()]
        except OSError:
            return [pid]
        return [pid] + [q for c in children for q in tree(c)]

    def rss_kb(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            return 0

    while p.poll() is None:
        peak = max(peak, sum(rss_kb(q) for q in tree(p.pid)))
        time.sleep(0.05)
    out = p.stdout.read()
    secs = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"bench: {args} failed: {out[-500:]}")
    return peak / 1024, secs, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ledger", help="an Anarchism ledger already imported")
    ap.add_argument("--no-build", action="store_true", help="use the release build as it is")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    opts = ap.parse_args()
    runs = opts.runs
    if not opts.no_build:
        build_release()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    work = Path(tempfile.mkdtemp(prefix="palimpsest-bench-report-"))
    try:
        if opts.ledger:
            ledger = Path(opts.ledger)
        else:
            print("importing Anarchism…", file=sys.stderr)
            ledger = fresh_ledger(work, "anarchism")
            sh([BIN, "--ledger", ledger, "import", "mediawiki", ANARCHISM])
        sh([BIN, "--ledger", ledger, "checkpoint"])
        key = sh([BIN, "--ledger", ledger, "checkpoint", "--public-key"]).stdout.strip()

        print("the same history in git…", file=sys.stderr)
        repo = work / "Anarchism.git"
        sh(["git", "init", "-q", "-b", "main", repo])
        subprocess.run(f"python3 '{ROOT}/tools/benchmarks/mediawiki_to_git.py' '{ANARCHISM}' | git -C '{repo}' fast-import --quiet", shell=True, check=True)

        json_path, html_path, year_path = work / "anarchism.json", work / "anarchism.html", work / "2005.json"
        git_log, json_secs, json_rss, html_secs, html_rss, year_secs, year_rss, check_secs, check_rss, shot_secs = ([] for _ in range(10))
        for k in range(runs):
            print(f"run {k + 1} of {runs}…", file=sys.stderr)
            start = time.perf_counter()
            subprocess.run(["git", "-C", repo, "log", "-p", "main"], stdout=subprocess.DEVNULL, check=True)
            git_log.append(time.perf_counter() - start)
            rss, secs, _ = peak_rss_mb([BIN, "--ledger", ledger, "report", "Anarchism", "--out", json_path])
            json_secs.append(secs)
            json_rss.append(rss)
            rss, secs, _ = peak_rss_mb([BIN, "--ledger", ledger, "report", "Anarchism", "--out", html_path])
            html_secs.append(secs)
            html_rss.append(rss)
            rss, secs, _ = peak_rss_mb([BIN, "--ledger", ledger, "report", "Anarchism", "--since", "2005-01-01", "--until", "2005-12-31", "--out", year_path])
            year_secs.append(secs)
            year_rss.append(rss)
            rss, secs, out = tree_peak_rss_mb(["python3", ROOT / "tools" / "verify-report.py", json_path, "--public-key", key])
            if not out.startswith("OK"):
                sys.exit(f"bench: the report did not verify: {out[:500]}")
            check_secs.append(secs)
            check_rss.append(rss)
            if chromium:
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                profile = work / "profile"
                start = time.perf_counter()
                subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
                                "--window-size=1100,1400", f"--screenshot={SCREENSHOT}", f"file://{html_path}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                shot_secs.append(time.perf_counter() - start)
                shutil.rmtree(profile, ignore_errors=True)
        sizes = (json_path.stat().st_size, html_path.stat().st_size, year_path.stat().st_size)
        changes = json.loads(sh([BIN, "--ledger", ledger, "show", "Anarchism", "--json"]).stdout)["version"]
        write_report(opts, runs, changes, Stat(git_log), Stat(json_secs), Stat(json_rss), Stat(html_secs), Stat(html_rss), Stat(year_secs), Stat(year_rss),
                     Stat(check_secs), Stat(check_rss), Stat(shot_secs) if shot_secs else None, sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_report(opts, runs, versions, git_log, json_secs, json_rss, html_secs, html_rss, year_secs, year_rss, check_secs, check_rss, shot, sizes):
    def goal(ok):
        return "met" if ok else "**not met**"
    limit = min(15.0, 5 * git_log.median)
    lines = [
        "<!-- report:begin (written by tools/bench-report; do not edit by hand) -->",
        "## Reports at any size",
        "",
        f"{machine()}; median of {runs} runs (min–max), release build, measured {time.strftime('%Y-%m-%d')}. Whole processes; peak RSS from GNU time (the verifier's sampled every 50 ms, its worker processes summed).",
        "",
        "| what | Palimpsest | measured against, same run | goal |",
        "|---|---|---|---|",
        f"| `report Anarchism` (all {versions:,} versions: every change's diff, every event and its proof, the blame), JSON | {json_secs.fmt(1, ' s')}, peak {json_rss.fmt(0, ' MB')}, {sizes[0] / 1e6:,.0f} MB "
        f"| `git log -p` of the same history: {git_log.fmt(1, ' s')} → {json_secs.median / git_log.median:.1f}× "
        f"| ≤ 15 s and ≤ 5× git log -p ({limit:.1f} s): {goal(json_secs.median <= limit)}; ≤ 300 MB: {goal(json_rss.max <= 300)} |",
        f"| the same report as HTML (summary first, changes folded by year and month) | {html_secs.fmt(1, ' s')}, peak {html_rss.fmt(0, ' MB')}, {sizes[1] / 1e6:,.1f} MB "
        f"| {html_secs.median / git_log.median:.1f}× git log -p | time as above: {goal(html_secs.median <= limit)}; ≤ 300 MB: {goal(html_rss.max <= 300)}; ≤ 20 MB: {goal(sizes[1] <= 20e6)} |",
        f"| a one-year report (`--since 2005-01-01 --until 2005-12-31`), JSON | {year_secs.fmt(1, ' s')}, peak {year_rss.fmt(0, ' MB')}, {sizes[2] / 1e6:,.0f} MB | — | ≤ 3 s: {goal(year_secs.median <= 3)} |",
        f"| `tools/verify-report.py` on the whole-history JSON (Python, standard library, two passes a line at a time; commitments checked in worker processes) | {check_secs.fmt(1, ' s')}, peak {check_rss.fmt(0, ' MB')} (every process summed) | — "
        f"| ≤ 15 s: {goal(check_secs.median <= 15)}; ≤ 500 MB: {goal(check_rss.max <= 500)} |",
    ]
    if shot:
        lines.append(f"| headless Chromium: load the whole-history HTML and shoot its first screen (docs/screenshots/report-summary.png) | {shot.fmt(1, ' s')} | — | ≤ 10 s: {goal(shot.median <= 10)} |")
    lines += [
        "",
        "```",
        "tools/bench-report --runs N      # this section (imports Anarchism first unless --ledger DIR names one)",
        "python3 tools/benchmarks/mediawiki_to_git.py enwiki-Anarchism.xml.lzma | git -C REPO fast-import; git -C REPO log -p main > /dev/null",
        "palimpsest --ledger DIR report Anarchism --out anarchism.json      # and --out anarchism.html",
        "palimpsest --ledger DIR report Anarchism --since 2005-01-01 --until 2005-12-31 --out 2005.json",
        "python3 tools/verify-report.py anarchism.json --public-key KEY",
        "chromium --headless --window-size=1100,1400 --screenshot=docs/screenshots/report-summary.png file://…/anarchism.html",
        "```",
        "<!-- report:end -->",
    ]
    replace_section(Path(opts.out), "report", lines)


if __name__ == "__main__":
    main()
