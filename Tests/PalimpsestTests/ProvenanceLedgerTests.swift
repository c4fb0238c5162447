import Foundation
import Palimpsest
import PalimpsestTestSupport
import PalimpsestText
import Testing

/// The communiqué questions of DESIGN.md §1, answered through the library.
@Suite(.enabled(if: Communique.available, "needs ../shared/seed"))
struct CommuniqueProvenanceTests {
    func ledger<R>(_ body: (Ledger) throws -> R) throws -> R {
        try withTemporaryLedger { ledger in
            try ledger.append(contentsOf: try Communique.events())
            return try body(ledger)
        }
    }

    @Test func whoRemovedDemocraticDecline() throws {
        try ledger { ledger in
            let history = try ledger.phraseHistory(PhraseQuery("democratic decline"))
            #expect(history.usedIndex)
            let removals = history.removals
            try #require(removals.count == 1)
            let r = removals[0]
            #expect(r.event.document == Communique.whiteHouse && r.event.version == 2 && r.event.actor == "The White House")
            #expect(r.event.at == Timestamp(iso8601: "2023-12-28T21:00:00Z"))
            #expect(r.occurrencesBefore == 1 && r.occurrencesAfter == 0)
            #expect(r.lastSeen?.version == 1 && r.lastSeen?.at == Timestamp(iso8601: "2023-12-28T15:00:00Z"))
            #expect(r.context.phrase == "democratic decline")
            #expect(r.context.before.hasSuffix("poverty, inequality, ") && r.context.after.hasPrefix(", and violence"))
            #expect(r.originallyBy?.version == 1 && r.originallyBy?.document == Communique.whiteHouse)
            #expect(r.restoredBy.isEmpty)
            // Its whole life: added by the first publication, removed by the reissue; never in the Mexican version.
            #expect(history.changes.map { [$0.kind.rawValue, $0.event.document, "\($0.event.version)"] } == [
                ["added", Communique.whiteHouse, "1"], ["removed", Communique.whiteHouse, "2"],
            ])
            #expect(try ledger.phraseHistory(PhraseQuery("democratic decline", document: Communique.mexico)).changes.isEmpty)
            #expect(try ledger.phraseHistory(PhraseQuery("DEMOCRATIC DECLINE")).changes.isEmpty)
            #expect(try ledger.phraseHistory(PhraseQuery("DEMOCRATIC  decline", ignoringCase: true)).removals.count == 1)
            #expect(try ledger.phraseHistory(PhraseQuery("democratic decline", until: Timestamp(iso8601: "2023-12-28T20:00:00Z"))).removals.isEmpty)
        }
    }

    @Test func blameCreditsEachWordAndRoundTrips() throws {
        try ledger { ledger in
            let texts = try Communique.texts()
            let first = try #require(try ledger.blame(Communique.whiteHouse, asOf: .version(1)))
            #expect(first.tokens.map(\.text).joined() == texts.firstPublished)
            let democratic = try #require(first.tokens.first { $0.text.hasPrefix("democratic") })
            #expect(democratic.origin.version == 1 && democratic.origin.actor == "The White House")
            #expect(democratic.removedBy.isEmpty, "as of version 1 nothing was removed yet")
            let latest = try #require(try ledger.blame(Communique.whiteHouse))
            #expect(latest.version == 2 && latest.tokens.map(\.text).joined() == texts.reissued)
            #expect(latest.tokens.allSatisfy { $0.origin.version == 1 }, "the reissue only removed words")
            #expect(!latest.tokens.contains { $0.text.hasPrefix("democratic") })
            let byTime = try #require(try ledger.blame(Communique.whiteHouse, asOf: .time(Timestamp(iso8601: "2023-12-28T16:00:00Z")!)))
            #expect(byTime.version == 1)
        }
    }

    @Test func diffAndCompareShowThePhrase() throws {
        let texts = try Communique.texts()
        let change = TextDiff.diff(old: texts.firstPublished, new: texts.reissued)
        #expect(change.filter { $0.kind == .removed }.map(\.text).joined() == "democratic decline, ")
        #expect(!change.contains { $0.kind == .added })
        let versions = TextDiff.diff(old: texts.firstPublished, new: texts.mexican)
        #expect(versions.filter { $0.kind == .removed }.map(\.text).joined().contains("democratic decline"))
        #expect(!versions.filter { $0.kind == .added }.map(\.text).joined().contains("democratic decline"))
    }
}

@Suite struct ProvenanceBadInputTests {
    func ledger<R>(_ body: (Ledger) throws -> R) throws -> R {
        try withTemporaryLedger { ledger in
            let t0 = Timestamp(iso8601: "2024-01-01T00:00:00Z")!
            try ledger.append(NewEvent(document: "d", change: .publish(text: "la la la land. One two three."), at: t0, actor: "a"))
            try ledger.append(NewEvent(document: "d", change: .edit(text: "la la land. One two three four."), at: t0, actor: "b"))
            try ledger.append(NewEvent(document: "d", change: .retract(reason: "gone"), at: t0, actor: "c"))
            return try body(ledger)
        }
    }

