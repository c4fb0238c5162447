#!/usr/bin/env python3
"""Checks a Palimpsest JSON audit report offline, without the ledger and without Palimpsest.

    python3 tools/verify-report.py REPORT.json --public-key HEX_OR_FILE

Python 3 standard library only. It checks, and names every failure it finds:
  * the report's signature and the checkpoint's signature (Ed25519, RFC 8032) by the public key
    you give (get it from the ledger's owner: `palimpsest checkpoint --public-key`);
  * every cited event: its hash is the SHA-256 of its RFC 8785 canonical JSON without `hash`, its
    inclusion proof (RFC 9162) leads to the checkpoint's Merkle root, and cited neighbours chain
    (an event's previousHash is the hash of the position before it);
  * every quoted text against the contentHash its event records — its SHA-256 (ledgers written
    before salted commitments), or the salted Merkle root over its segments (`textSalts`), or for a
    redacted text the readable rest with its proof (`textProofs`: the withheld segments' leaf
    hashes), whose redaction event must be cited and list exactly the segments withheld — and
    every quoted diff: applied to the text before, it gives exactly the text the event records;
  * the report's claims: each change follows the version before it (the versions between are
    cited), a document report cites versions 1..N without a gap, phrase counts before and after
    each change are what the texts contain (a withdrawal counts as emptying the text), the blamed
    text is the text of that version.
What it cannot check: that a document report's last cited version is the document's last (the
ledger may have more after the checkpoint), and who wrote each blamed word (that is the ledger's
computation; the verifier checks only that the runs rebuild the text and cite that document).

Exit status: 0 when everything checks, 1 when anything fails, 2 for unusable input.
"""

import argparse
import hashlib
import json
import os
import re
import sys
import unicodedata

# ---------------------------------------------------------------- RFC 8785 canonical JSON


def canonical(value):
    """RFC 8785 for the values reports hold: objects, arrays, strings, integers, booleans, null."""
    out = []
    _canonical(value, out)
    return "".join(out).encode("utf-8")


def _canonical(value, out):
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinities have no JSON form")
        if value.is_integer() and abs(value) < 2**53:
            out.append(str(int(value)))
        else:
            out.append(repr(value))  # reports hold no fractions; this keeps the check honest if one appears
    elif isinstance(value, str):
        _string(value, out)
    elif isinstance(value, list):
        out.append("[")
        for k, item in enumerate(value):
            if k:
                out.append(",")
            _canonical(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        # Keys sorted by their UTF-16 code units (RFC 8785 §3.2.3).
        for k, key in enumerate(sorted(value, key=lambda s: s.encode("utf-16-be"))):
            if k:
                out.append(",")
            _string(key, out)
            out.append(":")
            _canonical(value[key], out)
        out.append("}")
    else:
        raise ValueError("unexpected JSON value %r" % (value,))


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _string(s, out):
    out.append('"')
    for ch in s:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- text commitments (README, "Redaction")


_LINE_SEGMENTS = {}


def text_segments(data):
    """A segment ends after a line feed, and after . ! or ? followed by a space (which begins the
    next segment); the empty text is one empty segment. Cut line by line with bytes.split, in C, and
    each line's cut remembered: successive versions of a text share most of their lines, and walking
    every byte of every version was most of the time on a long history."""
    segments = []
    lines = data.split(b"\n")
    last = len(lines) - 1
    cache = _LINE_SEGMENTS
    if len(cache) > 200000:
        cache.clear()
    for n, line in enumerate(lines):
        if n < last:
            line += b"\n"
        pieces = cache.get(line)
        if pieces is None:
            pieces = cache[line] = line_segments(line)
        segments.extend(pieces)
    return segments or [b""]


def line_segments(line):
    """The segments of one line (its line feed, if any, at its end)."""
    pieces = [line]
    for mark, end in ((b". ", b"."), (b"! ", b"!"), (b"? ", b"?")):
        if mark not in line:
            continue
        cut = []
        for piece in pieces:
            parts = piece.split(mark)
            if len(parts) == 1:
                cut.append(piece)
                continue
            # "a. b. c" -> "a.", " b.", " c": the mark's space begins the next segment.
            cut.append(parts[0] + end)
            cut.extend(b" " + part + end for part in parts[1:-1])
            cut.append(b" " + parts[-1])
        pieces = cut
    return [piece for piece in pieces if piece]


def tree_root(leaves):
    """RFC 6962 Merkle tree hash of a non-empty list of 32-byte hashes (pairs from the left; an odd
    last node rises as it is, which gives RFC 6962's split at the largest power of two)."""
    sha = hashlib.sha256
    while len(leaves) > 1:
        pairs = iter(leaves)
        leaves = [sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs)] + ([leaves[-1]] if len(leaves) % 2 else [])
    return leaves[0]


