import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// Word-level provenance on the whole site-policy history: `removed` and `trace` against the
/// corpus's answer key (git log -S, oracle.jsonl), and the phrase index against a brute-force scan
/// of every version for hundreds of phrases.
@Suite(.serialized, .enabled(if: Corpora.available, "needs ../shared/corpora"))
struct SitePolicyProvenanceEndToEndTests {
    static let oracle = Corpora.directory + "/site-policy/oracle.jsonl"

    func withLedger<R>(_ body: (String) throws -> R) throws -> R {
        try withTemporaryDirectory { dir throws in
            let ledger = dir + "/ledger"
            try palimpsest("--ledger", ledger, "init")
            let result = try run("/bin/sh", ["-c", "xz -dc '\(Corpora.sitePolicyEvents)' | '\(palimpsestExecutable)' --ledger '\(ledger)' import jsonl -"])
            #expect(result.status == 0, "\(result.err)")
            return try body(ledger)
        }
    }

    @Test func removedAndTraceMatchTheOracleExactly() throws {
        try withLedger { ledger throws in
            let records = try String(contentsOfFile: Self.oracle, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
            #expect(records.count >= 30)
            var events = 0
            for record in records {
                let phrase = try #require(record["phrase"]?.stringValue), document = try #require(record["doc"]?.stringValue)
                func sources(_ key: String) -> [String] {
                    guard case .array(let list)? = record[key] else { return [] }
                    return list.compactMap { $0["source"]?.stringValue }
                }
                let removed = try palimpsest("--ledger", ledger, "removed", phrase, "--doc", document, "--json")
                #expect(removed.status == 0, "\(removed.err)")
                guard case .array(let removals)? = try JSONParser.parse(removed.out.trimmingCharacters(in: .newlines))["removals"] else {
                    Issue.record("no removals for \(phrase)"); continue
                }
                #expect(removals.compactMap { $0["source"]?.stringValue } == sources("removals"), "removed \(phrase.debugDescription) in \(document)")

                let traced = try palimpsest("--ledger", ledger, "trace", phrase, "--doc", document, "--json")
                guard case .array(let changes)? = try JSONParser.parse(traced.out.trimmingCharacters(in: .newlines))["changes"] else {
                    Issue.record("no changes for \(phrase)"); continue
                }
                let added = changes.filter { $0["change"]?.stringValue == "added" }.compactMap { $0["source"]?.stringValue }
                let gone = changes.filter { $0["change"]?.stringValue == "removed" }.compactMap { $0["source"]?.stringValue }
                #expect(added == sources("additions"), "trace (added) \(phrase.debugDescription) in \(document)")
                #expect(gone == sources("removals"), "trace (removed) \(phrase.debugDescription) in \(document)")
                events += changes.count
            }
            #expect(events > 60)
        }
    }

    @Test func thePhraseIndexNeverMissesOverTheWholeHistory() throws {
        try withLedger { path throws in
            let ledger = try Ledger.open(at: path)
            let phrases = try BruteForce.phrases(ledger, limit: 400)
            #expect(phrases.count >= 300)
            let folding = phrases.indices.map { $0 % 4 == 0 }
            let scanned = try BruteForce.changes(ledger, phrases: phrases, ignoringCase: folding)
            var changes = 0
            for (k, phrase) in phrases.enumerated() {
                let found = try ledger.phraseHistory(PhraseQuery(phrase, ignoringCase: folding[k])).changes.map { "\($0.event.position):\($0.kind.rawValue)" }
                let expected = scanned[k]
                #expect(found == expected, "\(phrase.debugDescription)")
                changes += expected.count
            }
            #expect(changes > 1000)
        }
    }
}
