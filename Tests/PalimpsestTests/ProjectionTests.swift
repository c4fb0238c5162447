import Foundation
import LMDB
import Palimpsest
import PalimpsestTestSupport
import Testing

/// What an embedding tool might keep: the number of words of each document's latest text, and the
/// number of events per actor.
struct WordCounts: Projection {
    var version: UInt64 = 1
    var name: String { "words" }
    var tableNames: [String] { ["counts", "actors"] }

    func apply(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        if let text {
            let words = UInt64(text.split(whereSeparator: { $0.isWhitespace }).count) * (version == 1 ? 1 : 1000)
            try txn.put(tables["counts"], key: Array(event.document.utf8), value: BigEndianKey.encode(words))
        }
        let actor = Array(event.actor.utf8)
        let seen = try txn.get(tables["actors"], key: actor).map { BigEndianKey.decode($0) } ?? 0
        try txn.put(tables["actors"], key: actor, value: BigEndianKey.encode(seen + 1))
    }
}

func options(_ projections: [any Projection], readOnly: Bool = false) -> Ledger.Options {
    var o = Ledger.Options()
    o.projections = projections
    o.readOnly = readOnly
    return o
}

func counts(_ ledger: Ledger) throws -> [String: UInt64] {
    try ledger.read(projection: "words") { tables, txn in
        var result: [String: UInt64] = [:]
        try txn.scan(tables["counts"]) { k, v in
            result[String(decoding: k, as: UTF8.self)] = BigEndianKey.decode(v)
            return true
        }
        return result
    }
}

@Suite struct ProjectionTests {
    @Test func aRegisteredProjectionFoldsEveryAppendInTheSameTransaction() throws {
        try withTemporaryDirectory { dir throws in
            let ledger = try Ledger.create(at: dir + "/l", options: options([WordCounts()]))
            try ledger.append(publish("a", "one two three"))
            try ledger.append(contentsOf: [publish("b", "four"), edit("a", "five six", at: at(1))])
            #expect(try counts(ledger) == ["a": 2, "b": 1])
            #expect(try ledger.checkpoint(of: "words") == ProjectionCheckpoint(version: 1, position: 3))
            // A refused append folds nothing.
            #expect(throws: LedgerError.self) { try ledger.append(edit("missing", "x", at: at(2))) }
            #expect(try ledger.checkpoint(of: "words")?.position == 3)
            #expect(try ledger.verifyProjections() == [])
        }
    }

    @Test func rebuiltEqualsIncrementalForRandomHistories() throws {
        // Property: whatever the sequence of events (and batches), the incrementally maintained
        // tables equal a rebuild from position 1, byte for byte.
        for seed in 0..<15 {
            try withTemporaryDirectory { dir throws in
                var rng = SeededGenerator(seed: UInt64(seed))
                let ledger = try Ledger.create(at: dir + "/l", options: options([WordCounts()]))
                var status: [String: Bool] = [:]  // document → active
                var clock: Int64 = 0
                for _ in 0..<Int.random(in: 5...60, using: &rng) {
                    let doc = "doc\(Int.random(in: 0..<5, using: &rng))"
                    let words = (0..<Int.random(in: 0...12, using: &rng)).map { _ in ["poverty", "decline", "violence", "and"].randomElement(using: &rng)! }.joined(separator: " ")
                    let actor = ["WH", "SRE", "State"].randomElement(using: &rng)!
                    clock += 1
                    let change: Change
                    switch status[doc] {
                    case nil: change = .publish(text: words); status[doc] = true
                    case true?: change = Bool.random(using: &rng) ? .edit(text: words) : .retract(reason: "r"); status[doc] = change.type != .retracted
                    case false?: change = .restore(text: words); status[doc] = true
                    }
                    try ledger.append(NewEvent(document: doc, change: change, at: at(clock), actor: actor))
                }
                #expect(try ledger.verifyProjections() == [], "seed \(seed)")
                let before = try counts(ledger)
                try ledger.rebuildProjection(named: "words")
                #expect(try counts(ledger) == before)
            }
        }
    }

