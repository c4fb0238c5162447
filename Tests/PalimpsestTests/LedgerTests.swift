import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

let t0 = Timestamp(iso8601: "2023-12-28T15:00:00Z")!
func at(_ hours: Int64) -> Timestamp { Timestamp(milliseconds: t0.milliseconds + hours * 3_600_000) }

func publish(_ doc: String, _ text: String, at time: Timestamp = t0, actor: String = "White House", id: UUID? = nil) -> NewEvent {
    NewEvent(document: doc, change: .publish(text: text, title: "Joint Communiqué", language: "en"), at: time, actor: actor, eventID: id)
}

func edit(_ doc: String, _ text: String, at time: Timestamp, actor: String = "White House", expected: ExpectedVersion = .any, backdated: Bool = false) -> NewEvent {
    NewEvent(document: doc, change: .edit(text: text), at: time, actor: actor, expectedVersion: expected, allowBackdated: backdated)
}

/// Everything observable about a ledger, to prove a failed call changed nothing.
func snapshot(_ ledger: Ledger) throws -> (LogHead, [RecordedEvent], [DocumentInfo]) {
    (try ledger.head(), try ledger.events(), try ledger.documents())
}

func expectUnchanged(_ ledger: Ledger, _ body: () throws -> Void) throws {
    let before = try snapshot(ledger)
    try body()
    let after = try snapshot(ledger)
    #expect(before.0 == after.0)
    #expect(before.1 == after.1)
    #expect(before.2 == after.2)
}

func expectError(_ code: LedgerError.Code, containing fragment: String, _ body: () throws -> Void) {
    #expect {
        try body()
    } throws: { error in
        guard let error = error as? LedgerError else { return false }
        return error.code == code && error.message.contains(fragment)
    }
}

let withDecline = "Root causes of migration: poverty, inequality, democratic decline, and violence."
let withoutDecline = "Root causes of migration: poverty, inequality, and violence."

@Suite struct LedgerTests {
    @Test func recordsALifeAndReadsEveryVersionBack() throws {
        try withTemporaryLedger { ledger throws in
            let doc = "https://www.whitehouse.gov/briefing-room/statements-releases/2023/12/28/joint-communique"
            let r1 = try ledger.append(publish(doc, withDecline))
            let r2 = try ledger.append(edit(doc, withoutDecline, at: at(5)))
            let r3 = try ledger.append(NewEvent(document: doc, change: .retract(reason: "taken down", kind: .takedown), at: at(6), actor: "White House"))
            let r4 = try ledger.append(NewEvent(document: doc, change: .restore(text: withoutDecline), at: at(7), actor: "White House"))
            #expect([r1, r2, r3, r4].map(\.event.position) == [1, 2, 3, 4])
            #expect([r1, r2, r3, r4].map(\.event.version) == [1, 2, 3, 4])
            #expect([r1, r2, r3, r4].map(\.event.type) == [.published, .edited, .retracted, .restored])
            #expect(r3.event.contentHash == nil)
            #expect(r3.event.reason == "taken down" && r3.event.kind == .takedown)
            #expect(r1.event.title == "Joint Communiqué" && r1.event.language == "en")

            #expect(try ledger.state(of: doc, asOf: .version(1))?.text == withDecline)
            #expect(try ledger.state(of: doc, asOf: .version(2))?.text == withoutDecline)
            let retracted = try #require(try ledger.state(of: doc, asOf: .version(3)))
            #expect(retracted.status == .retracted && retracted.text == withoutDecline)
            #expect(try ledger.state(of: doc)?.version == 4)
            #expect(try ledger.state(of: doc, asOf: .version(5)) == nil)
            #expect(try ledger.state(of: doc, asOf: .version(0)) == nil)
            #expect(try ledger.state(of: "https://example.org/unknown") == nil)

            // As of a time: the communiqué at 15:00 had the phrase; at 23:00 it did not.
            #expect(try ledger.state(of: doc, asOf: .time(at(0)))?.text == withDecline)
            #expect(try ledger.state(of: doc, asOf: .time(at(8)))?.text == withoutDecline)
            #expect(try ledger.state(of: doc, asOf: .time(at(-1))) == nil)
            #expect(try ledger.state(of: doc, asOf: .time(Timestamp(milliseconds: at(5).milliseconds - 1)))?.version == 1)

            let info = try #require(try ledger.document(doc))
            #expect(info.version == 4 && info.status == .active && info.firstPosition == 1 && info.lastPosition == 4)
            #expect(info.contentHash == Digest.sha256(withoutDecline))
        }
    }

