import Foundation
import Palimpsest
import PalimpsestText

// The answers of the reading commands, computed by one library call each and encoded once: the CLI
// prints them (`--json` or plain), the server returns the same JSON under /api/v1 and renders the
// same values as pages. Keys are emitted in canonical (RFC 8785) order by `CanonicalJSON`.

extension DocumentInfo {
    public var json: JSONValue {
        [
            "document": .string(id), "version": .int(Int64(version)), "status": .string(status.rawValue),
            "title": .optional(title), "language": .optional(language), "variantOf": .optional(variantOf),
            "firstPosition": .int(Int64(firstPosition)), "lastPosition": .int(Int64(lastPosition)),
            "createdAt": .string(createdAt.iso8601), "updatedAt": .string(lastAt.iso8601),
            "lastActor": .string(lastActor), "contentHash": .optional(contentHash?.hex),
            "textBytes": .int(Int64(textLength)), "backdatedEvents": .int(Int64(backdatedEvents)),
        ]
    }
}

extension EventReference {
    public var json: JSONValue {
        .object([
            "position": .int(Int64(position)), "eventId": .string(eventID.uuidString.lowercased()), "document": .string(document),
            "version": .int(Int64(version)), "type": .string(type.rawValue), "actor": .string(actor), "at": .string(at.iso8601),
            "recordedAt": .string(recordedAt.iso8601), "source": .optional(source),
        ])
    }

    public var line: String { "v\(version) \(at.iso8601) \(actor)" }
}

extension PhraseChange {
    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "change": .string(kind.rawValue), "document": .string(event.document), "version": .int(Int64(event.version)),
            "position": .int(Int64(event.position)), "eventId": .string(event.eventID.uuidString.lowercased()),
            "type": .string(event.type.rawValue), "actor": .string(event.actor), "at": .string(event.at.iso8601),
            "recordedAt": .string(event.recordedAt.iso8601), "source": .optional(event.source),
            "occurrencesBefore": .int(Int64(occurrencesBefore)), "occurrencesAfter": .int(Int64(occurrencesAfter)),
            "context": .object(["before": .string(context.before), kind == .removed ? "removed" : "added": .string(context.phrase), "after": .string(context.after)]),
            "originallyBy": originallyBy?.json ?? .null,
            "restoredBy": .array(restoredBy.map(\.json)),
        ]
        fields["lastSeen"] = lastSeen.map { .object(["version": .int(Int64($0.version)), "at": .string($0.at.iso8601)]) } ?? .null
        return .object(fields)
    }

    /// The change as `removed` and `trace` print it: a header line, the context, and who else.
    public var plain: String {
        let counts = "\(occurrencesBefore) → \(occurrencesAfter)"
        let label = kind == .removed ? "removed" : "added  "
        var out = "\(event.at.iso8601)  \(label)  \(event.document) v\(event.version)  by \(event.actor)  (\(counts))\(event.source.map { "  \($0)" } ?? "")\n"
        let marked = kind == .removed ? "[-\(context.phrase)-]" : "{+\(context.phrase)+}"
        out += "    …\(oneLine(context.before))\(oneLine(marked))\(oneLine(context.after))…\n"
        if let lastSeen { out += "    last seen in v\(lastSeen.version) (\(lastSeen.at.iso8601))\n" }
        if let originallyBy { out += "    first written by \(originallyBy.actor) in v\(originallyBy.version) (\(originallyBy.at.iso8601))\n" }
        if !restoredBy.isEmpty { out += "    put back by " + restoredBy.map { "\($0.actor) in v\($0.version) (\($0.at.iso8601))" }.joined(separator: ", ") + "\n" }
        return out
    }
}