    @Test func emptyAndBlankPhrasesAreRefused() throws {
        try ledger { ledger in
            for phrase in ["", " \n\t "] {
                #expect(throws: LedgerError.self) { try ledger.phraseHistory(PhraseQuery(phrase)) }
                do { _ = try ledger.phraseHistory(PhraseQuery(phrase)) } catch let error as LedgerError { #expect(error.code == .invalidInput) }
            }
        }
    }

    @Test func unknownDocumentIsNotFound() throws {
        try ledger { ledger in
            do {
                _ = try ledger.phraseHistory(PhraseQuery("la", document: "nope"))
                Issue.record("no error")
            } catch let error as LedgerError { #expect(error.code == .notFound && error.message.contains("nope")) }
            #expect(try ledger.blame("nope") == nil)
            #expect(try ledger.blame("d", asOf: .version(4)) == nil)
            #expect(try ledger.blame("d", asOf: .time(Timestamp(iso8601: "2023-01-01T00:00:00Z")!)) == nil)
        }
    }

    @Test func blameOfAWithdrawnVersionIsAConflict() throws {
        try ledger { ledger in
            do {
                _ = try ledger.blame("d")
                Issue.record("no error")
            } catch let error as LedgerError { #expect(error.code == .conflict) }
            #expect(try ledger.blame("d", asOf: .version(2))?.tokens.map(\.text).joined() == "la la land. One two three four.")
        }
    }

    /// Phrases the index cannot count (too long, or able to overlap themselves) are scanned, with the
    /// same rule.
    @Test func longAndSelfOverlappingPhrasesAreScanned() throws {
        try ledger { ledger in
            let overlapping = try ledger.phraseHistory(PhraseQuery("la la"))
            #expect(!overlapping.usedIndex)
            // "la la la" holds one non-overlapping "la la", "la la land" one too: the edit changed nothing;
            // the withdrawal removed it.
            #expect(overlapping.changes.map { "\($0.kind.rawValue)@\($0.event.version)" } == ["added@1", "removed@3"])
            let words = (1...40).map { "w\($0)" }.joined(separator: " ")
            try ledger.append(NewEvent(document: "long", change: .publish(text: "x " + words + " y"), at: Timestamp(iso8601: "2024-01-02T00:00:00Z")!, actor: "a"))
            try ledger.append(NewEvent(document: "long", change: .edit(text: "x y"), at: Timestamp(iso8601: "2024-01-03T00:00:00Z")!, actor: "b"))
            let long = try ledger.phraseHistory(PhraseQuery(words))
            #expect(!long.usedIndex)
            #expect(long.changes.map { "\($0.kind.rawValue)@\($0.event.version)" } == ["added@1", "removed@2"])
            #expect(long.removals.first?.context.phrase == words)
        }
    }
}

/// The phrase index against a brute-force count over every version, on real history.
@Suite(.enabled(if: Corpora.available, "needs ../shared/corpora"))
struct PhraseIndexBruteForceTests {
    @Test func indexAgreesWithAScanOfEveryVersion() throws {
        try withTemporaryLedger { ledger in
            _ = try importJSONL(ledger, Corpora.sitePolicyLines.prefix(250).joined(separator: "\n"), batchEvents: 150)
            let phrases = try BruteForce.phrases(ledger, limit: 120)
            #expect(phrases.count >= 100)
            let folding = phrases.indices.map { $0 % 5 == 0 }
            let scanned = try BruteForce.changes(ledger, phrases: phrases, ignoringCase: folding)
            var changes = 0
            for (k, phrase) in phrases.enumerated() {
                let expected = scanned[k]
                let found = try ledger.phraseHistory(PhraseQuery(phrase, ignoringCase: folding[k])).changes.map { "\($0.event.position):\($0.kind.rawValue)" }
                #expect(found == expected, "\(phrase.debugDescription)")
                changes += expected.count
                // Paging through the removals, a few at a time, lists the same removals.
                if k % 4 == 0 {
                    var paged: [String] = []
                    var after: UInt64? = nil
                    var pages = 0
                    repeat {
                        let page = try ledger.phraseChanges(PhraseQuery(phrase, ignoringCase: folding[k]), kinds: [.removed], after: after, limit: k % 3 + 1)
                        try page.forEach { paged.append("\($0.event.position):\($0.kind.rawValue)") }
                        #expect(page.next == nil || page.count == k % 3 + 1)
                        after = page.next
                        pages += 1
                    } while after != nil && pages < 1000
                    #expect(paged == expected.filter { $0.hasSuffix(":removed") }, "\(phrase.debugDescription)")
                }
            }
            #expect(changes > 150, "the phrases should change often enough to test something")
        }
    }
}

/// The projections' memory between events is only a cache: appending one event at a time, reopening
/// the ledger in between, or after a refused transaction, gives exactly what a rebuild gives.
@Suite(.enabled(if: Corpora.available, "needs ../shared/corpora"))
struct ProvenanceProjectionStateTests {
    @Test func reopeningBetweenEventsAndFailedTransactionsChangeNothing() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger"
            _ = try Ledger.create(at: path)
            let lines = Array(Corpora.sitePolicyLines.prefix(60))
            for (k, line) in lines.enumerated() {
                let ledger = try Ledger.open(at: path)
                _ = try importJSONL(ledger, line)
                if k % 10 == 5 {
                    // A transaction refused after folding its first event leaves nothing behind.
                    let info = try #require(try ledger.documents().first)
                    var bad = NewEvent(document: info.id, change: .edit(text: "refused"), at: Timestamp(iso8601: "2030-01-01T00:00:00Z")!, actor: "x")
                    bad.expectedVersion = .exact(999)
                    let good = NewEvent(document: "scratch-\(k)", change: .publish(text: "folded then rolled back"), at: Timestamp(iso8601: "2030-01-01T00:00:00Z")!, actor: "x")
                    #expect(throws: LedgerError.self) { try ledger.append(contentsOf: [good, bad]) }
                }
            }
            let ledger = try Ledger.open(at: path)
            #expect(try ledger.verifyProjections().isEmpty)
            // And the same answers as a ledger built in one go.
            try withTemporaryLedger { fresh in
                _ = try importJSONL(fresh, lines.joined(separator: "\n"))
                for info in try fresh.documents() where info.status == .active {
                    #expect(try ledger.blame(info.id)?.tokens.map(\.origin.source) == fresh.blame(info.id)?.tokens.map(\.origin.source))
                }
            }
        }
    }
}

/// The phrase index's postings are kept in buckets of log positions: a history longer than a few
/// buckets, with the phrase coming and going in several documents, is answered exactly as the
/// texts say, whether the events came in one transaction or many.
@Suite struct PhrasePostingsAcrossBucketsTests {
    @Test(arguments: [2000, 97])
    func aLongHistoryIsAnsweredExactly(batchEvents: Int) throws {
        var random = SeededGenerator(seed: 4242)
        let documents = ["alpha", "beta", "gamma", "delta"]
        var published = Set<String>()
        var counts: [String: Int] = [:]
        var lines: [String] = []
        var expected: [String] = []
        for position in 1...2600 {
            let doc = documents[Int.random(in: 0..<documents.count, using: &random)]
            let occurrences = Int.random(in: 0...4, using: &random) < 3 ? 0 : Int.random(in: 1...2, using: &random)
            var text = "Revision \(position) of \(doc). The ministers met in the capital."
            for k in 0..<occurrences { text += " Root cause \(k): democratic decline in the region." }
            text += " Further steps follow."
            let before = counts[doc] ?? 0
            if before != occurrences { expected.append("\(position):\(occurrences > before ? "added" : "removed")") }
            counts[doc] = occurrences
            let type = published.insert(doc).inserted ? "publish" : "edit"
            let seconds = 1_700_000_000 + position
            let at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            lines.append(#"{"type":"\#(type)","doc":"\#(doc)","actor":"editor \#(position % 7)","at":"\#(at)","text":"\#(text)"}"#)
        }
        try withTemporaryLedger { ledger in
            _ = try importJSONL(ledger, lines.joined(separator: "\n"), batchEvents: batchEvents)
            try ledger.waitForProjections()
            let history = try ledger.phraseHistory(PhraseQuery("democratic decline"))
            #expect(history.usedIndex)
            let found = history.changes.map { "\($0.event.position):\($0.kind.rawValue)" }
            #expect(expected.count > 300, "the phrase should come and go often")
            #expect(found == expected)
            // One document alone, and the removals paged from the middle of the history.
            let beta = try ledger.phraseHistory(PhraseQuery("democratic decline", document: "beta")).changes.map { "\($0.event.position):\($0.kind.rawValue)" }
            #expect(beta == expected.filter { line in lines[Int(line.split(separator: ":")[0])! - 1].contains(#""doc":"beta""#) })
            let page = try ledger.phraseChanges(PhraseQuery("democratic decline"), kinds: [.removed], after: 1500, limit: 5)
            var paged: [String] = []
            try page.forEach { paged.append("\($0.event.position):\($0.kind.rawValue)") }
            #expect(paged == Array(expected.filter { $0.hasSuffix(":removed") && Int($0.split(separator: ":")[0])! > 1500 }.prefix(5)))
        }
    }
}