    @Test func whatTheLedgerKnewAtARecordedTime() throws {
        try withTemporaryLedger { ledger throws in
            // Effective times say 2023; recorded times are now: a back-filled history.
            let first = try ledger.append(publish("a", "one", at: at(0))).event
            Thread.sleep(forTimeInterval: 0.01)
            let second = try ledger.append(edit("a", "two", at: at(1))).event
            Thread.sleep(forTimeInterval: 0.01)
            try ledger.append(publish("b", "other", at: at(2)))
            #expect(second.recordedAt > first.recordedAt)
            #expect(try ledger.state(of: "a", asOf: .knownAt(first.recordedAt))?.text == "one")
            #expect(try ledger.state(of: "a", asOf: .knownAt(Timestamp(milliseconds: second.recordedAt.milliseconds - 1)))?.text == "one")
            #expect(try ledger.state(of: "a", asOf: .knownAt(second.recordedAt))?.text == "two")
            #expect(try ledger.state(of: "a", asOf: .knownAt(Timestamp(milliseconds: first.recordedAt.milliseconds - 1))) == nil)
            #expect(try ledger.state(of: "b", asOf: .knownAt(second.recordedAt)) == nil)
            // By effective time, by contrast, both versions are long in effect.
            #expect(try ledger.state(of: "a", asOf: .time(at(5)))?.text == "two")
        }
    }

