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


def text_segments(data):
    """A segment ends after a line feed, and after . ! or ? followed by a space."""
    cuts = [m.end() for m in re.finditer(rb"\n|[.!?](?= )", data)]
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)]) if b > a] or [b""]


def tree_root(leaves):
    """RFC 6962 Merkle tree hash of a non-empty list of 32-byte hashes."""
    while len(leaves) > 1:
        leaves = [node_hash(leaves[i], leaves[i + 1]) for i in range(0, len(leaves) - 1, 2)] + leaves[len(leaves) // 2 * 2:]
    return leaves[0]


def salted_commitment(text, salt_hex):
    salt = bytes.fromhex(salt_hex)
    # Segments 2k and 2k+1 take the first and last 16 bytes of SHA-256(salt ‖ k).
    pairs = {}
    def segment_salt(i):
        if i // 2 not in pairs:
            pairs[i // 2] = hashlib.sha256(salt + (i // 2).to_bytes(4, "big")).digest()
        return pairs[i // 2][i % 2 * 16:i % 2 * 16 + 16]
    leaves = [hashlib.sha256(b"\x00" + segment_salt(i) + segment).digest() for i, segment in enumerate(text_segments(text.encode("utf-8")))]
    return tree_root(leaves).hex()


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


class Verifier:
    def __init__(self, report, public_key, trusted):
        self.report = report
        self.key = public_key
        self.trusted = trusted
        self.problems = []
        self.notes = []

    def fail(self, message):
        self.problems.append(message)

    def run(self):
        r = self.report
        if r.get("schemaVersion") != 1:
            self.fail("the report's schemaVersion is %r; this verifier reads 1" % r.get("schemaVersion"))
            return
        if r.get("publicKey") != self.key.hex():
            self.fail("the report names the key %s, not the key you gave" % r.get("publicKey"))
        self.check_signature()
        root, size = self.check_checkpoint()
        self.events = {}
        self.check_events(root, size)
        self.texts = {}
        self.check_texts()
        self.check_changes()
        kind = r.get("kind")
        if kind == "document":
            self.check_document()
        elif kind == "phrase":
            self.check_phrase()
        else:
            self.fail("the report's kind is %r, neither document nor phrase" % kind)
        self.check_blame()

    def check_signature(self):
        body = {k: v for k, v in self.report.items() if k != "signature"}
        try:
            signature = bytes.fromhex(self.report.get("signature", ""))
        except ValueError:
            signature = b""
        if not ed25519_verify(self.key, canonical(body), signature):
            self.fail("the report's signature does not verify with the key: the report was changed after it was signed, or signed by another key")

    def check_checkpoint(self):
        c = self.report.get("checkpoint") or {}
        body = {k: c.get(k) for k in ("ledgerId", "rootHash", "time", "treeSize")}
        try:
            signature = bytes.fromhex(c.get("signature", ""))
        except ValueError:
            signature = b""
        if not ed25519_verify(self.key, canonical(body), signature):
            self.fail("checkpoint %s's signature does not verify with the key" % c.get("number"))
        if c.get("ledgerId") != self.report.get("ledgerId"):
            self.fail("the checkpoint names ledger %s, the report %s" % (c.get("ledgerId"), self.report.get("ledgerId")))
        try:
            return bytes.fromhex(c.get("rootHash", "")), int(c.get("treeSize"))
        except (TypeError, ValueError):
            self.fail("the checkpoint has no valid rootHash and treeSize")
            return b"", 0

    def check_events(self, root, size):
        for entry in self.report.get("events", []):
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
                ok = proof.get("leafIndex") == position - 1 and proof.get("treeSize") == size and verify_inclusion(leaf_hash(claimed), position - 1, size, path, root)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                self.fail("%s: its inclusion proof does not lead to the checkpoint's Merkle root" % where)
        for position, event in self.events.items():
            before = self.events.get(position - 1) if isinstance(position, int) else None
            if before is not None and event.get("previousHash") != before.get("hash"):
                self.fail("the event at position %s does not chain to the event at position %s" % (position, position - 1))
        # A redaction names the document's version at the time; it is not a version of its own.
        self.by_version = {(e.get("document"), e.get("version")): e for e in self.events.values() if e.get("type") != "redacted"}

    def text_matches(self, digest, text, where):
        """Whether `text` is the text the contentHash `digest` commits to: its SHA-256 (ledgers before
        salted commitments), a salted commitment (`textSalts`), or a redacted text's readable rest
        (`textProofs`), whose redaction must be cited and must list exactly what is withheld."""
        salt = (self.report.get("textSalts") or {}).get(digest)
        proof = (self.report.get("textProofs") or {}).get(digest)
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

    def check_texts(self):
        for digest, text in (self.report.get("texts") or {}).items():
            if not self.text_matches(digest, text, "the quoted text %s" % digest):
                self.fail("the quoted text %s does not match its hash" % digest)
            else:
                self.texts[digest] = text

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

    def check_changes(self):
        self.changed = {}
        for change in self.report.get("changes", []):
            position = change.get("position")
            where = "the change at position %s" % position
            event = self.events.get(position)
            if event is None:
                self.fail("%s: its event is not in the report" % where)
                continue
            if (change.get("document"), change.get("version"), change.get("type")) != (event.get("document"), event.get("version"), event.get("type")):
                self.fail("%s does not describe its event (document, version, type)" % where)
            if change.get("after") != event.get("contentHash"):
                self.fail("%s: its text after is not the event's contentHash" % where)
            expected_before, known = self.previous_text_version(event.get("document"), event.get("version"))
            if known and change.get("before") != expected_before:
                self.fail("%s: it starts from text %s, but the version before has %s" % (where, change.get("before"), expected_before))
            before = change.get("before")
            old = "" if before is None else self.texts.get(before)
            if old is None:
                self.fail("%s: the text before it (%s) is neither quoted nor derived from an earlier change" % (where, before))
                continue
            new = self.apply(change.get("diff", []), old, where)
            if new is None:
                continue
            after = change.get("after")
            if after is None:
                if new != old:
                    self.fail("%s: a withdrawal changes no text, but its diff does" % where)
            elif not self.text_matches(after, new, where):
                self.fail("%s: its diff applied to the text before does not give the text the event recorded" % where)
            else:
                self.texts[after] = new
            # A withdrawal keeps the text on record but takes it out of public view: for phrase
            # counts, the text after it is empty (as `removed` counts it).
            self.changed[position] = (old, new if after is not None else "")

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

    def check_document(self):
        document = (self.report.get("subject") or {}).get("document")
        versions = sorted(e.get("version") for e in self.events.values() if e.get("document") == document and e.get("type") != "redacted")
        if not versions:
            self.fail("the report cites no event of %r" % document)
            return
        if versions != list(range(1, len(versions) + 1)):
            missing = sorted(set(range(1, versions[-1] + 1)) - set(versions))
            self.fail("the report on %r skips version%s %s" % (document, "s" if len(missing) > 1 else "", ", ".join(map(str, missing))))
        documented = {c.get("position") for c in self.report.get("changes", [])}
        for e in self.events.values():
            if e.get("document") == document and e.get("type") != "redacted" and e.get("position") not in documented:
                self.fail("version %s of %r is cited but its change is not shown" % (e.get("version"), document))
        self.notes.append("document %r: versions 1 to %d, every change rebuilt from the text before" % (document, versions[-1]))

    def check_phrase(self):
        subject = self.report.get("subject") or {}
        phrase, ignore_case = subject.get("phrase", ""), bool(subject.get("ignoreCase"))
        findings = self.report.get("findings", [])
        for finding in findings:
            position = finding.get("position")
            where = "the finding at position %s" % position
            if position not in self.changed:
                self.fail("%s: its change is not in the report" % where)
                continue
            if subject.get("document") is not None and finding.get("document") != subject["document"]:
                self.fail("%s is about %r, not the report's document" % (where, finding.get("document")))
            old, new = self.changed[position]
            before, after = count_phrase(phrase, old, ignore_case), count_phrase(phrase, new, ignore_case)
            if (before, after) != (finding.get("countBefore"), finding.get("countAfter")):
                self.fail("%s: the texts hold the phrase %d then %d times, not %s then %s" % (where, before, after, finding.get("countBefore"), finding.get("countAfter")))
            kind = finding.get("kind")
            if kind == "removed" and not after < before or kind == "added" and not after > before or kind not in ("removed", "added"):
                self.fail("%s: %r does not describe %d → %d occurrences" % (where, kind, before, after))
            for cited in [finding.get("originallyBy")] + list(finding.get("restoredBy", [])):
                if cited is not None and (cited not in self.events or self.events[cited].get("document") != finding.get("document")):
                    self.fail("%s cites position %s, which is not an event of the same document in the report" % (where, cited))
        shown = {f.get("position") for f in findings}
        for position in self.changed:
            if position not in shown:
                self.fail("the change at position %s is not one of the findings" % position)
        removed = sum(1 for f in findings if f.get("kind") == "removed")
        self.notes.append("phrase %r: %s (%s), each count recomputed from the texts" % (phrase, plural(len(findings), "finding"), plural(removed, "removal")))

    def check_blame(self):
        blame = self.report.get("blame")
        if blame is None:
            return
        document, version = blame.get("document"), blame.get("version")
        event = self.by_version.get((document, version))
        if event is None or event.get("contentHash") != blame.get("contentHash"):
            self.fail("the blame is of version %s of %r, which the report does not cite with that text" % (version, document))
            return
        text = self.texts.get(blame.get("contentHash"))
        runs = blame.get("runs", [])
        if text is None or "".join(run.get("text", "") for run in runs) != text:
            self.fail("the blamed runs do not rebuild the text of version %s of %r" % (version, document))
        for run in runs:
            origin = self.events.get(run.get("origin"))
            if origin is None or origin.get("document") != document or origin.get("version", 0) > version:
                self.fail("a blamed run cites position %s, which is not an earlier event of %r in the report" % (run.get("origin"), document))
                break


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
    try:
        with open(args.report, "rb") as f:
            report = json.loads(f.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        print("verify-report: cannot read %s as JSON: %s" % (args.report, error), file=sys.stderr)
        return 2
    if not isinstance(report, dict):
        print("verify-report: %s is not a Palimpsest report (not a JSON object)" % args.report, file=sys.stderr)
        return 2
    trusted = args.public_key is not None
    if trusted:
        key = read_key(args.public_key)
    else:
        try:
            key = bytes.fromhex(report.get("publicKey", ""))
        except (TypeError, ValueError):
            key = b""
        print("warning: no --public-key given; checking against the key the report names, which proves the report is intact but not who signed it", file=sys.stderr)
    verifier = Verifier(report, key, trusted)
    try:
        verifier.run()
    except (AttributeError, TypeError, KeyError, ValueError) as error:
        verifier.fail("the report is malformed: %s: %s" % (type(error).__name__, error))
    if verifier.problems:
        print("FAILED: %d problem%s in %s" % (len(verifier.problems), "" if len(verifier.problems) == 1 else "s", args.report))
        for problem in verifier.problems:
            print("  - " + problem)
        return 1
    c = report["checkpoint"]
    print("OK: %s" % args.report)
    print("  - %d events: hashes recomputed, each proved in checkpoint %s (%s events, root %s, signed %s)" % (len(verifier.events), c["number"], c["treeSize"], c["rootHash"], c["time"]))
    for note in verifier.notes:
        print("  - " + note)
    print("  - report and checkpoint signed by %s%s" % (key.hex(), "" if trusted else " (the key the report itself names)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