/// Text on one line: line breaks and tabs shown, control characters escaped.
public func oneLine(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": out += "↵"
        case "\r": out += ""
        case "\t": out += "⇥"
        default:
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// A version as the reading commands name it: `N` (a version) or `@T` (a time).
public struct VersionSpec: Sendable, Equatable {
    public var asOf: AsOf
    public var said: String

    public init(asOf: AsOf, said: String) { (self.asOf, self.said) = (asOf, said) }

    /// `N`, `#N` or `@TIME`; `option` names what the user gave, for the error.
    public static func parse(_ text: String, option: String) throws(LedgerError) -> VersionSpec {
        if text.hasPrefix("@") {
            let time = String(text.dropFirst())
            guard let t = Timestamp(iso8601: time) else {
                throw LedgerError(.invalidInput, "\(option) \"\(time)\" is not an ISO 8601 time with a zone, such as 2023-12-28T15:00:00Z or 2023-12-28")
            }
            return VersionSpec(asOf: .time(t), said: time)
        }
        if text.hasPrefix("#") { return try parse(String(text.dropFirst()), option: option) }
        guard let v = UInt64(text), v >= 1 else {
            throw LedgerError(.invalidInput, "\(option) must be a version (1, 2, …) or @time, not \"\(text)\"")
        }
        return VersionSpec(asOf: .version(v), said: text)
    }
}

/// The answers, one library call each.
public enum Answers {
    /// A document's state as a command names it, with the contract's errors for what does not exist.
    public static func state(_ ledger: Ledger, _ document: String, _ asOf: AsOf, said: String = "") throws(LedgerError) -> DocumentState {
        guard let info = try ledger.document(document) else {
            throw LedgerError(.notFound, "there is no document \"\(document)\" in the ledger")
        }
        guard let state = try ledger.state(of: document, asOf: asOf) else {
            switch asOf {
            case .version(let v):
                throw noSuchVersion(info, v)
            case .knownAt:
                throw LedgerError(.notFound, "the ledger knew nothing of \"\(document)\" at \(said) (it was first recorded later)")
            default:
                throw LedgerError(.notFound, "\"\(document)\" did not exist yet at \(said) (its first version is from \(info.createdAt.iso8601))")
            }
        }
        return state
    }

    /// The error for a version past a document's last.
    public static func noSuchVersion(_ info: DocumentInfo, _ v: UInt64) -> LedgerError {
        LedgerError(.notFound, "\"\(info.id)\" has \(info.version) version\(info.version == 1 ? "" : "s"); there is no version \(v)")
    }

    /// `docs --json`.
    public static func documents(_ docs: [DocumentInfo]) -> JSONValue {
        ["documents": .array(docs.map(\.json))]
    }

    /// `show --json`: a version with its text.
    public static func show(_ state: DocumentState) -> JSONValue {
        let e = state.event
        return [
            "document": .string(state.document), "version": .int(Int64(state.version)),
            "status": .string(state.status.rawValue), "position": .int(Int64(e.position)),
            "type": .string(e.type.rawValue), "at": .string(e.at.iso8601), "recordedAt": .string(e.recordedAt.iso8601),
            "actor": .string(e.actor), "contentHash": .string((e.committedHash ?? state.contentHash).hex), "title": .optional(state.title),
            "language": .optional(state.language), "variantOf": .optional(state.variantOf), "text": .string(state.text),
        ]
    }

    /// A version as `diff` and `compare` cite it.
    public static func stateSummary(_ s: DocumentState) -> JSONValue {
        .object([
            "document": .string(s.document), "version": .int(Int64(s.version)), "at": .string(s.event.at.iso8601),
            "actor": .string(s.event.actor), "position": .int(Int64(s.event.position)), "contentHash": .string((s.event.committedHash ?? s.contentHash).hex),
        ])
    }

    public static func pieces(_ pieces: [TextDiff.Piece]) -> JSONValue {
        .array(pieces.map { p in
            var fields: [String: JSONValue] = ["kind": .string(p.kind.rawValue), "text": .string(p.text)]
            if let move = p.move { fields["move"] = .int(Int64(move)) }
            return .object(fields)
        })
    }

    public static func wordCount(_ pieces: [TextDiff.Piece], _ kinds: Set<TextDiff.Kind>) -> Int {
        pieces.filter { kinds.contains($0.kind) }.reduce(0) { $0 + PhraseMatcher.words(of: $1.text).count }
    }

    /// What a version says, for diffing: nothing once retracted.
    static func said(_ s: DocumentState) -> String { s.status == .retracted ? "" : s.text }

    /// `diff DOC [FROM [TO]]`: FROM defaults to the version before TO, TO to the latest.
    public static func diff(_ ledger: Ledger, _ document: String, from: VersionSpec?, to: VersionSpec?) throws(LedgerError) -> DiffAnswer {
        let new: DocumentState
        if let to {
            new = try state(ledger, document, to.asOf, said: to.said)
        } else {
            new = try state(ledger, document, .latest)
        }
        let old: DocumentState
        if let from {
            old = try state(ledger, document, from.asOf, said: from.said)
        } else {
            old = new.version > 1 ? try state(ledger, document, .version(new.version - 1)) : new
        }
        return DiffAnswer(document: document, from: old, to: new, pieces: TextDiff.diff(old: said(old), new: said(new)))
    }

    /// One side of `compare`: DOC, DOC@TIME or DOC#VERSION, preferring a document ID that exists as written.
    public static func side(_ ledger: Ledger, _ text: String, option: String) throws(LedgerError) -> DocumentState {
        if try ledger.document(text) != nil { return try state(ledger, text, .latest) }
        for marker: Character in ["#", "@"] {
            if let index = text.lastIndex(of: marker) {
                let document = String(text[..<index]), spec = String(text[text.index(after: index)...])
                guard try ledger.document(document) != nil else { continue }
                let parsed = try VersionSpec.parse(marker == "@" ? "@" + spec : spec, option: option)
                return try state(ledger, document, parsed.asOf, said: parsed.said)
            }
        }
        throw LedgerError(.notFound, "there is no document \"\(text)\" in the ledger")
    }

    /// `compare A B`.
    public static func compare(_ ledger: Ledger, _ first: String, _ second: String) throws(LedgerError) -> CompareAnswer {
        let a = try side(ledger, first, option: "DOC1"), b = try side(ledger, second, option: "DOC2")
        return CompareAnswer(first: a, second: b, pieces: TextDiff.diff(old: said(a), new: said(b)))
    }

    /// `blame` as runs of consecutive words with the same origin.
    public static func blameRuns(_ ledger: Ledger, _ document: String, version: UInt64) throws(LedgerError) -> [BlameRun] {
        var runs: [BlameRun] = []
        _ = try ledger.blame(document, asOf: .version(version), history: false) { token in
            if let last = runs.last, last.origin.position == token.origin.position {
                runs[runs.count - 1].text += token.text
            } else {
                runs.append(BlameRun(origin: token.origin, text: token.text))
            }
        }
        return runs
    }

    public static func blameRunsJSON(document: String, version: UInt64, runs: [BlameRun]) -> JSONValue {
        [
            "document": .string(document), "version": .int(Int64(version)),
            "runs": .array(runs.map { ["origin": $0.origin.json, "text": .string($0.text)] }),
        ]
    }

    /// `removed`/`trace --json` of a page of changes, byte for byte as the CLI streams it: `next`,
    /// `phrase`, then the list (so that a reader can start on the list before it ends).
    public static func phraseChanges(phrase: String, listedAs key: String, changes: [PhraseChange], next: UInt64?) -> [UInt8] {
        var b = Array(#"{"next":"#.utf8) + Array((next.map { String($0) } ?? "null").utf8) + Array(#","phrase":"#.utf8)
        CanonicalJSON.writeString(phrase, into: &b)
        b += Array(",\"\(key)\":[".utf8)
        for (k, change) in changes.enumerated() {
            if k > 0 { b.append(UInt8(ascii: ",")) }
            CanonicalJSON.write(change.json, into: &b)
        }
        return b + Array("]}\n".utf8)
    }
}

/// Consecutive words of one origin.
public struct BlameRun: Sendable, Equatable {
    public var origin: EventReference
    public var text: String
}

/// The answer of `diff`.
public struct DiffAnswer: Sendable {
    public var document: String
    public var from: DocumentState
    public var to: DocumentState
    public var pieces: [TextDiff.Piece]

    public var json: JSONValue {
        .object([
            "document": .string(document), "from": Answers.stateSummary(from), "to": Answers.stateSummary(to), "pieces": Answers.pieces(pieces),
            "removedWords": .int(Int64(Answers.wordCount(pieces, [.removed]))), "addedWords": .int(Int64(Answers.wordCount(pieces, [.added]))),
            "movedWords": .int(Int64(Answers.wordCount(pieces, [.movedHere]))),
        ])
    }
}

/// The answer of `compare`: the word diff of the two texts, and the same aligned by paragraph.
public struct CompareAnswer: Sendable {
    public var first: DocumentState
    public var second: DocumentState
    public var pieces: [TextDiff.Piece]

    public var onlyInFirst: [String] { trimmed(.removed) }
    public var onlyInSecond: [String] { trimmed(.added) }

    private func trimmed(_ kind: TextDiff.Kind) -> [String] {
        pieces.filter { $0.kind == kind }.map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    public var rows: [AlignedRow] { ParagraphAlignment.align(Answers.said(first), Answers.said(second)) }

    /// "3 paragraphs in both (1 identical, 2 worded differently), 1 only in the first, 0 only in the second."
    public var summary: String {
        let rows = self.rows
        let paired = rows.filter { $0.first != nil && $0.second != nil }
        let identical = paired.filter(\.isSame).count
        return "\(paired.count) paragraph\(paired.count == 1 ? "" : "s") in both (\(identical) identical, \(paired.count - identical) worded differently), "
            + "\(rows.count { $0.second == nil }) only in the first, \(rows.count { $0.first == nil }) only in the second."
    }

    public var json: JSONValue {
        .object([
            "first": Answers.stateSummary(first), "second": Answers.stateSummary(second), "pieces": Answers.pieces(pieces),
            "onlyInFirst": .array(onlyInFirst.map(JSONValue.string)), "onlyInSecond": .array(onlyInSecond.map(JSONValue.string)),
        ])
    }
}

extension Answers {
    /// `stats --json`, with at most `actors` actors.
    public static func statistics(_ stats: LedgerStatistics, actors: Int) -> JSONValue {
        [
            "events": .int(Int64(stats.events)), "documents": .int(Int64(stats.documents)),
            "retractedDocuments": .int(Int64(stats.retractedDocuments)),
            "eventsByType": .object(Dictionary(uniqueKeysWithValues: EventType.allCases.map { ($0.rawValue, JSONValue.int(Int64(stats.eventsByType[$0] ?? 0))) })),
            "actors": .array(stats.actors.prefix(max(0, actors)).map {
                ["actor": .string($0.name), "events": .int(Int64($0.events)), "documents": .int(Int64($0.documents)),
                 "firstAt": .string($0.firstAt.iso8601), "lastAt": .string($0.lastAt.iso8601)]
            }),
        ]
    }

    /// `blame --json`: every token with its origin and the events that removed and restored it.
    public static func blame(_ blame: Blame) -> JSONValue {
        [
            "document": .string(blame.document), "version": .int(Int64(blame.version)),
            "tokens": .array(blame.tokens.map { token in
                ["origin": token.origin.json, "removedBy": .array(token.removedBy.map(\.json)), "restoredBy": .array(token.restoredBy.map(\.json)), "text": .string(token.text)]
            }),
        ]
    }
}

extension Answers {
    /// `checkpoint --list --json`: every checkpoint with the witnesses' cosignatures of it.
    public static func checkpointList(_ ledger: Ledger) throws(LedgerError) -> JSONValue {
        guard let key = try ledger.publicKey() else {
            throw LedgerError(.notFound, "the ledger has no signing key; run `palimpsest init` on it to create one")
        }
        var list: [JSONValue] = []
        for checkpoint in try ledger.checkpoints() {
            guard case .object(var fields) = checkpoint.json else { continue }
            fields["cosignatures"] = .array(try ledger.cosignatures(number: checkpoint.number).map { c in
                [
                    "witness": .string(c.witness), "keyId": .string(Hex.encode(c.keyID)), "timestamp": .int(Int64(c.timestamp)),
                    "time": .string(Timestamp(milliseconds: Int64(c.timestamp) * 1000).iso8601),
                ]
            })
            list.append(.object(fields))
        }
        return ["publicKey": .string(Hex.encode(key)), "checkpoints": .array(list)]
    }
}
