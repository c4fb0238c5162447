#!/usr/bin/env python3
"""Turn a neutral-format JSON Lines history (DESIGN.md §8) into a `git fast-import` stream: one commit
per event, touching one file named after the document (retract = delete, restore/publish/edit = write).
Used by the benchmarks to build the same history in git, for `git gc --aggressive`, `git log -S`,
`git show` and `git blame` comparisons.

Usage: jsonl_to_git.py EVENTS.jsonl | git -C REPO fast-import --quiet
"""
import json
import sys
from datetime import datetime


def git_time(iso):
    t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"{int(t.timestamp())} +0000"


def main():
    out = sys.stdout.buffer
    mark = 0
    with open(sys.argv[1], "rb") as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            actor = e["actor"].replace("<", "").replace(">", "") or "unknown"
            when = git_time(e["at"])
            message = (e.get("message") or e["type"]).encode()
            path = e["doc"].replace("\n", " ")
            mark += 1
            out.write(b"commit refs/heads/main\n")
            out.write(f"mark :{mark}\n".encode())
            out.write(f"author {actor} <{actor.replace(' ', '.')}@example.invalid> {when}\n".encode())
            out.write(f"committer {actor} <{actor.replace(' ', '.')}@example.invalid> {when}\n".encode())
            out.write(f"data {len(message)}\n".encode() + message + b"\n")
            if e["type"] == "retract":
                out.write(f'D "{path}"\n'.encode())
            else:
                text = e["text"].encode()
                out.write(f'M 100644 inline "{path}"\n'.encode())
                out.write(f"data {len(text)}\n".encode() + text + b"\n")
            out.write(b"\n")


if __name__ == "__main__":
    main()
