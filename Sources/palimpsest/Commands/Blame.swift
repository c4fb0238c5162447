import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation
import PalimpsestText

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
        try location.readingLedger { ledger in
            let asOf: AsOf = try version.map(AsOf.version) ?? at.map { .time(try parseTime($0, option: "--at")) } ?? .latest
            let state = try Answers.state(ledger, document, asOf, said: at ?? "")
            if output.json {
                try writeJSON(ledger, version: state.version)
                return
            }
            let runs = try Answers.blameRuns(ledger, document, version: state.version)
            let lines = runs.map { ($0.origin.line, oneLine($0.text)) }
            let width = lines.map { $0.0.count }.max() ?? 0
            let out = StreamedOutput()
            for (origin, text) in lines {
                out.append(origin + String(repeating: " ", count: width - origin.count) + "  │ " + text + "\n")
            }
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
        // The opening is written with the first token (or at the end): a read that fails before
        // any token leaves nothing printed, so that `readingLedger` may run the command again.
        var opened = false
        func open() {
            guard !opened else { return }
            opened = true
            out.append { b in
                b.append(contentsOf: Array(#"{"document":"#.utf8))
                CanonicalJSON.writeString(document, into: &b)
                b.append(contentsOf: Array((runs ? #","runs":["# : #","tokens":["#).utf8))
            }
        }
        var first = true
        if runs {
            var current: (origin: EventReference, text: String)? = nil
            func emit(_ run: (origin: EventReference, text: String)) {
                open()
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
                open()
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
        open()
        out.append("],\"version\":\(version)}\n")
    }
}

