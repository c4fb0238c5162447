#!/usr/bin/env python3
"""Turn a MediaWiki XML export into a `git fast-import` stream: one commit per revision, the page's
text in a file named after the page, the revision's contributor and timestamp as author. Used by
the importer benchmarks to build the same history in git (for `git gc --aggressive`, `git log -p` and
`palimpsest import git` on a repository of over 10,000 commits).

Usage: mediawiki_to_git.py EXPORT.xml[.xz|.lzma] | git -C REPO fast-import --quiet
"""
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime


def main():
    path = sys.argv[1]
    if path.endswith((".xz", ".lzma")):
        source = subprocess.Popen(["xz", "-dc", path], stdout=subprocess.PIPE).stdout
    else:
        source = open(path, "rb")
    out = sys.stdout.buffer
    title = None
    for _, el in ET.iterparse(source):
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "title":
            title = el.text
        elif tag == "revision":
            ns = el.tag[: -len("revision")]
            contributor = el.find(ns + "contributor")
            name = "unknown"
            if contributor is not None:
                user = contributor.find(ns + "username")
                ip = contributor.find(ns + "ip")
                name = (user.text if user is not None else ip.text if ip is not None else None) or "unknown"
            name = name.replace("<", "").replace(">", "").replace("\n", " ")
            stamp = el.find(ns + "timestamp").text
            when = int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
            comment = el.find(ns + "comment")
            message = ((comment.text if comment is not None else None) or "revision " + el.find(ns + "id").text).encode()
            text = ((el.find(ns + "text").text) or "").encode()
            email = name.replace(" ", ".") + "@example.invalid"
            out.write(b"commit refs/heads/main\n")
            out.write(f"author {name} <{email}> {when} +0000\n".encode())
            out.write(f"committer {name} <{email}> {when} +0000\n".encode())
            out.write(f"data {len(message)}\n".encode() + message + b"\n")
            out.write(f'M 100644 inline "{title}.wiki"\n'.encode())
            out.write(f"data {len(text)}\n".encode() + text + b"\n\n")
            el.clear()


if __name__ == "__main__":
    main()
