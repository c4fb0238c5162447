import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestText

/// A document's state as a command names it, with the contract's errors for what does not exist.
func resolveState(_ ledger: Ledger, _ document: String, _ asOf: AsOf, said: String) throws -> DocumentState {
    guard let info = try ledger.document(document) else {
        throw LedgerError(.notFound, "there is no document \"\(document)\" in the ledger")
    }
    guard let state = try ledger.state(of: document, asOf: asOf) else {
        switch asOf {
        case .version(let v):
            throw LedgerError(.notFound, "\"\(document)\" has \(info.version) version\(info.version == 1 ? "" : "s"); there is no version \(v)")
        case .knownAt:
            throw LedgerError(.notFound, "the ledger knew nothing of \"\(document)\" at \(said) (it was first recorded later)")
        default:
            throw LedgerError(.notFound, "\"\(document)\" did not exist yet at \(said) (its first version is from \(info.createdAt.iso8601))")
        }
    }
    return state
}

extension EventReference {
    var json: JSONValue {
        .object([
            "position": .int(Int64(position)), "eventId": .string(eventID.uuidString.lowercased()), "document": .string(document),
            "version": .int(Int64(version)), "type": .string(type.rawValue), "actor": .string(actor), "at": .string(at.iso8601),
            "recordedAt": .string(recordedAt.iso8601), "source": .optional(source),
        ])
    }

    var line: String { "v\(version) \(at.iso8601) \(actor)" }
}

