#!/usr/bin/env python3
"""`palimpsest serve` under load (issue: serve), beside nginx as the ceiling in the same run.

- a version page (/documents/Anarchism/versions/N) and its API form (/api/v1/documents/Anarchism/
  versions/N), both cached by the server after the first request, under wrk: 2 threads, 64
  connections, DURATION seconds each; nginx serving the same page's bytes as a static file;
- the blame page of the last revision (and of NTH other revisions, so that every request renders):
  curl's time_total, median;
- the API under the same load while another process imports NEW events into the same ledger: wrk's
  count of non-2xx/3xx responses and socket errors.

Rewrites the section of BENCHMARKS.md between the serve markers.
Usage: tools/bench-serve [--ledger DIR] [--duration S]
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger_bench import ROOT, SHARED, machine, replace_section  # noqa: E402

CLI = ROOT / ".build" / "release" / "palimpsest"
ANARCHISM = SHARED / "corpora" / "wikipedia" / "enwiki-Anarchism.xml.lzma"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if subprocess.run(["curl", "-s", "-o", "/dev/null", url]).returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def wrk(url, duration):
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{duration}s", "--latency", url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": sum(map(int, errors.groups())) if errors else 0, "raw": out}


def curl_seconds(url):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url], check=True, capture_output=True, text=True).stdout
    code, secs = out.split()
    if code != "200":
        raise SystemExit(f"{url} answered {code}")
    return float(secs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ledger", help="an Anarchism ledger to use (default: imported here)")
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--blame-samples", type=int, default=9)
    ap.add_argument("--new-events", type=int, default=3000)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    opts = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="palimpsest-serve-bench-"))
    work.chmod(0o755)  # nginx's workers run as another user and must read the static file
    procs = []
    try:
        ledger = work / "ledger"
        if opts.ledger:
            shutil.copytree(opts.ledger, ledger)
        else:
            subprocess.run([CLI, "--ledger", ledger, "init"], check=True, capture_output=True)
            print("importing Anarchism…", file=sys.stderr)
            subprocess.run([CLI, "--ledger", ledger, "import", "mediawiki", ANARCHISM], check=True, capture_output=True)
        subprocess.run([CLI, "--ledger", ledger, "checkpoint"], check=True, capture_output=True)
        versions = int(re.search(r"(\d+) events", subprocess.run([CLI, "--ledger", ledger, "docs"], check=True, capture_output=True, text=True).stdout).group(1))
        port = free_port()
        server = subprocess.Popen([CLI, "--ledger", ledger, "serve", "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
        procs.append(server)
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/")
        page = f"/documents/Anarchism/versions/{versions - 180}"
        api = f"/api/v1/documents/Anarchism/versions/{versions - 180}"

        # nginx: the same bytes as a static file.
        static = work / "static"
        static.mkdir()
        body = subprocess.run(["curl", "-s", base + page], check=True, capture_output=True).stdout
        (static / "page.html").write_bytes(body)
        static.chmod(0o755)
        (static / "page.html").chmod(0o644)
        nginx_port = free_port()
        conf = work / "nginx.conf"
        conf.write_text(f"""worker_processes 2; pid {work}/nginx.pid; error_log {work}/nginx-error.log; daemon off;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; keepalive_requests 100000;
  client_body_temp_path {work}/nb; proxy_temp_path {work}/np; fastcgi_temp_path {work}/nf; uwsgi_temp_path {work}/nu; scgi_temp_path {work}/ns;
  server {{ listen 127.0.0.1:{nginx_port}; root {static}; location / {{ default_type text/html; }} }} }}
""")
        nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)], stderr=subprocess.DEVNULL)
        procs.append(nginx)
        wait_for(f"http://127.0.0.1:{nginx_port}/page.html")

        results = {}
        for name, url in [("version page", base + page), ("version (API)", base + api), ("nginx, same bytes (static file)", f"http://127.0.0.1:{nginx_port}/page.html")]:
            curl_seconds(url)  # warm the cache
            results[name] = wrk(url, opts.duration)
            print(name, results[name]["rps"], file=sys.stderr)

        blame_latest = [curl_seconds(base + f"/documents/Anarchism/blame?version={versions}&n={k}") for k in range(1)]
        blame = [curl_seconds(base + f"/documents/Anarchism/blame?version={versions - 1 - k}") for k in range(opts.blame_samples)]
        history = curl_seconds(base + "/documents/Anarchism")
        diff = curl_seconds(base + f"/documents/Anarchism/diff?from=1&to={versions}&view=side")

        # Load while another process imports into the same ledger.
        lines = work / "new.jsonl"
        with open(lines, "w") as f:
            f.write('{"type":"publish","doc":"bench/new","actor":"bench","at":"2024-01-01T00:00:00Z","text":"v0"}\n')
            for k in range(1, opts.new_events):
                f.write(f'{{"type":"edit","doc":"bench/new","actor":"bench","at":"2024-01-01T00:00:00Z","text":"version {k} of a text"}}\n')
        importer = subprocess.Popen([CLI, "--ledger", ledger, "import", "jsonl", lines], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        during = wrk(base + api, opts.duration)
        importer_rc = importer.wait()
        appended = subprocess.run(["curl", "-s", base + "/api/v1/documents/bench%2Fnew"], capture_output=True, text=True).stdout
        seen = re.search(r'"version":(\d+)', appended)
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)

    ceiling = results["nginx, same bytes (static file)"]["rps"]
    rows = [f"| {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps'] / ceiling:.2f}× | {r['non2xx'] + r['errors']} |" for name, r in results.items()]
    lines = [
        "<!-- serve:begin (generated by tools/bench-serve; do not edit by hand) -->",
        "## Serving (`palimpsest serve`)",
        "",
        f"Generated by `tools/bench-serve --duration {opts.duration}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: the Anarchism history "
        f"({versions:,} versions), `wrk -t2 -c64 -d{opts.duration}s --latency` against the server on 127.0.0.1, and nginx serving the version page's "
        f"bytes ({len(body):,} bytes) as a static file in the same run (the ceiling). wrk, the server and nginx share the machine's 2 cores.",
        "",
        f"Machine: {machine()}.",
        "",
        "| resource | requests/s (goal ≥ 5,000) | p50 ms | p99 ms (goal < 50) | of nginx | errors |",
        "|---|---|---|---|---|---|",
    ] + rows + [
        "",
        f"- Blame page of the Anarchism history, rendered (not cached): median {statistics.median(blame) * 1000:.0f} ms over {len(blame)} revisions "
        f"(min {min(blame) * 1000:.0f}, max {max(blame) * 1000:.0f}); the last revision's, first request: {blame_latest[0] * 1000:.0f} ms (goal < 300 ms).",
        f"- History page (timeline of {versions:,} versions, first request): {history * 1000:.0f} ms; side-by-side diff of the first and last revisions: {diff * 1000:.0f} ms.",
        f"- While `import jsonl` appended {opts.new_events:,} events from another process (exit {importer_rc}; the server then showed version "
        f"{seen.group(1) if seen else '?'} of the new document), the API version under the same load: {during['rps']:,.0f} requests/s, "
        f"p99 {during['p99']:.2f} ms, **{during['non2xx']} non-2xx responses and {during['errors']} socket errors**.",
        "",
        "<!-- serve:end -->",
    ]
    replace_section(Path(opts.out), "serve", lines)


if __name__ == "__main__":
    main()