def salted_commitment(text, salt_hex):
    return salted_commitment_of_bytes(text.encode("utf-8"), bytes.fromhex(salt_hex)).hex()


def salted_commitment_of_bytes(data, salt):
    sha = hashlib.sha256
    segments = text_segments(data)
    # Segments 2k and 2k+1 take the first and last 16 bytes of SHA-256(salt ‖ k).
    salts = [half for k in range((len(segments) + 1) // 2) for digest in (sha(salt + k.to_bytes(4, "big")).digest(),) for half in (digest[:16], digest[16:])]
    return tree_root([sha(b"\x00" + s + segment).digest() for s, segment in zip(salts, segments)])


def commitments_hold(batch):
    """For a worker process: whether each (text bytes, salt, contentHash) holds."""
    return [salted_commitment_of_bytes(data, salt).hex() == digest for data, salt, digest in batch]


class CommitmentPool:
    """The salted commitments of a long report's texts, checked by worker processes while this one
    reads and applies the diffs (hashing every segment of every version is most of the work: 20 M
    SHA-256 for Anarchism's 15,180 versions). Results are taken in order, a few batches behind."""

    BATCH = 32

    def __init__(self, workers):
        import concurrent.futures
        self.executor = concurrent.futures.ProcessPoolExecutor(max_workers=workers)
        self.ahead = 2 * workers
        self.batch, self.wheres, self.pending = [], [], []

    def check(self, data, salt_hex, digest, where, failed):
        self.batch.append((data, bytes.fromhex(salt_hex), digest))
        self.wheres.append((where, failed))
        if len(self.batch) >= self.BATCH:
            self.submit()

    def submit(self):
        if self.batch:
            try:
                future = self.executor.submit(commitments_hold, self.batch)
            except Exception:
                future = None  # the pool is broken: checked here when taken
            self.pending.append((future, self.batch, self.wheres))
            self.batch, self.wheres = [], []
        while len(self.pending) > self.ahead:
            self.take()

    def take(self):
        future, batch, wheres = self.pending.pop(0)
        try:
            results = future.result() if future is not None else commitments_hold(batch)
        except Exception:
            # A worker that died (killed for memory, say) leaves its batch to be checked here.
            results = commitments_hold(batch)
        for ok, (where, failed) in zip(results, wheres):
            if not ok:
                failed(where)

    def finish(self):
        self.submit()
        while self.pending:
            self.take()
        self.executor.shutdown(wait=True, cancel_futures=True)


def proven_commitment(text, parts):
    """The commitment a partly redacted text's readable rest and proof give, or None."""
    data, at, leaves = text.encode("utf-8"), 0, []
    for part in parts:
        if "kept" in part:
            n = part["kept"]
            if not isinstance(n, int) or n < 0 or at + n > len(data):
                return None
            leaves.append(hashlib.sha256(b"\x00" + bytes.fromhex(part["salt"]) + data[at:at + n]).digest())
        else:
            n = part.get("marker")
            if not isinstance(n, int) or n < 0 or at + n > len(data):
                return None
            leaves.append(bytes.fromhex(part["withheld"]))
        at += n
    return tree_root(leaves).hex() if leaves and at == len(data) else None


# ---------------------------------------------------------------- RFC 9162 Merkle proofs


def leaf_hash(event_hash_hex):
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash_hex)).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# ---------------------------------------------------------------- Ed25519 verification (RFC 8032 §5.1.7)

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decode_point(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def _add(p, q):
    """Addition in extended coordinates on -x² + y² = 1 + d·x²·y² (complete: also doubles)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(k, p):
    result = (0, 1, 1, 0)
    while k:
        if k & 1:
            result = _add(result, p)
        p = _add(p, p)
        k >>= 1
    return result


def _same_point(p, q):
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


_BASE_Y = 4 * pow(5, _P - 2, _P) % _P
_BASE = (_recover_x(_BASE_Y, 0), _BASE_Y, 1, _recover_x(_BASE_Y, 0) * _BASE_Y % _P)


def ed25519_verify(public_key, message, signature):
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decode_point(public_key)
    r = _decode_point(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    # Cofactored check, as RFC 8032 asks: [8][S]B = [8]R + [8][k]A.
    left = _multiply(8, _multiply(s, _BASE))
    right = _multiply(8, _add(r, _multiply(k, a)))
    return _same_point(left, right)


# ---------------------------------------------------------------- phrases (DESIGN.md §6)


def _characters(text):
    """Code points grouped roughly as Swift groups Characters: combining marks, variation selectors
    and zero-width joiner sequences stay with their base; CR LF is one character."""
    chars = []
    i = 0
    while i < len(text):
        j = i + 1
        if text[i] == "\r" and j < len(text) and text[j] == "\n":
            j += 1
        else:
            while j < len(text):
                c = text[j]
                if unicodedata.category(c) in ("Mn", "Mc", "Me") or c == "\u200d" or "\ufe00" <= c <= "\ufe0f":
                    j += 2 if c == "\u200d" and j + 1 < len(text) else 1
                else:
                    break
        chars.append(text[i:j])
        i = j
    return chars


def _kind(ch):
    c = ch[0]
    if len(ch) == 1 and ord(c) < 128 or ch == "\r\n":
        if c.isascii() and c.isalnum():
            return "word"
        return "space" if c in "\t\n\x0b\x0c\r " else "punct"
    if c.isspace():
        return "space"
    category = unicodedata.category(c)
    if category[0] in "LN" or category == "Mn":
        return "word"
    return "punct"


def words(text):
    """The non-whitespace tokens: words (letters, digits, marks; ' ’ - between letters stay inside),
    and single punctuation or symbol characters."""
    result, current, kind = [], [], None
    chars = _characters(text)
    for k, ch in enumerate(chars):
        this = _kind(ch)
        if this == "punct" and kind == "word" and ch in ("'", "\u2019", "-") and k + 1 < len(chars) and _kind(chars[k + 1]) == "word":
            this = "word"
        if this != kind or this == "punct":
            if current and kind != "space":
                result.append("".join(current))
            current, kind = [], this
        current.append(ch)
    if current and kind != "space":
        result.append("".join(current))
    return result


def count_phrase(phrase, text, ignore_case):
    fold = (lambda s: s.lower()) if ignore_case else (lambda s: s)
    needle = [fold(w) for w in words(phrase)]
    hay = [fold(w) for w in words(text)]
    n, i, count = len(needle), 0, 0
    while n and i <= len(hay) - n:
        if hay[i:i + n] == needle:
            count += 1
            i += n
        else:
            i += 1
    return count


# ---------------------------------------------------------------- the report

SIGNING_PREFIX_V2 = b"palimpsest-report-v2\n"


class Verifier:
    """Checks a report one element at a time: its events as they are read, then its changes in
    order, keeping only the latest text of each document (and the texts the report quotes)."""

    def __init__(self, public_key, trusted, progress=None):
        self.key = public_key
        self.trusted = trusted
        self.progress = progress
        self.problems = []
        self.notes = []
        self.events = {}
        self.by_version = {}
        self.quoted = {}
        self.current = {}  # document -> (contentHash, text): the latest text each document's changes built
        self.changed_counts = {}  # position -> (count before, count after), for phrase reports
        self.shown = set()
        self.root, self.size = b"", 0
        self.header = {}
        self.findings = []
        self.blame = None
        self.pool = None  # a CommitmentPool for long reports

    def fail(self, message):
        self.problems.append(message)

    # ------------------------------------------------------------ header and signatures

    def check_header(self):
        h = self.header
        version = h.get("schemaVersion")
        if version not in (1, 2):
            self.fail("the report's schemaVersion is %r; this verifier reads 1 and 2" % version)
            return False
        if h.get("publicKey") != self.key.hex():
            self.fail("the report names the key %s, not the key you gave" % h.get("publicKey"))
        if (h.get("checkpoint") or {}).get("ledgerId") != h.get("ledgerId"):
            self.fail("the checkpoint names ledger %s, the report %s" % ((h.get("checkpoint") or {}).get("ledgerId"), h.get("ledgerId")))
        return True

    def check_signature(self, message):
        try:
            signature = bytes.fromhex(self.header.get("signature", ""))
        except (TypeError, ValueError):
            signature = b""
        if not ed25519_verify(self.key, message, signature):
            self.fail("the report's signature does not verify with the key: the report was changed after it was signed, or signed by another key")

    def check_checkpoint(self, c):
        body = {k: c.get(k) for k in ("ledgerId", "rootHash", "time", "treeSize")}
        try:
            signature = bytes.fromhex(c.get("signature", ""))
        except (TypeError, ValueError):
            signature = b""
        if not ed25519_verify(self.key, canonical(body), signature):
            self.fail("checkpoint %s's signature does not verify with the key" % c.get("number"))
        try:
            return bytes.fromhex(c.get("rootHash", "")), int(c.get("treeSize"))
        except (TypeError, ValueError):
            self.fail("the checkpoint has no valid rootHash and treeSize")
            return b"", 0

    # ------------------------------------------------------------ events

    def check_event(self, entry):
        event = entry.get("event", {})
        position = event.get("position")
        where = "the event at position %s" % position
        if position in self.events:
            self.fail("%s is cited twice" % where)
        self.events[position] = event
        claimed = event.get("hash")
        recomputed = sha256_hex(canonical({k: v for k, v in event.items() if k != "hash"}))
        if recomputed != claimed:
            self.fail("%s (%r version %s): its hash does not match its content (recomputed %s)" % (where, event.get("document"), event.get("version"), recomputed))
        proof = entry.get("proof") or {}
        try:
            path = [bytes.fromhex(h) for h in proof.get("path", [])]
            ok = proof.get("leafIndex") == position - 1 and proof.get("treeSize") == self.size and verify_inclusion(leaf_hash(claimed), position - 1, self.size, path, self.root)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            self.fail("%s: its inclusion proof does not lead to the checkpoint's Merkle root" % where)

    def events_done(self):
        for position, event in self.events.items():
            before = self.events.get(position - 1) if isinstance(position, int) else None
            if before is not None and event.get("previousHash") != before.get("hash"):
                self.fail("the event at position %s does not chain to the event at position %s" % (position, position - 1))
        # A redaction names the document's version at the time; it is not a version of its own.
        self.by_version = {(e.get("document"), e.get("version")): e for e in self.events.values() if e.get("type") != "redacted"}

    # ------------------------------------------------------------ texts

    def text_matches(self, digest, text, where):
        """Whether `text` is the text the contentHash `digest` commits to: its SHA-256 (ledgers before
        salted commitments), a salted commitment (`textSalts`), or a redacted text's readable rest
        (`textProofs`), whose redaction must be cited and must list exactly what is withheld."""
        salt = (self.header.get("textSalts") or {}).get(digest)
        proof = (self.header.get("textProofs") or {}).get(digest)
        if salt is not None:
            return salted_commitment(text, salt) == digest
        if proof is None:
            return sha256_hex(text.encode("utf-8")) == digest
        carriers = [e for e in self.events.values() if e.get("contentHash") == digest and e.get("type") != "redacted"]
        by = self.events.get(proof.get("redactedBy"))
        if not carriers or by is None or by.get("type") != "redacted":
            self.fail("%s: its text is marked redacted by event %s, which the report does not cite as a redaction" % (where, proof.get("redactedBy")))
            return False
        listed = [r for e in self.events.values() if e.get("type") == "redacted" for r in e.get("redacts", []) if r.get("position") == carriers[0].get("position")]
        parts = proof.get("parts")
        if parts is None:
            marker = "[redacted by event #%s: %s]" % (by.get("position"), by.get("reason", ""))
            if text != marker or not any("segments" not in r for r in listed):
                self.fail("%s: a text withheld whole must read as its redaction's marker, and the redaction must list it whole" % where)
                return False
            return True
        withheld = [i for i, part in enumerate(parts) if "withheld" in part]
        if sorted(withheld) != sorted({i for r in listed for i in r.get("segments", [])}):
            self.fail("%s: its redacted text withholds segments %s, but the cited redactions list %s" % (where, withheld, sorted({i for r in listed for i in r.get("segments", [])})))
            return False
        return proven_commitment(text, parts) == digest

    def check_quoted(self, texts):
        for digest, text in texts.items():
            if not self.text_matches(digest, text, "the quoted text %s" % digest):
                self.fail("the quoted text %s does not match its hash" % digest)
            else:
                self.quoted[digest] = text

    def text_of(self, digest, document):
        if digest in self.quoted:
            return self.quoted[digest]
        latest = self.current.get(document)
        if latest is not None and latest[0] == digest:
            return latest[1]
        return None

    # ------------------------------------------------------------ changes

    def previous_text_version(self, document, version):
        """The contentHash of the nearest earlier version with a text; every version in between must be cited."""
        v = version - 1
        while v >= 1:
            earlier = self.by_version.get((document, v))
            if earlier is None:
                self.fail("version %s of %r is not in the report, but version %s's change starts from it" % (v, document, version))
                return None, False
            if earlier.get("contentHash") is not None:
                return earlier["contentHash"], True
            v -= 1
        return None, True

    def check_change(self, change, phrase):
        position = change.get("position")
        where = "the change at position %s" % position
        self.shown.add(position)
        event = self.events.get(position)
        if event is None:
            self.fail("%s: its event is not in the report" % where)
            return
        document = event.get("document")
        if (change.get("document"), change.get("version"), change.get("type")) != (document, event.get("version"), event.get("type")):
            self.fail("%s does not describe its event (document, version, type)" % where)
        if change.get("after") != event.get("contentHash"):
            self.fail("%s: its text after is not the event's contentHash" % where)
        expected_before, known = self.previous_text_version(document, event.get("version"))
        if known and change.get("before") != expected_before:
            self.fail("%s: it starts from text %s, but the version before has %s" % (where, change.get("before"), expected_before))
        before = change.get("before")
        old = "" if before is None else self.text_of(before, document)
        if old is None:
            self.fail("%s: the text before it (%s) is neither quoted nor derived from an earlier change" % (where, before))
            return
        new = self.apply(change.get("diff", []), old, where)
        if new is None:
            return
        after = change.get("after")
        if after is None:
            if new != old:
                self.fail("%s: a withdrawal changes no text, but its diff does" % where)
        elif self.pool is not None and (self.header.get("textSalts") or {}).get(after) is not None:
            # Checked by a worker: the text is taken as the next change's start meanwhile, and a
            # mismatch is named when its result comes back.
            self.pool.check(new.encode("utf-8"), self.header["textSalts"][after], after, where, self.diff_gives_other_text)
            self.current[document] = (after, new)
        elif not self.text_matches(after, new, where):
            self.diff_gives_other_text(where)
        else:
            self.current[document] = (after, new)
        if phrase is not None:
            # A withdrawal keeps the text on record but takes it out of public view: for phrase
            # counts, the text after it is empty (as `removed` counts it).
            text, ignore_case = phrase
            self.changed_counts[position] = (count_phrase(text, old, ignore_case), count_phrase(text, new if after is not None else "", ignore_case))

    def diff_gives_other_text(self, where):
        self.fail("%s: its diff applied to the text before does not give the text the event recorded" % where)

    def apply(self, diff, old, where):
        cursor, parts, moves = 0, [], {}
        for op in diff:
            kind = op.get("op")
            if kind == "same":
                length = op.get("length")
                if not isinstance(length, int) or length < 0 or cursor + length > len(old):
                    self.fail("%s: an unchanged run runs past the end of the text before" % where)
                    return None
                parts.append(old[cursor:cursor + length])
                cursor += length
            elif kind in ("removed", "movedAway"):
                text = op.get("text", "")
                if old[cursor:cursor + len(text)] != text:
                    self.fail("%s: it quotes removed text that the text before does not have at that place" % where)
                    return None
                cursor += len(text)
            elif kind in ("added", "movedHere"):
                parts.append(op.get("text", ""))
            else:
                self.fail("%s: unknown diff operation %r" % (where, kind))
                return None
            if kind in ("movedAway", "movedHere"):
                moves.setdefault(op.get("move"), []).append((kind, words(op.get("text", ""))))
        if cursor != len(old):
            self.fail("%s: its diff leaves %d characters of the text before unaccounted for" % (where, len(old) - cursor))
            return None
        for move, ends in moves.items():
            kinds = sorted(k for k, _ in ends)
            if kinds != ["movedAway", "movedHere"] or ends[0][1] != ends[1][1]:
                self.fail("%s: move %s does not move the same words from one place to another" % (where, move))
        return "".join(parts)

    # ------------------------------------------------------------ what the report claims

    def scope_sentence(self):
        scope = self.header.get("scope")
        if not scope:
            return ""
        parts = []
        if "firstVersion" in scope:
            parts.append("versions %s to %s" % (scope.get("firstVersion"), scope.get("lastVersion")))
        if "baseVersion" in scope:
            parts.append("starting from version %s" % scope["baseVersion"])
        if "since" in scope:
            parts.append("from %s" % scope["since"])
        if "until" in scope:
            parts.append("up to %s" % scope["until"])
        return " (scoped: %s)" % ", ".join(parts)

    def check_document(self):
        document = (self.header.get("subject") or {}).get("document")
        scope = self.header.get("scope") or {}
        versions = sorted(e.get("version") for e in self.events.values() if e.get("document") == document and e.get("type") != "redacted")
        if not versions:
            self.fail("the report cites no event of %r" % document)
            return
        start = versions[0]
        if not scope and start != 1:
            self.fail("the report on %r is not scoped but starts at version %s" % (document, start))
        if versions != list(range(start, start + len(versions))):
            missing = sorted(set(range(start, versions[-1] + 1)) - set(versions))
            self.fail("the report on %r skips version%s %s" % (document, "s" if len(missing) > 1 else "", ", ".join(map(str, missing))))
        first = scope.get("firstVersion", 1)
        last = scope.get("lastVersion", versions[-1])
        # The versions before `firstVersion` are the base and, when the base has no text (a withdrawal), the
        # versions back to the last one with a text: cited, their changes not shown.
        if scope and (last != versions[-1] or first > last or first < start or scope.get("baseVersion", first - 1 if first > 1 else None) != (first - 1 if first > 1 else None)):
            self.fail("the report's scope (versions %s to %s after %s) does not match the versions it cites (%s to %s)" % (first, last, scope.get("baseVersion"), start, versions[-1]))
        for e in self.events.values():
            if e.get("document") == document and e.get("type") != "redacted" and e.get("version", 0) >= first and e.get("position") not in self.shown:
                self.fail("version %s of %r is cited but its change is not shown" % (e.get("version"), document))
        if scope:
            self.notes.append("document %r: versions %d to %d with no version missing, every change rebuilt from the text before%s" % (document, first, last, self.scope_sentence()))
        else:
            self.notes.append("document %r: versions 1 to %d, every change rebuilt from the text before" % (document, versions[-1]))

    def check_phrase(self):
        subject = self.header.get("subject") or {}
        phrase = subject.get("phrase", "")
        scope = self.header.get("scope") or {}
        for finding in self.findings:
            position = finding.get("position")
            where = "the finding at position %s" % position
            if position not in self.changed_counts:
                self.fail("%s: its change is not in the report" % where)
                continue
            if subject.get("document") is not None and finding.get("document") != subject["document"]:
                self.fail("%s is about %r, not the report's document" % (where, finding.get("document")))
            event = self.events.get(position) or {}
            at = event.get("at", "")
            if "since" in scope and at < scope["since"] or "until" in scope and at > scope["until"] or "firstVersion" in scope and not scope["firstVersion"] <= finding.get("version", 0) <= scope["lastVersion"]:
                self.fail("%s is outside the report's scope" % where)
            before, after = self.changed_counts[position]
            if (before, after) != (finding.get("countBefore"), finding.get("countAfter")):
                self.fail("%s: the texts hold the phrase %d then %d times, not %s then %s" % (where, before, after, finding.get("countBefore"), finding.get("countAfter")))
            kind = finding.get("kind")
            if kind == "removed" and not after < before or kind == "added" and not after > before or kind not in ("removed", "added"):
                self.fail("%s: %r does not describe %d → %d occurrences" % (where, kind, before, after))
            for cited in [finding.get("originallyBy")] + list(finding.get("restoredBy", [])):
                if cited is not None and (cited not in self.events or self.events[cited].get("document") != finding.get("document")):
                    self.fail("%s cites position %s, which is not an event of the same document in the report" % (where, cited))
        shown = {f.get("position") for f in self.findings}
        for position in self.changed_counts:
            if position not in shown:
                self.fail("the change at position %s is not one of the findings" % position)
        removed = sum(1 for f in self.findings if f.get("kind") == "removed")
        self.notes.append("phrase %r: %s (%s), each count recomputed from the texts%s" % (phrase, plural(len(self.findings), "finding"), plural(removed, "removal"), self.scope_sentence()))

    def check_blame(self):
        blame = self.blame
        if blame is None:
            return
        document, version = blame.get("document"), blame.get("version")
        event = self.by_version.get((document, version))
        if event is None or event.get("contentHash") != blame.get("contentHash"):
            self.fail("the blame is of version %s of %r, which the report does not cite with that text" % (version, document))
            return
        text = self.text_of(blame.get("contentHash"), document)
        runs = blame.get("runs", [])
        if text is None or "".join(run.get("text", "") for run in runs) != text:
            self.fail("the blamed runs do not rebuild the text of version %s of %r" % (version, document))
        for run in runs:
            origin = self.events.get(run.get("origin"))
            if origin is None or origin.get("document") != document or origin.get("version", 0) > version:
                self.fail("a blamed run cites position %s, which is not an earlier event of %r in the report" % (run.get("origin"), document))
                break

    def phrase(self):
        if self.header.get("kind") != "phrase":
            return None
        subject = self.header.get("subject") or {}
        return subject.get("phrase", ""), bool(subject.get("ignoreCase"))

    def conclude(self):
        kind = self.header.get("kind")
        if kind == "document":
            self.check_document()
        elif kind == "phrase":
            self.check_phrase()
        else:
            self.fail("the report's kind is %r, neither document nor phrase" % kind)
        self.check_blame()

    # ------------------------------------------------------------ a report held whole

    def run_whole(self, report):
        """A report read whole: any layout, schema version 1 or 2."""
        self.header = {k: v for k, v in report.items() if k not in ("events", "changes", "findings", "blame")}
        if not self.check_header():
            return
        self.root, self.size = self.check_checkpoint(report.get("checkpoint") or {})
        body = canonical({k: v for k, v in report.items() if k != "signature"})
        self.check_signature(body if report.get("schemaVersion") == 1 else SIGNING_PREFIX_V2 + hashlib.sha256(body).digest())
        for entry in report.get("events", []):
            self.check_event(entry)
        self.events_done()
        self.check_quoted(report.get("texts") or {})
        self.findings = report.get("findings", [])
        self.blame = report.get("blame")
        phrase = self.phrase()
        changes = report.get("changes", [])
        for k, change in enumerate(changes):
            self.check_change(change, phrase)
            if self.progress:
                self.progress(k + 1, len(changes))
        self.conclude()


class Layout(Exception):
    pass


_OPENING = re.compile(rb'^"([A-Za-z]+)":([\[{])$')
LARGE = ("changes", "events", "findings", "texts")


def read_lines(path, verifier):
    """Pass 1 over a report laid out one element per line (schema version 2): hashes every line but
    the signature's, checks each event as it is read, keeps the header, findings, quoted texts and
    blame, and returns the digest and where the changes start. Raises Layout when the file is not laid
    out so (it is then read whole)."""
    digest = hashlib.sha256()
    changes_at, change_count = None, 0
    container, element_count = None, 0
    header = verifier.header
    pending_events = []
    texts = {}
    with open(path, "rb") as f:
        first = f.readline()
        if first != b"{\n":
            raise Layout()
        digest.update(b"{")
        offset = len(first)
        closed = False
        for raw in f:
            line_offset, offset = offset, offset + len(raw)
            if not raw.endswith(b"\n") or closed:
                raise Layout()
            line = raw[:-1]
            content = line[:-1] if line.endswith(b",") else line
            if container is None:
                if line.startswith(b'"signature":"'):
                    header["signature"] = json.loads(b"{" + content + b"}")["signature"]
                    continue
                digest.update(line)
                if line == b"}":
                    closed = True
                    continue
                opening = _OPENING.match(content)
                if opening:
                    container = opening.group(1).decode()
                    if container not in LARGE:
                        raise Layout()
                    if container == "changes":
                        changes_at = offset
                    continue
                member = json.loads(b"{" + content + b"}")
                if len(member) != 1:
                    raise Layout()
                key, value = next(iter(member.items()))
                if key == "blame":
                    verifier.blame = value
                else:
                    header[key] = value
                if key == "checkpoint":
                    # Events follow the checkpoint: their proofs are checked as they are read.
                    verifier.root, verifier.size = verifier.check_checkpoint(value)
                continue
            digest.update(line)
            if content in (b"]", b"}"):
                container = None
                continue
            if container == "changes":
                change_count += 1
            elif container == "events":
                entry = json.loads(content)
                if "checkpoint" not in header:
                    pending_events.append(entry)
                else:
                    verifier.check_event(entry)
            elif container == "findings":
                verifier.findings.append(json.loads(content))
            elif container == "texts":
                texts.update(json.loads(b"{" + content + b"}"))
        if not closed or container is not None:
            raise Layout()
    if not verifier.check_header():
        return None, None, 0
    for entry in pending_events:
        verifier.check_event(entry)
    verifier.events_done()
    header["texts"] = texts
    verifier.check_quoted(texts)
    return digest.digest(), changes_at, change_count


def check_changes(path, verifier, changes_at, count):
    """Pass 2: the changes, in order, each applied to the text before it."""
    phrase = verifier.phrase()
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if count >= 1000 and workers > 1:
        try:
            verifier.pool = CommitmentPool(workers)
        except (ImportError, NotImplementedError, OSError):
            verifier.pool = None  # no process pool on this system: checked one at a time
    try:
        check_changes_in(f_path=path, verifier=verifier, changes_at=changes_at, count=count, phrase=phrase)
    finally:
        if verifier.pool is not None:
            pool, verifier.pool = verifier.pool, None
            pool.finish()


def check_changes_in(f_path, verifier, changes_at, count, phrase):
    with open(f_path, "rb") as f:
        f.seek(changes_at)
        done = 0
        for raw in f:
            content = raw.rstrip(b"\n")
            content = content[:-1] if content.endswith(b",") else content
            if content == b"]":
                break
            verifier.check_change(json.loads(content), phrase)
            done += 1
            if verifier.progress:
                verifier.progress(done, count)


class Progress:
    """A line on standard error for long reports: rewritten in place on a terminal, else every tenth."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.last = -1

    def __call__(self, done, total):
        if total < 1000:
            return
        tenth = done * 10 // total
        if self.tty:
            if done % 200 == 0 or done == total:
                print("\rchecking changes: %d of %d" % (done, total), end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif tenth != self.last:
            self.last = tenth
            print("checking changes: %d of %d" % (done, total), file=sys.stderr, flush=True)


def plural(n, noun):
    return "%d %s%s" % (n, noun, "" if n == 1 else "s")


def read_key(value):
    try:
        with open(value, encoding="ascii") as f:
            value = f.read()
    except OSError:
        pass
    value = value.strip()
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SystemExit("verify-report: the public key must be 64 hex digits (or a file holding them): %r" % value[:80])
    return key


def main():
    parser = argparse.ArgumentParser(description="Check a Palimpsest JSON audit report offline.")
    parser.add_argument("report", help="the JSON report (`palimpsest report … --format json`)")
    parser.add_argument("--public-key", help="the ledger's Ed25519 public key, 64 hex digits or a file holding them (`palimpsest checkpoint --public-key`)")
    args = parser.parse_args()
    trusted = args.public_key is not None
    key = read_key(args.public_key) if trusted else None
    verifier = None
    try:
        # Laid out one element per line (as `palimpsest report` writes it): read in two passes, holding
        # the events and one text per document, never the whole report.
        verifier = Verifier(key, trusted, Progress())
        if key is None:
            verifier.key = None
        digest, changes_at, count = read_lines(args.report, verifier) if key is not None else (None, None, 0)
        if key is None:
            raise Layout()
        if verifier.header.get("schemaVersion") == 2 and digest is not None:
            verifier.check_signature(SIGNING_PREFIX_V2 + digest)
            check_changes(args.report, verifier, changes_at, count)
            verifier.conclude()
        elif digest is not None:
            raise Layout()
    except Layout:
        try:
            with open(args.report, "rb") as f:
                report = json.loads(f.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            print("verify-report: cannot read %s as JSON: %s" % (args.report, error), file=sys.stderr)
            return 2
        if not isinstance(report, dict):
            print("verify-report: %s is not a Palimpsest report (not a JSON object)" % args.report, file=sys.stderr)
            return 2
        if key is None:
            try:
                key = bytes.fromhex(report.get("publicKey", ""))
            except (TypeError, ValueError):
                key = b""
            print("warning: no --public-key given; checking against the key the report names, which proves the report is intact but not who signed it", file=sys.stderr)
        verifier = Verifier(key, trusted, Progress())
        try:
            verifier.run_whole(report)
        except (AttributeError, TypeError, KeyError, ValueError) as error:
            verifier.fail("the report is malformed: %s: %s" % (type(error).__name__, error))
    except (OSError, UnicodeDecodeError) as error:
        print("verify-report: cannot read %s: %s" % (args.report, error), file=sys.stderr)
        return 2
    except (AttributeError, TypeError, KeyError, ValueError) as error:
        verifier.fail("the report is malformed: %s: %s" % (type(error).__name__, error))
    if verifier.problems:
        print("FAILED: %d problem%s in %s" % (len(verifier.problems), "" if len(verifier.problems) == 1 else "s", args.report))
        for problem in verifier.problems:
            print("  - " + problem)
        return 1
    c = verifier.header["checkpoint"]
    print("OK: %s" % args.report)
    print("  - %d events: hashes recomputed, each proved in checkpoint %s (%s events, root %s, signed %s)" % (len(verifier.events), c["number"], c["treeSize"], c["rootHash"], c["time"]))
    for note in verifier.notes:
        print("  - " + note)
    print("  - report and checkpoint signed by %s%s" % (verifier.key.hex(), "" if trusted else " (the key the report itself names)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
