#!/usr/bin/env python3
"""A real HTTP server on 127.0.0.1 for the capture tests (standard library only).

  capture-server.py --root DIR [--lifetime SECONDS]

Prints "PORT <n>" once listening on an ephemeral port, then serves until killed or until the
lifetime ends (so that a test that dies never leaves it running). Every request is appended to
DIR/requests.log as "<path> <If-None-Match or ->".

Pages: GET /NAME serves DIR/NAME (or DIR/NAME.html) as text/html; charset=utf-8, with an ETag
and Last-Modified, answering 304 to a matching If-None-Match. DIR/NAME.status, when present,
holds a status to answer instead (404, 410, 451, 500 …). DIR/robots.txt is served when present.
DIR/NAME.type overrides the Content-Type header (empty: none sent).

Hostile paths, for the bad-input tests:
  /redirect/N    N redirects (302) before /redirect/0, which redirects to /communique
  /loop          /loop → /loop-b → /loop
  /big           declares 40 MiB and starts sending it
  /bomb          64 MiB of spaces gzipped to ~64 KiB, Content-Encoding: gzip
  /brotli        /communique's text compressed with brotli, if python has the module (else 404)
  /trickle       one byte every 0.2 s, 100 bytes
  /pdf           application/pdf
  /js-only       a page whose text needs JavaScript
"""
import argparse
import email.utils
import gzip
import hashlib
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            if value is not None:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        with open(os.path.join(self.root, "requests.log"), "a", encoding="utf-8") as log:
            log.write(f"{path} {self.headers.get('If-None-Match') or '-'}\n")
        if path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            return self.send(302, headers={"Location": "/communique" if n == 0 else f"/redirect/{n - 1}"})
        if path == "/loop":
            return self.send(302, headers={"Location": "/loop-b"})
        if path == "/loop-b":
            return self.send(302, headers={"Location": "/loop"})
        if path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(40 << 20))
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b" " * (1 << 20))
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if path == "/bomb":
            body = gzip.compress(b"<html><body><p>" + b" " * (64 << 20) + b"</p></body></html>", compresslevel=9)
            return self.send(200, body, {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"})
        if path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if path == "/pdf":
            return self.send(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", {"Content-Type": "application/pdf"})
        if path == "/js-only":
            body = b"<!doctype html><html><head><title>App</title><script src=/app.js></script></head><body><div id=root></div><script>render()</script></body></html>"
            return self.send(200, body, {"Content-Type": "text/html; charset=utf-8"})

        name = path.lstrip("/") or "index"
        base = os.path.join(self.root, name)
        status_file = base + ".status"
        if os.path.exists(status_file):
            status = int(open(status_file).read().strip())
            return self.send(status, f"<html><body><h1>{status}</h1></body></html>".encode(), {"Content-Type": "text/html"})
        for candidate in (base, base + ".html"):
            if os.path.isfile(candidate):
                body = open(candidate, "rb").read()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                modified = email.utils.formatdate(os.path.getmtime(candidate), usegmt=True)
                if self.headers.get("If-None-Match") == etag:
                    return self.send(304, headers={"ETag": etag})
                content_type = "text/plain" if name == "robots.txt" else "text/html; charset=utf-8"
                if os.path.exists(base + ".type"):
                    content_type = open(base + ".type").read().strip() or None
                headers = {"Content-Type": content_type, "ETag": etag, "Last-Modified": modified}
                if os.path.exists(base + ".gzip"):
                    body = gzip.compress(body)
                    headers["Content-Encoding"] = "gzip"
                return self.send(200, body, headers)
        return self.send(404, b"<html><body>not found</body></html>", {"Content-Type": "text/html"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--lifetime", type=float, default=900)
    args = ap.parse_args()
    # A test runner's threads block signals, and a child inherits the mask: unblock, so that
    # terminating the server works.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    Handler.root = args.root
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
