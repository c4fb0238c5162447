#!/usr/bin/env python3
"""The ledger foundation's benchmarks (issue: Ledger foundation), run side by side with the raw-LMDB
ceiling (../shared/tools/lmdb-limit/run.sh) and git, in one run, on this machine.

Writes BENCHMARKS.md (the section between the ledger-foundation markers) with medians, min and max of
--runs repetitions, the ratios against the ceiling or peer measured in the same run, the machine, the
versions and the commands. Standard library only. Usage: tools/bench-ledger [--runs N] [--quick]
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PALIMPSEST_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "corpora" / "site-policy" / "events.jsonl.xz"
LIMIT = SHARED / "tools" / "lmdb-limit" / "run.sh"
BIN = ROOT / ".build" / "release" / "palimpsest"
BENCH = ROOT / ".build" / "release" / "PalimpsestBench"
MOST_EDITED = "Policies/github-privacy-statement.md"


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def peak_rss_mb(args, stdin_path=None, discard_output=False):
    """Peak RSS (through GNU /usr/bin/time) and wall seconds (this process's clock: /usr/bin/time
    rounds to 10 ms) of one run of a command. With discard_output, standard output goes to
    /dev/null (returned as ""): reading 169 MB of `blame --json` through a pipe into Python takes
    longer than writing it."""
    with open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb") as stdin:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + [str(a) for a in args], stdin=stdin,
                           stdout=subprocess.DEVNULL if discard_output else subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        secs = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"bench: {args} failed: {p.stderr[-500:]}")
    kb = p.stderr.strip().splitlines()[-1]
    return int(kb) / 1024, secs, p.stdout or ""


def results(text, mode):
    """Parses lmdb-limit-style 'RESULT mode=… k=v' lines."""
    rows = []
    for line in text.splitlines():
        if line.startswith("RESULT ") and f"mode={mode}" in line:
            rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
    return rows


class Stat:
    def __init__(self, values):
        self.values = sorted(values)
        self.median = statistics.median(self.values)
        self.min = self.values[0]
        self.max = self.values[-1]

    def fmt(self, digits=0, unit=""):
        f = f"{{:,.{digits}f}}"
        return f"{f.format(self.median)}{unit} ({f.format(self.min)}–{f.format(self.max)})"


def build_release():
    """The release builds of the CLI and of PalimpsestBench, which every benchmark runs."""
    for product in ("palimpsest", "PalimpsestBench"):
        subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def timed(args, **kw):
    """Wall seconds and stdout of one run of a command; stops the benchmark if it fails."""
    start = time.perf_counter()
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"bench: {args} failed: {p.stderr[-500:]}")
    return time.perf_counter() - start, p.stdout


def fresh_ledger(work, name):
    path = Path(work) / name
    shutil.rmtree(path, ignore_errors=True)
    sh([BIN, "--ledger", path, "init"])
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="skip the 40x concatenation")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    opts = ap.parse_args()
    runs = opts.runs
    if not CORPUS.exists():
        sys.exit(f"bench: the corpus is missing: {CORPUS}")

    print("building release binaries…", file=sys.stderr)
    build_release()

    work = tempfile.mkdtemp(prefix="palimpsest-bench-")
    try:
        corpus = Path(work) / "site-policy.jsonl"
        with open(corpus, "wb") as f:
            subprocess.run(["xz", "-dc", CORPUS], stdout=f, check=True)
        lines = corpus.read_text(encoding="utf-8").splitlines()
        text_bytes = sum(len(json.loads(l).get("text", "").encode()) for l in lines)

        # 1. The raw-LMDB ceiling, every repetition (the machine drifts: compare within a run).
        print("raw LMDB ceiling…", file=sys.stderr)
        raw = {"commit1": [], "commit100": [], "bulk20k_MBps": [], "get_ns": [], "scan_MBps": []}
        for _ in range(runs):
            out = sh(["bash", LIMIT, str(Path(work) / "limit")]).stdout
            for r in results(out, "append"):
                if r["batch"] == "1":
                    raw["commit1"].append(float(r["ev_per_s"]))
                elif r["batch"] == "100":
                    raw["commit100"].append(float(r["ev_per_s"]))
                elif r["vsz"] == "20480":
                    raw["bulk20k_MBps"].append(float(r["MBps"]))
            raw["get_ns"] += [float(r["ns_per_get"]) for r in results(out, "get")]
            raw["scan_MBps"] += [float(r["MBps"]) for r in results(out, "scan")]

        # 2. Durable appends through the library.
        print("library appends…", file=sys.stderr)
        lib1, lib100 = [], []
        for _ in range(runs):
            d = Path(work) / "append"
            shutil.rmtree(d, ignore_errors=True)
            lib1.append(float(results(sh([BENCH, "append", d, "3000", "1"]).stdout, "append")[0]["ev_per_s"]))
            shutil.rmtree(d, ignore_errors=True)
            lib100.append(float(results(sh([BENCH, "append", d, "50000", "100"]).stdout, "append")[0]["ev_per_s"]))

        # 3. import jsonl of site-policy through the CLI: wall time (whole process), MB/s of text, RSS.
        print("import jsonl…", file=sys.stderr)
        imp_secs, imp_rss, imp_inner = [], [], []
        for _ in range(runs):
            ledger = fresh_ledger(work, "sp.ledger")
            rss, secs, out = peak_rss_mb([BIN, "--ledger", ledger, "import", "jsonl", corpus, "--json"])
            imp_secs.append(secs)
            imp_rss.append(rss)
            imp_inner.append(json.loads(out)["seconds"])
        sp_ledger = fresh_ledger(work, "sp.ledger")
        sh([BIN, "--ledger", sp_ledger, "import", "jsonl", corpus])
        ledger_bytes = (sp_ledger / "data.mdb").stat().st_size

        # git fast-import of the same history, and git gc --aggressive: the storage peer.
        print("git fast-import and gc --aggressive…", file=sys.stderr)
        git_secs, git_pack = [], None
        stream = Path(work) / "site-policy.fi"
        with open(stream, "wb") as f:
            subprocess.run([sys.executable, ROOT / "tools" / "benchmarks" / "jsonl_to_git.py", corpus], stdout=f, check=True)
        for n in range(runs):
            repo = Path(work) / "git-sp"
            shutil.rmtree(repo, ignore_errors=True)
            sh(["git", "init", "-q", repo])
            with open(stream, "rb") as f:
                start = time.perf_counter()
                subprocess.run(["git", "-C", repo, "fast-import", "--quiet"], stdin=f, check=True)
                git_secs.append(time.perf_counter() - start)
        sh(["git", "-C", repo, "gc", "--aggressive", "--quiet"])
        git_pack = sum(p.stat().st_size for p in (repo / ".git" / "objects" / "pack").glob("*.pack"))

        # 4. Linear growth: the same file concatenated under renamed documents.
        scale_rows = []
        if not opts.quick:
            print("concatenated imports (1x, 10x, 40x)…", file=sys.stderr)
            for copies in (1, 10, 40):
                big = Path(work) / f"x{copies}.jsonl"
                with open(big, "w", encoding="utf-8") as f:
                    for k in range(copies):
                        for l in lines:
                            e = json.loads(l)
                            e["doc"] = f"copy-{k}/{e['doc']}"
                            f.write(json.dumps(e, ensure_ascii=False) + "\n")
                size = big.stat().st_size
                secs_list, rss_list = [], []
                for _ in range(runs if copies < 40 else max(3, runs // 2)):
                    ledger = fresh_ledger(work, "big.ledger")
                    rss, secs, _ = peak_rss_mb([BIN, "--ledger", ledger, "import", "jsonl", big])
                    secs_list.append(secs)
                    rss_list.append(rss)
                scale_rows.append((copies, size, Stat(secs_list), Stat(rss_list), (ledger / "data.mdb").stat().st_size))
                big.unlink()
                shutil.rmtree(Path(work) / "big.ledger", ignore_errors=True)

        # 5. Text of a version: the library (random versions of the most edited document) and the CLI.
        print("show…", file=sys.stderr)
        show_p50, show_p99 = [], []
        for _ in range(runs):
            r = results(sh([BENCH, "show", sp_ledger, MOST_EDITED, "2000"]).stdout, "show")[0]
            show_p50.append(float(r["p50_us"]))
            show_p99.append(float(r["p99_us"]))
        versions = int(r["doc_versions"])
        cli_show = []
        for n in range(max(20, runs)):
            start = time.perf_counter()
            subprocess.run([BIN, "--ledger", sp_ledger, "show", MOST_EDITED, "--version", str(n % versions + 1)], check=True, stdout=subprocess.DEVNULL)
            cli_show.append((time.perf_counter() - start) * 1000)
        git_show = []
        for n in range(max(20, runs)):
            start = time.perf_counter()
            subprocess.run(["git", "-C", repo, "show", f"main~{n}:{MOST_EDITED}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            git_show.append((time.perf_counter() - start) * 1000)

        write_report(opts, runs, raw, lib1, lib100, imp_secs, imp_inner, imp_rss, text_bytes, len(lines), ledger_bytes,
                     git_secs, git_pack, scale_rows, show_p50, show_p99, versions, cli_show, git_show)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def machine():
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    disk = sh(["df", "-h", str(ROOT)]).stdout.splitlines()[-1].split()
    cpu = ""
    try:
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    swift = sh(["swift", "--version"]).stdout.splitlines()[0] if shutil.which("swift") else "?"
    git = sh(["git", "--version"]).stdout.strip()
    lmdb = "?"
    try:
        lmdb = sh(["pkg-config", "--modversion", "lmdb"]).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {mem} memory, disk {disk[0]} ({disk[1]}, {disk[3]} free), "
            f"{platform.system()} {platform.release()}; {swift}; LMDB {lmdb}; {git}")


def write_report(opts, runs, raw, lib1, lib100, imp_secs, imp_inner, imp_rss, text_bytes, events, ledger_bytes,
                 git_secs, git_pack, scale_rows, show_p50, show_p99, versions, cli_show, git_show):
    raw1, raw100 = Stat(raw["commit1"]), Stat(raw["commit100"])
    l1, l100 = Stat(lib1), Stat(lib100)
    mb = text_bytes / 1e6
    imp = Stat([mb / s for s in imp_secs])
    inner = Stat([mb / s for s in imp_inner])
    gfi = Stat([mb / s for s in git_secs])
    rawbulk = Stat(raw["bulk20k_MBps"])
    p50, p99 = Stat(show_p50), Stat(show_p99)
    cli, gshow = Stat(cli_show), Stat(git_show)
    get_ns = Stat(raw["get_ns"])
    lines = [
        "<!-- ledger-foundation:begin (generated by tools/bench-ledger; do not edit by hand) -->",
        "## Ledger foundation",
        "",
        f"Generated by `tools/bench-ledger --runs {runs}{' --quick' if opts.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Every figure is the median of {runs} runs "
        "(min–max in brackets) unless said otherwise; ratios compare medians measured in the same run.",
        "",
        f"Machine: {machine()}.",
        "",
        "| what | Palimpsest | measured against, same run | ratio |",
        "|---|---|---|---|",
        f"| durable append, 1 event per transaction (library) | {l1.fmt()} events/s | raw LMDB commit per 200-byte event: {raw1.fmt()} events/s | **{l1.median / raw1.median:.0%}** of raw (target ≥ 50%) |",
        f"| durable append, 100 events per transaction (library) | {l100.fmt()} events/s | raw LMDB, 100 per commit: {raw100.fmt()} events/s | {l100.median / raw100.median:.0%} of raw |",
        f"| `import jsonl` site-policy ({events:,} events, {mb:.1f} MB of text), whole CLI process | {imp.fmt(1)} MB/s of text | raw LMDB 20 KB bodies, 1,000 per commit: {rawbulk.fmt(1)} MB/s; `git fast-import` of the same history: {gfi.fmt(1)} MB/s | {imp.median / rawbulk.median:.0%} of raw LMDB; {imp.median / gfi.median:.2f}× git fast-import |",
        f"| the same, the importer alone (its own clock: from the first byte read to the last commit, without process start) | {inner.fmt(1)} MB/s of text | | {inner.median / rawbulk.median:.0%} of raw LMDB; target ≥ 100 MB/s |",
        f"| peak memory of that import | {Stat(imp_rss).fmt(0)} MB RSS | | |",
        f"| `show` a random version of `{MOST_EDITED}` ({versions} versions), library | p50 {p50.fmt(0)} µs, p99 {p99.fmt(0)} µs | raw LMDB random point get: {get_ns.fmt(0)} ns | target p50 < 2 ms |",
        f"| the same through the CLI (a whole process per call, {len(cli_show)} calls) | p50 {cli.fmt(1)} ms | `git show REV:path` in the same history: p50 {gshow.fmt(1)} ms | {cli.median / gshow.median:.2f}× git |",
        f"| ledger size after the import (`data.mdb`) | {ledger_bytes / 1e6:.2f} MB | sum of the texts: {mb:.1f} MB; `git gc --aggressive` pack: {git_pack / 1e6:.2f} MB | **{ledger_bytes / git_pack:.2f}×** git (target ≤ 2×); {ledger_bytes / text_bytes:.1%} of the texts |",
        "",
    ]
    if scale_rows:
        base = scale_rows[0]
        lines += [
            "Growth: the site-policy file concatenated under renamed documents (`copy-K/…`), imported into a new ledger "
            "(texts repeat, so storage deduplicates them; parsing, hashing, indexing and every event's checks do not).",
            "",
            "| copies | input | import time | time per copy | peak RSS | ledger |",
            "|---|---|---|---|---|---|",
        ]
        for copies, size, secs, rss, lb in scale_rows:
            lines.append(f"| {copies} | {size / 1e6:,.0f} MB | {secs.fmt(2)} s | {secs.median / copies:.2f} s ({secs.median / copies / base[2].median:.2f}× the 1-copy time) | {rss.fmt(0)} MB | {lb / 1e6:.1f} MB |")
        lines.append("")
    lines += [
        "Commands (what `tools/bench-ledger` runs):",
        "",
        "```",
        "bash ../shared/tools/lmdb-limit/run.sh WORK            # the raw-LMDB ceiling, every repetition",
        ".build/release/PalimpsestBench append DIR 3000 1       # durable appends, 1 per transaction",
        ".build/release/PalimpsestBench append DIR 50000 100    # 100 per transaction",
        "palimpsest --ledger DIR import jsonl site-policy.jsonl  # under /usr/bin/time for RSS",
        "python3 tools/benchmarks/jsonl_to_git.py site-policy.jsonl | git fast-import; git gc --aggressive",
        f".build/release/PalimpsestBench show DIR {MOST_EDITED} 2000",
        "palimpsest --ledger DIR show DOC --version N            # whole process; and git show main~N:DOC",
        "```",
        "<!-- ledger-foundation:end -->",
    ]
    replace_section(Path(opts.out), "ledger-foundation", lines)


def replace_section(out, marker, lines):
    """Writes `lines` as the section of `out` between `<!-- marker:begin` and `<!-- marker:end -->`
    (appended when there is none), leaving the rest of the file as it is."""
    section = "\n".join(lines) + "\n"
    text = out.read_text(encoding="utf-8") if out.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"<!-- {marker}:begin.*?<!-- {marker}:end -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    out.write_text(text, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