    @Test func hashesChainAndCoverTheCanonicalForm() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(publish("a", "one"))
            try ledger.append(edit("a", "two", at: at(1)))
            try ledger.append(publish("b", "three", at: at(1)))
            let events = try ledger.events()
            #expect(events.first?.previousHash == .zero)
            for (previous, next) in zip(events, events.dropFirst()) {
                #expect(next.previousHash == previous.hash)
            }
            for e in events {
                #expect(e.hash == e.computeHash())
                #expect(e.hash == Digest.sha256(CanonicalJSON.encode(e.json(includingHash: false))))
                #expect(e.recordedAt >= events[0].recordedAt)
            }
            #expect(events[1].contentHash == Digest.sha256("two"))
            #expect(try ledger.head().hash == events.last!.hash)
        }
    }

    @Test func aRepeatedEventIDIsANoOp() throws {
        try withTemporaryLedger { ledger throws in
            let id = UUID()
            let first = try ledger.append(publish("a", "one", id: id))
            let again = try ledger.append(publish("a", "one", id: id))
            #expect(!first.wasAlreadyRecorded && again.wasAlreadyRecorded)
            #expect(again.event == first.event)
            #expect(try ledger.head().position == 1)
            // The same ID for another document is a conflict, not a silent skip.
            try expectUnchanged(ledger) {
                expectError(.conflict, containing: "already recorded") { try ledger.append(publish("b", "x", id: id)) }
            }
        }
    }

    @Test func eventIDsTheLedgerMakesAreVersion7AndCarryTheRecordedTime() throws {
        try withTemporaryLedger { ledger throws in
            var events: [RecordedEvent] = []
            for k in 0..<200 { events.append(try ledger.append(publish("doc-\(k)", "text \(k)")).event) }
            for event in events {
                let b = withUnsafeBytes(of: event.eventID.uuid) { Array($0) }
                #expect(b[6] >> 4 == 7, "version nibble of \(event.eventID)")
                #expect(b[8] >> 6 == 0b10, "variant bits of \(event.eventID)")
                let milliseconds = b[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                #expect(milliseconds == UInt64(event.recordedAt.milliseconds))
            }
            // Made one after another, in different milliseconds, they sort in the same order.
            let millisecondsApart = events.indices.dropFirst().filter { events[$0].recordedAt > events[$0 - 1].recordedAt }
            for k in millisecondsApart {
                #expect(events[k - 1].eventID.uuidString < events[k].eventID.uuidString)
            }
            #expect(Set(events.map(\.eventID)).count == events.count)
        }
    }

    @Test func expectedVersionGivesOptimisticConcurrency() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(publish("a", "one"))
            try expectUnchanged(ledger) {
                expectError(.conflict, containing: "expected version 3") { try ledger.append(edit("a", "two", at: at(1), expected: .exact(3))) }
                expectError(.conflict, containing: "expected no document") {
                    var e = publish("a", "x")
                    e.expectedVersion = .noStream
                    try ledger.append(e)
                }
            }
            #expect(try ledger.append(edit("a", "two", at: at(1), expected: .exact(1))).event.version == 2)
        }
    }

    @Test func refusesEventsThatDoNotFitTheDocument() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(publish("a", "one"))
            try ledger.append(NewEvent(document: "gone", change: .publish(text: "x"), at: t0, actor: "x"))
            try ledger.append(NewEvent(document: "gone", change: .retract(reason: "r"), at: at(1), actor: "x"))
            try expectUnchanged(ledger) {
                expectError(.notFound, containing: "no document \"nope\"") { try ledger.append(edit("nope", "x", at: at(1))) }
                expectError(.notFound, containing: "no document") { try ledger.append(NewEvent(document: "nope", change: .retract(reason: nil), at: at(1), actor: "x")) }
                expectError(.notFound, containing: "no document") { try ledger.append(NewEvent(document: "nope", change: .restore(text: "x"), at: at(1), actor: "x")) }
                expectError(.conflict, containing: "already published") { try ledger.append(publish("a", "again")) }
                expectError(.conflict, containing: "retracted") { try ledger.append(edit("gone", "x", at: at(2))) }
                expectError(.conflict, containing: "retracted") { try ledger.append(NewEvent(document: "gone", change: .retract(reason: nil), at: at(2), actor: "x")) }
                expectError(.conflict, containing: "restore") { try ledger.append(NewEvent(document: "gone", change: .publish(text: "x"), at: at(2), actor: "x")) }
                expectError(.conflict, containing: "not retracted") { try ledger.append(NewEvent(document: "a", change: .restore(text: "x"), at: at(2), actor: "x")) }
                expectError(.invalidInput, containing: "actor") { try ledger.append(NewEvent(document: "a", change: .edit(text: "x"), at: at(2), actor: "")) }
            }
        }
    }

    @Test func effectiveTimeMayNotGoBackwardsUnlessAllowed() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(publish("a", "one", at: at(10)))
            try expectUnchanged(ledger) {
                expectError(.conflict, containing: "earlier than the last event") { try ledger.append(edit("a", "two", at: at(9))) }
            }
            let r = try ledger.append(edit("a", "two", at: at(9), backdated: true))
            #expect(r.wasBackdated)
            try ledger.append(edit("a", "three", at: at(11)))
            // As of time = the latest version, in version order, whose effective time is at or before T.
            #expect(try ledger.state(of: "a", asOf: .time(at(9)))?.version == 2)
            #expect(try ledger.state(of: "a", asOf: .time(at(10)))?.version == 2)
            #expect(try ledger.state(of: "a", asOf: .time(at(12)))?.version == 3)
            #expect(try ledger.state(of: "a", asOf: .time(at(8))) == nil)
            let info = try #require(try ledger.document("a"))
            #expect(!info.effectiveTimesAreMonotonic && info.backdatedEvents == 1)
        }
    }

    @Test(arguments: [
        ("", "empty"),
        (String(repeating: "x", count: 1025), "1025 bytes"),
        ("a\u{0}b", "control character"),
        ("line\nbreak", "control character"),
        ("del\u{7F}", "control character"),
        ("c1\u{85}", "control character"),
    ])
    func refusesBadDocumentIDs(id: String, fragment: String) throws {
        try withTemporaryLedger { ledger throws in
            try expectUnchanged(ledger) {
                expectError(.invalidInput, containing: fragment) { try ledger.append(publish(id, "x")) }
            }
        }
    }

    @Test func acceptsLongUnicodeAndPathLikeIDsAndEmptyText() throws {
        try withTemporaryLedger { ledger throws in
            let ids = [String(repeating: "é", count: 512), "../../etc/passwd", "https://sre.gob.mx/comunicado?id=1&lang=es", "López Obrador/Bárcena"]
            for id in ids { try ledger.append(publish(id, "")) }
            for id in ids {
                #expect(try ledger.state(of: id)?.text == "")
                #expect(try ledger.document(id)?.id == id)
            }
            #expect(try ledger.documents().map(\.id).sorted() == ids.sorted())
        }
    }

    @Test func aBatchIsAllOrNothing() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(publish("a", "one"))
            try expectUnchanged(ledger) {
                expectError(.notFound, containing: "event 3 of 3") {
                    try ledger.append(contentsOf: [publish("b", "two"), edit("a", "three", at: at(1)), edit("missing", "x", at: at(1))])
                }
            }
            let results = try ledger.append(contentsOf: [publish("b", "two"), edit("a", "three", at: at(1)), edit("b", "four", at: at(2))])
            #expect(results.map(\.event.position) == [2, 3, 4])
            #expect(results.map(\.event.version) == [1, 2, 2])
        }
    }

    @Test func theLogFiltersAndPages() throws {
        try withTemporaryLedger { ledger throws in
            for i in 0..<2500 {
                let doc = "doc\(i % 7)"
                if i < 7 {
                    try ledger.append(publish(doc, "v\(i)", at: at(Int64(i)), actor: "a\(i % 3)"))
                } else {
                    try ledger.append(contentsOf: [edit(doc, "v\(i)", at: at(Int64(i)), actor: "a\(i % 3)")])
                }
            }
            #expect(try ledger.events().count == 2500)
            #expect(try ledger.events(from: 2400).map(\.position) == Array(2400...2500))
            let doc3Count = (0..<2500).filter { $0 % 7 == 3 }.count
            #expect(try ledger.events(matching: EventFilter(document: "doc3")).count == doc3Count)
            #expect(try ledger.events(matching: EventFilter(actor: "a1")).allSatisfy { $0.actor == "a1" })
            #expect(try ledger.events(matching: EventFilter(since: at(100), until: at(109))).map(\.position) == Array(101...110))
            #expect(try ledger.events(limit: 3).map(\.position) == [1, 2, 3])
            #expect(try ledger.events(of: "doc3")?.map(\.version) == Array(1...UInt64(doc3Count)))
            #expect(try ledger.events(of: "nope") == nil)
            #expect(try ledger.state(of: "doc0", asOf: .time(at(1000)))?.text == "v994")
        }
    }

    @Test func longHistoriesReadAnyVersionExactly() throws {
        // Property: every version of a long, randomly edited history reads back exactly, across
        // delta chains, full copies, reverts (deduplicated texts) and a reopen.
        try withTemporaryDirectory { dir throws in
            var rng = SeededGenerator(seed: 3)
            var texts: [String] = []
            var text = (0..<400).map { "Sentence \($0) about migration and democratic decline." }.joined(separator: " ")
            do {
                let ledger = try Ledger.create(at: dir + "/l")
                try ledger.append(publish("doc", text))
                texts.append(text)
                for v in 1..<150 {
                    var words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0 where texts.count > 3: words = texts[texts.count - 3].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                    case 1: words.removeSubrange(0..<min(words.count, Int.random(in: 0...20, using: &rng)))
                    default: words.insert("edit\(v)", at: Int.random(in: 0...words.count, using: &rng))
                    }
                    text = words.joined(separator: " ")
                    try ledger.append(edit("doc", text, at: at(Int64(v))))
                    texts.append(text)
                }
            }
            let reopened = try Ledger.open(at: dir + "/l")
            for (n, expected) in texts.enumerated() {
                #expect(try reopened.state(of: "doc", asOf: .version(UInt64(n + 1)))?.text == expected)
            }
        }
    }

    @Test func theAsyncAPIAppendsAndReads() async throws {
        let dir = NSTemporaryDirectory() + "palimpsest-async-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ledger = try Ledger.create(at: dir)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask { _ = try await ledger.append(publish("doc\(i)", "text \(i)")) }
            }
            try await group.waitForAll()
        }
        #expect(try await ledger.documents().count == 20)
        #expect(try await ledger.events().map(\.position) == Array(1...20))
        #expect(try await ledger.state(of: "doc7")?.text == "text 7")
    }
}