    /// A transaction that fills the map is aborted and run again from the start after the map grows:
    /// every projection, the built-in ones with memory between events among them, folds each event
    /// once, and a rebuild (here, into the scratch tables `verifyProjections` compares) skips none.
    @Test func aTransactionRunAgainAfterTheMapGrewFoldsEachEventOnce() throws {
        try withTemporaryDirectory { dir throws in
            var o = options([WordCounts()])
            // LMDB starts a map set smaller than the data at the data's size: reopening with 1 MiB
            // makes the next transaction fill the map part way through, wherever that lands.
            o.initialMapSize = 1 << 20
            var rng = SeededGenerator(seed: 21)
            let words = ["root", "causes", "of", "migration", "democratic", "decline", "violence", "poverty"]
            func text() -> String { (0..<Int(rng.next() % 100 + 20)).map { _ in words[Int(rng.next() % 8)] }.joined(separator: " ") }
            var appended = 0
            for round in 0..<30 {
                let ledger = try Ledger.create(at: dir + "/l", options: o)
                let batch = (0..<15).map { i in
                    let document = "doc-\(i % 6)"
                    let exists = round > 0 || i >= 6
                    return exists ? edit(document, text(), at: at(Int64(appended + i))) : publish(document, text(), at: at(Int64(appended + i)))
                }
                try ledger.append(contentsOf: batch)
                appended += batch.count
                // Rebuilding into the scratch tables to compare fills the map too.
                let mismatches = try ledger.verifyProjections()
                #expect(mismatches.isEmpty, "round \(round): \(mismatches.map(\.description))")
            }
            #expect(try Ledger.open(at: dir + "/l", options: o).head().position == UInt64(appended))
        }
    }

    @Test func catchesUpOnOpenAndRebuildsWhenItsVersionChanges() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path, options: options([WordCounts()]))
                try ledger.append(publish("a", "one two"))
            }
            do {
                // Another tool appends without the projection.
                let ledger = try Ledger.open(at: path)
                try ledger.append(edit("a", "one two three", at: at(1)))
                try ledger.append(publish("b", "x"))
            }
            do {
                let ledger = try Ledger.open(at: path, options: options([WordCounts()]))
                #expect(try ledger.checkpoint(of: "words")?.position == 3)
                #expect(try counts(ledger) == ["a": 3, "b": 1])
                // fold(first part) then fold(tail) == fold(all), byte for byte.
                #expect(try ledger.verifyProjections() == [])
            }
            do {
                // New logic: rebuilt from position 1, not served stale.
                let ledger = try Ledger.open(at: path, options: options([WordCounts(version: 2)]))
                #expect(try ledger.checkpoint(of: "words") == ProjectionCheckpoint(version: 2, position: 3))
                #expect(try counts(ledger) == ["a": 3000, "b": 1000])
            }
            // A read-only ledger refuses a projection that is not current.
            do {
                let ledger = try Ledger.open(at: path)
                try ledger.append(publish("c", "y"))
            }
            let stale = try Ledger.open(at: path, options: options([WordCounts(version: 2)], readOnly: true))
            #expect(throws: LedgerError.self) { _ = try counts(stale) }
            #expect(try stale.state(of: "c")?.text == "y")
        }
    }

    @Test func aLedgerKeptOpenFoldsWhatAnotherWriterAppendedWithoutItsProjection() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            let withProjection = try Ledger.create(at: path, options: options([WordCounts()]))
            try withProjection.append(publish("a", "one two"))
            // Another process, without the projection, appends meanwhile.
            var plain = Ledger.Options()
            plain.builtInProjections = true
            let script = CanonicalJSON.string(["type": "publish", "doc": "b", "at": "2023-12-28", "actor": "other", "text": "three four five"])
            let other = try palimpsest(["--ledger", path, "import", "jsonl", "-"], input: Data(script.utf8))
            #expect(other.status == 0, "\(other.err)")
            // The next append through the ledger that stayed open folds the missed event first.
            try withProjection.append(edit("a", "six", at: at(1)))
            #expect(try counts(withProjection) == ["a": 1, "b": 3])
            #expect(try withProjection.checkpoint(of: "words")?.position == 3)
            #expect(try withProjection.verifyProjections() == [])
        }
    }

    @Test func rebuildsReportProgress() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path)
                try ledger.append(contentsOf: (0..<2500).map { publish("d\($0)", "t") })
            }
            let seen = ProgressLog()
            var o = options([WordCounts()])
            o.projectionProgress = { name, position, head in seen.add(name, position, head) }
            _ = try Ledger.open(at: path, options: o)
            #expect(seen.entries.filter { $0.0 == "words" }.map(\.1) == [2000, 2500])
            #expect(seen.entries.allSatisfy { $0.2 == 2500 })
        }
    }

    @Test func verifyNamesTheFirstDifferenceOfATamperedProjection() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path, options: options([WordCounts()]))
                try ledger.append(contentsOf: [publish("a", "one two"), publish("b", "three")])
            }
            do {
                let env = try Environment(path: path)
                let table = try #require(try env.openDatabases(["projection.words.counts"])["projection.words.counts"])
                try env.write { txn in try txn.put(table, key: Array("b".utf8), value: BigEndianKey.encode(99)) }
            }
            let ledger = try Ledger.open(at: path, options: options([WordCounts()]))
            let mismatches = try ledger.verifyProjections()
            #expect(mismatches == [ProjectionMismatch(projection: "words", table: "counts", key: "62", what: "the live value differs from the rebuilt one")])
            try ledger.rebuildProjection(named: "words")
            #expect(try ledger.verifyProjections() == [])
            #expect(throws: LedgerError.self) { try ledger.rebuildProjection(named: "nope") }
        }
    }

    @Test func bulkImportsFoldIntoProjectionsToo() throws {
        guard Corpora.available else { return }
        try withTemporaryDirectory { dir throws in
            let ledger = try Ledger.create(at: dir + "/l", options: options([WordCounts()]))
            _ = try importJSONL(ledger, Corpora.sitePolicyLines.prefix(200).joined(separator: "\n"))
            #expect(try ledger.checkpoint(of: "words")?.position == 200)
            #expect(try ledger.verifyProjections() == [])
        }
    }
}

