import Foundation
import LMDB
import Palimpsest
import PalimpsestTestSupport
import Testing

/// An embedder's heavy projection, folded behind the writer: the number of words of each document.
/// `failOn` makes its fold throw for one document (an embedder's bug), until it is cleared (fixed).
struct FollowingWords: Projection {
    let failOn: FailSwitch
    var name: String { "following-words" }
    var lifecycle: ProjectionLifecycle { .following }
    var version: UInt64 { 1 }
    var tableNames: [String] { ["counts"] }

    struct Bug: Error, CustomStringConvertible { var description: String { "the embedder's fold cannot count this document" } }

    func apply(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        if failOn.document == event.document { throw Bug() }
        let words = UInt64(text?.split(whereSeparator: { $0.isWhitespace }).count ?? 0)
        try txn.put(tables["counts"], key: Array(event.document.utf8), value: BigEndianKey.encode(words))
    }
}

final class FailSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    init(_ document: String? = nil) { value = document }
    var document: String? {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

func followingCounts(_ ledger: Ledger) throws -> [String: UInt64] {
    try ledger.read(projection: "following-words") { tables, txn in
        var result: [String: UInt64] = [:]
        try txn.scan(tables["counts"]) { k, v in
            result[String(decoding: k, as: UTF8.self)] = BigEndianKey.decode(v)
            return true
        }
        return result
    }
}

@Suite struct FollowingProjectionTests {
    func deferred(_ projections: [any Projection] = [], readOnly: Bool = false) -> Ledger.Options {
        var o = Ledger.Options()
        o.projections = projections
        o.deferFollowingProjections = true
        o.readOnly = readOnly
        return o
    }

    @Test func anAppendCommitsTheLogAloneAndAReaderBringsTheProjectionToTheHead() throws {
        try withTemporaryDirectory { dir throws in
            let ledger = try Ledger.create(at: dir + "/l", options: deferred([FollowingWords(failOn: FailSwitch())]))
            try ledger.append(publish("a", "one two three"))
            try ledger.append(contentsOf: [publish("b", "four"), edit("a", "five six", at: at(1))])
            // Deferred: nothing folded the following projections yet; inline ones are current.
            #expect(try ledger.checkpoint(of: "following-words").map(\.position) ?? 0 == 0)
            #expect(try ledger.checkpoint(of: "provenance").map(\.position) ?? 0 == 0)
            #expect(try ledger.checkpoint(of: "statistics")?.position == 3)
            #expect(try ledger.followingProjectionsLag().map(\.behind).sorted() == [3, 3, 3])
            // A reader of a following projection folds what it lacks first.
            #expect(try followingCounts(ledger) == ["a": 2, "b": 1])
            #expect(try ledger.checkpoint(of: "following-words")?.position == 3)
            #expect(try ledger.blame("a")?.tokens.map(\.text).joined().filter { !$0.isWhitespace } == "fivesix")
            #expect(try ledger.followingProjectionsLag().map(\.behind) == [0, 0, 0])
            #expect(try ledger.verifyProjections() == [])
        }
    }

    @Test func theProjectorFoldsBehindTheWriterOnItsOwn() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(contentsOf: (0..<50).map { publish("d\($0)", "root causes of migration \($0)") })
            // Bounded wait: the projector was woken by the commit.
            var waited = 0
            while try ledger.checkpoint(of: "phrases")?.position != 50 || ledger.checkpoint(of: "provenance")?.position != 50 {
                #expect(waited < 400, "the projector did not fold 50 events in 20 s")
                if waited >= 400 { break }
                Thread.sleep(forTimeInterval: 0.05)
                waited += 1
            }
            #expect(try ledger.phraseHistory(PhraseQuery("causes of migration")).changes.count == 50)
        }
    }

    @Test func aFoldThatThrowsNamesItsProjectionAndPositionWhileTheLogGoesOn() throws {
        try withTemporaryDirectory { dir throws in
            let bug = FailSwitch("bad")
            let ledger = try Ledger.create(at: dir + "/l", options: deferred([FollowingWords(failOn: bug)]))
            try ledger.append(publish("good", "one"))
            try ledger.append(publish("bad", "two words"))
            try ledger.append(publish("later", "three more words"))
            let error = #expect(throws: LedgerError.self) { try ledger.waitForProjections() }
            #expect(error?.message.contains("\"following-words\"") == true)
            #expect(error?.message.contains("position 2") == true)
            // Nothing at or after the failing event was folded into it.
            #expect(try ledger.checkpoint(of: "following-words").map(\.position) ?? 0 < 2)
            // The log goes on, and the other following projections are not held back.
            try ledger.append(edit("good", "one again", at: at(1)))
            #expect(try ledger.head().position == 4)
            #expect(try ledger.blame("later")?.tokens.map(\.text).joined().filter { !$0.isWhitespace } == "threemorewords")
            #expect(throws: LedgerError.self) { _ = try followingCounts(ledger) }
            // Fixed: it resumes where it stopped.
            bug.document = nil
            try ledger.waitForProjections()
            #expect(try followingCounts(ledger) == ["good": 2, "bad": 2, "later": 3])
            #expect(try ledger.verifyProjections() == [])
        }
    }

    @Test func aReadOnlyLedgerSaysHowFarBehindAFollowingProjectionIs() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path, options: deferred([FollowingWords(failOn: FailSwitch())]))
                try ledger.append(publish("a", "one"))
                try ledger.waitForProjections()
                try ledger.append(contentsOf: [publish("b", "two"), publish("c", "three")])
            }
            let reader = try Ledger.open(at: path, options: deferred([FollowingWords(failOn: FailSwitch())], readOnly: true))
            let error = #expect(throws: LedgerError.self) { _ = try followingCounts(reader) }
            #expect(error?.message.contains("2 of 3 events behind") == true, "\(error?.message ?? "")")
            // Its own code (exit 5, as storage): the CLI, which opened read-only because everything
            // was current a moment before, then runs the command again writable.
            #expect(error?.code == .projectionBehind && error?.code.exitCode == 5)
            // What the log answers is still answered.
            #expect(try reader.state(of: "c")?.text == "three")
        }
    }

    @Test func foldsGiveTheSameTablesHoweverTheProjectorBatchedThem() throws {
        // The projector folds in rounds of whatever had been appended; a rebuild folds everything in
        // one pass: the tables must be equal, byte for byte.
        try withTemporaryLedger { ledger throws in
            var rng = SeededGenerator(seed: 7)
            let words = ["democratic", "decline", "poverty", "inequality", "and", "violence", "root", "causes"]
            for round in 0..<20 {
                let batch = (0..<Int(rng.next() % 6 + 1)).map { i -> NewEvent in
                    let text = (0..<Int(rng.next() % 40 + 1)).map { _ in words[Int(rng.next() % 8)] }.joined(separator: " ")
                    return round == 0 ? publish("d\(i)", text) : (try? ledger.state(of: "d\(i)")) != nil
                        ? edit("d\(i)", text, at: at(Int64(round * 10 + i))) : publish("d\(i)", text, at: at(Int64(round * 10 + i)))
                }
                try ledger.append(contentsOf: batch)
                if round % 3 == 0 { try ledger.waitForProjections() }
            }
            try ledger.waitForProjections()
            #expect(try ledger.verifyProjections() == [])
        }
    }
}