/// Text on one line: line breaks and tabs shown, control characters escaped.
func oneLine(_ text: String) -> String {
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

struct Blame: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blame",
        abstract: "Who wrote each word of a document, and when (default: its latest version).",
        discussion: """
            Plain output prints one line per run of words with the same origin: version, time, actor, then the
            words (↵ marks a line break). --json gives every token with its origin and the events that removed
            and restored it, written as it is computed; --json --runs gives runs of words with the same origin,
            without those histories.
            """)

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    @Option(help: "The version to blame (1 is the first).") var version: UInt64?
    @Option(help: ArgumentHelp("Blame the latest version in effect at this time.", valueName: "time")) var at: String?
    @Flag(help: "With --json: consecutive words with the same origin as one run, without removal and restoration histories.")
    var runs = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if version != nil, at != nil { throw ValidationError("give --version or --at, not both") }
        if version == 0 { throw ValidationError("--version counts from 1") }
        if runs, !output.json { throw ValidationError("--runs shapes the JSON output; give it with --json") }
        if let at { _ = try parseTime(at, option: "--at") }
    }

    func run() throws {
        let ledger = try location.openForReading()
        let asOf: AsOf = try version.map(AsOf.version) ?? at.map { .time(try parseTime($0, option: "--at")) } ?? .latest
        let state = try resolveState(ledger, document, asOf, said: at ?? "")
        if output.json {
            try writeJSON(ledger, version: state.version)
            return
        }
        var runs: [(origin: EventReference, text: String)] = []
        _ = try ledger.blame(document, asOf: .version(state.version), history: false) { token in
            if let last = runs.last, last.origin.position == token.origin.position {
                runs[runs.count - 1].text += token.text
            } else {
                runs.append((token.origin, token.text))
            }
        }
        let lines = runs.map { ($0.origin.line, oneLine($0.text)) }
        let width = lines.map { $0.0.count }.max() ?? 0
        let out = StreamedOutput()
        for (origin, text) in lines {
            out.append(origin + String(repeating: " ", count: width - origin.count) + "  │ " + text + "\n")
        }
    }

    /// The JSON answer, written token by token (or run by run) as the ledger yields them; each event's
    /// JSON is encoded once, however many tokens cite it. Keys in canonical order, as `printJSON` writes.
    private func writeJSON(_ ledger: Ledger, version: UInt64) throws {
        let out = StreamedOutput()
        var encoded: [UInt64: [UInt8]] = [:]
        func reference(_ r: EventReference, into buffer: inout [UInt8]) {
            if let bytes = encoded[r.position] {
                buffer.append(contentsOf: bytes)
            } else {
                let bytes = CanonicalJSON.encode(r.json)
                encoded[r.position] = bytes
                buffer.append(contentsOf: bytes)
            }
        }
        out.append { b in
            b.append(contentsOf: Array(#"{"document":"#.utf8))
            CanonicalJSON.writeString(document, into: &b)
            b.append(contentsOf: Array((runs ? #","runs":["# : #","tokens":["#).utf8))
        }
        var first = true
        if runs {
            var current: (origin: EventReference, text: String)? = nil
            func emit(_ run: (origin: EventReference, text: String)) {
                out.append { b in
                    if !first { b.append(UInt8(ascii: ",")) }
                    first = false
                    b.append(contentsOf: Array(#"{"origin":"#.utf8))
                    reference(run.origin, into: &b)
                    b.append(contentsOf: Array(#","text":"#.utf8))
                    CanonicalJSON.writeString(run.text, into: &b)
                    b.append(UInt8(ascii: "}"))
                }
            }
            _ = try ledger.blame(document, asOf: .version(version), history: false) { token in
                if let c = current, c.origin.position == token.origin.position {
                    current!.text += token.text
                } else {
                    if let c = current { emit(c) }
                    current = (token.origin, token.text)
                }
            }
            if let c = current { emit(c) }
        } else {
            _ = try ledger.blame(document, asOf: .version(version)) { token in
                out.append { b in
                    if !first { b.append(UInt8(ascii: ",")) }
                    first = false
                    b.append(contentsOf: Array(#"{"origin":"#.utf8))
                    reference(token.origin, into: &b)
                    for (key, list) in [(#","removedBy":["#, token.removedBy), (#"],"restoredBy":["#, token.restoredBy)] {
                        b.append(contentsOf: Array(key.utf8))
                        for (i, r) in list.enumerated() {
                            if i > 0 { b.append(UInt8(ascii: ",")) }
                            reference(r, into: &b)
                        }
                    }
                    b.append(contentsOf: Array(#"],"text":"#.utf8))
                    CanonicalJSON.writeString(token.text, into: &b)
                    b.append(UInt8(ascii: "}"))
                }
            }
        }
        out.append("],\"version\":\(version)}\n")
    }
}

/// The options `removed` and `trace` share.
struct PhraseOptions: ParsableArguments {
    @Argument(help: "The phrase: words and punctuation, matched whole-token; whitespace differences are ignored.") var phrase: String
    @Option(help: ArgumentHelp("Only this document.", valueName: "doc")) var doc: String?
    @Flag(name: .customLong("ignore-case"), help: "Fold case when matching.") var ignoreCase = false
    @Option(help: ArgumentHelp("Only changes in effect at or after this time.", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only changes in effect at or before this time.", valueName: "time")) var until: String?
    @Option(help: ArgumentHelp("List at most this many changes; the answer then names the cursor for the next page.", valueName: "n")) var limit: Int?
    @Option(help: ArgumentHelp("Start after this cursor (the position a previous page named as next).", valueName: "cursor")) var after: UInt64?

    func validate() throws {
        if let since { _ = try parseTime(since, option: "--since") }
        if let until { _ = try parseTime(until, option: "--until") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, not \(limit)") }
    }

    /// Prints the changes of `kinds`, as JSON under `key` or one block per change, each as soon as it
    /// is described.
    func report(_ ledger: Ledger, json: Bool, listedAs key: String, kinds: Set<PhraseChange.Kind>) throws {
        let query = PhraseQuery(
            phrase, document: doc, ignoringCase: ignoreCase,
            since: try since.map { try parseTime($0, option: "--since") }, until: try until.map { try parseTime($0, option: "--until") })
        let page = try ledger.phraseChanges(query, kinds: kinds, after: after, limit: limit)
        if !page.usedIndex {
            let why = PhraseMatcher(phrase, ignoringCase: ignoreCase).map { $0.words.count > PhraseIndexProjection.maximumWords } ?? false
                ? "the phrase has more than \(PhraseIndexProjection.maximumWords) words, more than the phrase index holds"
                : "the phrase can overlap itself, which the phrase index cannot count"
            writeToStandardError("note: \(why); every version was scanned instead (slower, same answer)\n")
        }
        let out = StreamedOutput()
        if json {
            // Keys in canonical order, as printJSON writes them: next, phrase, then the list.
            out.append { b in
                b.append(contentsOf: Array(#"{"next":"#.utf8))
                b.append(contentsOf: Array((page.next.map { String($0) } ?? "null").utf8))
                b.append(contentsOf: Array(#","phrase":"#.utf8))
                CanonicalJSON.writeString(phrase, into: &b)
                b.append(contentsOf: Array(",\"\(key)\":[".utf8))
            }
            var first = true
            try page.forEach { change in
                out.append { b in
                    if !first { b.append(UInt8(ascii: ",")) }
                    first = false
                    CanonicalJSON.write(change.json, into: &b)
                }
                out.flush()
            }
            out.append("]}\n")
            return
        }
        try page.forEach { change in
            out.append(change.plain)
            out.flush()
        }
        if let next = page.next { out.append("more: continue with --after \(next)\n") }
    }
}

extension PhraseChange {
    var json: JSONValue {
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
    var plain: String {
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

struct Removed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "removed",
        abstract: "Every event that removed a phrase, oldest first: document, version, actor, time, the last version that had it, context, who first wrote it, and later restorations.",
        discussion: "An event removed the phrase when the phrase occurs fewer times after it than before it (the rule of git log -S). Prints nothing, and exits 0, when no event removed it.")

    @OptionGroup var location: LedgerOptions
    @OptionGroup var phrase: PhraseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try phrase.report(try location.openForReading(), json: output.json, listedAs: "removals", kinds: [.removed])
    }
}

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "The whole life of a phrase: every event that added or removed it, across documents, oldest first.")

    @OptionGroup var location: LedgerOptions
    @OptionGroup var phrase: PhraseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try phrase.report(try location.openForReading(), json: output.json, listedAs: "changes", kinds: [.added, .removed])
    }
}

/// A version of a document as `diff` and `compare` name it.
struct VersionSpec {
    var asOf: AsOf
    var said: String

    /// `N` (a version) or `@T` (a time).
    static func parse(_ text: String, option: String) throws -> VersionSpec {
        if text.hasPrefix("@") { return VersionSpec(asOf: .time(try parseTime(String(text.dropFirst()), option: option)), said: String(text.dropFirst())) }
        if text.hasPrefix("#") { return try parse(String(text.dropFirst()), option: option) }
        guard let v = UInt64(text), v >= 1 else {
            throw ValidationError("\(option) must be a version (1, 2, …) or @time, not \"\(text)\"")
        }
        return VersionSpec(asOf: .version(v), said: text)
    }
}

func diffJSON(_ pieces: [TextDiff.Piece]) -> JSONValue {
    .array(pieces.map { p in
        var fields: [String: JSONValue] = ["kind": .string(p.kind.rawValue), "text": .string(p.text)]
        if let move = p.move { fields["move"] = .int(Int64(move)) }
        return .object(fields)
    })
}

func printDiff(_ pieces: [TextDiff.Piece]) {
    var out = ""
    for p in pieces {
        switch p.kind {
        case .same: out += p.text
        case .removed: out += "[-\(p.text)-]"
        case .added: out += "{+\(p.text)+}"
        case .movedAway: out += "[<\(p.move ?? 0):\(p.text)<]"
        case .movedHere: out += "{>\(p.move ?? 0):\(p.text)>}"
        }
    }
    print(out, terminator: out.hasSuffix("\n") ? "" : "\n")
}

func stateJSON(_ s: DocumentState) -> JSONValue {
    .object([
        "document": .string(s.document), "version": .int(Int64(s.version)), "at": .string(s.event.at.iso8601),
        "actor": .string(s.event.actor), "position": .int(Int64(s.event.position)), "contentHash": .string((s.event.committedHash ?? s.contentHash).hex),
    ])
}

func wordCount(_ pieces: [TextDiff.Piece], _ kinds: Set<TextDiff.Kind>) -> Int {
    pieces.filter { kinds.contains($0.kind) }.reduce(0) { $0 + PhraseMatcher.words(of: $1.text).count }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "What changed between two versions of a document, word by word (default: its last change).",
        discussion: "FROM and TO are versions (3) or times (@2023-12-28T20:00:00Z). With FROM alone, TO is the latest version. Plain output marks [-removed-], {+added+}, and moves as [<n:…<] where text left and {>n:…>} where it arrived.")

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    @Argument(help: ArgumentHelp("The older version or @time.", valueName: "from")) var from: String?
    @Argument(help: ArgumentHelp("The newer version or @time.", valueName: "to")) var to: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let from { _ = try VersionSpec.parse(from, option: "FROM") }
        if let to { _ = try VersionSpec.parse(to, option: "TO") }
    }

    func run() throws {
        let ledger = try location.open(readOnly: true)
        let latest = try resolveState(ledger, document, .latest, said: "")
        let old: DocumentState, new: DocumentState
        if let from {
            let f = try VersionSpec.parse(from, option: "FROM")
            old = try resolveState(ledger, document, f.asOf, said: f.said)
            if let to {
                let t = try VersionSpec.parse(to, option: "TO")
                new = try resolveState(ledger, document, t.asOf, said: t.said)
            } else {
                new = latest
            }
        } else {
            new = latest
            old = latest.version > 1 ? try resolveState(ledger, document, .version(latest.version - 1), said: "") : latest
        }
        let said = { (s: DocumentState) in s.status == .retracted ? "" : s.text }
        let pieces = TextDiff.diff(old: said(old), new: said(new))
        if output.json {
            printJSON(.object([
                "document": .string(document), "from": stateJSON(old), "to": stateJSON(new), "pieces": diffJSON(pieces),
                "removedWords": .int(Int64(wordCount(pieces, [.removed]))), "addedWords": .int(Int64(wordCount(pieces, [.added]))),
                "movedWords": .int(Int64(wordCount(pieces, [.movedHere]))),
            ]))
            return
        }
        print("\(document): v\(old.version) (\(old.event.at.iso8601), \(old.event.actor)) → v\(new.version) (\(new.event.at.iso8601), \(new.event.actor))")
        printDiff(pieces)
    }
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Two documents side by side — two publishers' versions of one statement: what one says that the other does not.",
        discussion: "Each side is DOC, DOC@TIME or DOC#VERSION (default: the latest version). Plain output marks text only in the first as [-…-] and only in the second as {+…+}.")

    @OptionGroup var location: LedgerOptions
    @Argument(help: ArgumentHelp("The first document, DOC[@TIME|#VERSION].", valueName: "doc1")) var first: String
    @Argument(help: ArgumentHelp("The second document, DOC[@TIME|#VERSION].", valueName: "doc2")) var second: String
    @OptionGroup var output: OutputOptions

    /// Splits DOC@T / DOC#N, preferring a document ID that exists as written.
    func side(_ ledger: Ledger, _ text: String, _ name: String) throws -> DocumentState {
        if try ledger.document(text) != nil { return try resolveState(ledger, text, .latest, said: "") }
        for marker: Character in ["#", "@"] {
            if let index = text.lastIndex(of: marker) {
                let document = String(text[..<index]), spec = String(text[text.index(after: index)...])
                guard try ledger.document(document) != nil else { continue }
                let parsed = try VersionSpec.parse(marker == "@" ? "@" + spec : spec, option: name)
                return try resolveState(ledger, document, parsed.asOf, said: parsed.said)
            }
        }
        throw LedgerError(.notFound, "there is no document \"\(text)\" in the ledger")
    }

    func run() throws {
        let ledger = try location.open(readOnly: true)
        let a = try side(ledger, first, "DOC1"), b = try side(ledger, second, "DOC2")
        let said = { (s: DocumentState) in s.status == .retracted ? "" : s.text }
        let pieces = TextDiff.diff(old: said(a), new: said(b))
        let onlyFirst = pieces.filter { $0.kind == .removed }.map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        let onlySecond = pieces.filter { $0.kind == .added }.map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        if output.json {
            printJSON(.object([
                "first": stateJSON(a), "second": stateJSON(b), "pieces": diffJSON(pieces),
                "onlyInFirst": .array(onlyFirst.map(JSONValue.string)), "onlyInSecond": .array(onlySecond.map(JSONValue.string)),
            ]))
            return
        }
        print("\(a.document) v\(a.version) (\(a.event.actor)) ↔ \(b.document) v\(b.version) (\(b.event.actor))")
        print("only in \(a.document):")
        for text in onlyFirst { print("  - \(oneLine(text))") }
        print("only in \(b.document):")
        for text in onlySecond { print("  + \(oneLine(text))") }
    }
}