@Suite struct LedgerDirectoryTests {
    @Test func createIsIdempotentAndKeepsTheID() throws {
        try withTemporaryDirectory { dir throws in
            let id = try Ledger.create(at: dir + "/l").id
            #expect(try Ledger.create(at: dir + "/l").id == id)
            #expect(try Ledger.open(at: dir + "/l").id == id)
        }
    }

    @Test func theDirectoryIsOwnerOnly() throws {
        try withTemporaryDirectory { dir throws in
            _ = try Ledger.create(at: dir + "/l")
            let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/l")
            #expect((attributes[.posixPermissions] as? Int) == 0o700)
            let data = try FileManager.default.attributesOfItem(atPath: dir + "/l/data.mdb")
            #expect((data[.posixPermissions] as? Int) == 0o600)
        }
    }

    @Test func openingWhatIsNotALedgerSaysSo() throws {
        try withTemporaryDirectory { dir throws in
            expectError(.notFound, containing: "no ledger") { _ = try Ledger.open(at: dir + "/missing") }
            try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: false)
            expectError(.notFound, containing: "no ledger") { _ = try Ledger.open(at: dir + "/empty") }
            try FileManager.default.createDirectory(atPath: dir + "/other", withIntermediateDirectories: false)
            try Data("hello".utf8).write(to: URL(fileURLWithPath: dir + "/other/notes.txt"))
            expectError(.storage, containing: "not a Palimpsest ledger") { _ = try Ledger.open(at: dir + "/other") }
            expectError(.storage, containing: "not empty") { _ = try Ledger.create(at: dir + "/other") }
            try FileManager.default.createDirectory(atPath: dir + "/garbage", withIntermediateDirectories: false)
            try Data(repeating: 0x41, count: 16384).write(to: URL(fileURLWithPath: dir + "/garbage/data.mdb"))
            expectError(.storage, containing: "not a Palimpsest ledger") { _ = try Ledger.open(at: dir + "/garbage") }
            try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/file"))
            expectError(.storage, containing: "not a directory") { _ = try Ledger.open(at: dir + "/file") }
        }
    }

    @Test func aReadOnlyLedgerReadsButRefusesWrites() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path)
                try ledger.append(publish("a", "one"))
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: path)
            let ledger = try Ledger.open(at: path)
            #expect(ledger.isReadOnly)
            #expect(try ledger.state(of: "a")?.text == "one")
            try expectUnchanged(ledger) {
                expectError(.storage, containing: "read-only") { try ledger.append(edit("a", "two", at: at(1))) }
            }
        }
    }

    @Test func aLedgerFromANewerBuildIsRefused() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do { _ = try Ledger.create(at: path) }
            // Rewrite the stored format number with the LMDB command-line tools' library: python's lmdb
            // is not a dependency, so do it through our own LMDB wrapper's public surface instead.
            try LedgerFormatTampering.setFormat(999, at: path)
            expectError(.storage, containing: "newer Palimpsest") { _ = try Ledger.open(at: path) }
        }
    }

    @Test func theMapGrowsAsTheLedgerDoes() throws {
        var options = Ledger.Options()
        options.initialMapSize = 512 << 10
        try withTemporaryLedger(options: options) { ledger throws in
            var rng = SeededGenerator(seed: 5)
            for i in 0..<60 {
                let text = String((0..<50_000).map { _ in Character(Unicode.Scalar(UInt8.random(in: 97...122, using: &rng))) })
                try ledger.append(publish("doc\(i)", text))
            }
            #expect(try ledger.head().position == 60)
            #expect(try ledger.state(of: "doc59")?.text.count == 50_000)
        }
    }
}