final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var log: [(String, UInt64, UInt64)] = []
    func add(_ name: String, _ position: UInt64, _ head: UInt64) { lock.withLock { log.append((name, position, head)) } }
    var entries: [(String, UInt64, UInt64)] { lock.withLock { log } }
}

@Suite struct IndexRebuildTests {
    @Test func theCatalogueAndStreamsRebuildFromTheLogIdentically() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(contentsOf: [
                publish("a", "one", at: at(5)), edit("a", "two", at: at(3), backdated: true), publish("b", "x", at: at(1)),
                NewEvent(document: "a", change: .retract(reason: "r", kind: .takedown), at: at(6), actor: "WH"),
                NewEvent(document: "a", change: .restore(text: "three"), at: at(7), actor: "SRE"),
                NewEvent(document: "c", change: .publish(text: "", title: "T", language: "es", variantOf: "a"), at: at(8), actor: "SRE"),
            ])
            if Corpora.available { _ = try importJSONL(ledger, Corpora.sitePolicyLines.prefix(150).joined(separator: "\n")) }
            let documents = try ledger.documents(), head = try ledger.head(), events = try ledger.events()
            var states: [DocumentState?] = []
            for doc in documents { for v in 1...doc.version { states.append(try ledger.state(of: doc.id, asOf: .version(v))) } }
            try ledger.rebuildIndexes()
            #expect(try ledger.documents() == documents)
            #expect(try ledger.head() == head)
            #expect(try ledger.events() == events)
            var after: [DocumentState?] = []
            for doc in documents { for v in 1...doc.version { after.append(try ledger.state(of: doc.id, asOf: .version(v))) } }
            #expect(after == states)
            #expect(try ledger.event(id: events[2].eventID) == events[2])
            #expect(try ledger.verify(projections: true).isClean)
            // Appending goes on from the rebuilt head and catalogue.
            #expect(try ledger.append(edit("b", "y", at: at(9))).event.version == 2)
        }
    }
}
