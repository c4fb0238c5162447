import Foundation
import LMDB
import Palimpsest
import PalimpsestTestSupport
import Testing

@Suite struct VerifyTests {
    @Test func aCleanLedgerVerifies() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(contentsOf: [publish("a", "one"), edit("a", "two", at: at(1)), publish("b", "one")])
            let report = try ledger.verify(projections: true)
            #expect(report.isClean && report.events == 3 && report.texts == 2)
        }
    }

    @Test func aTamperedEventIsFoundByPosition() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path)
                try ledger.append(contentsOf: [publish("a", "one", actor: "Alice"), edit("a", "two", at: at(1), actor: "Alice")])
            }
            // Change one letter of the second event's actor, keeping the record's shape.
            do {
                let env = try Environment(path: path)
                let log = try #require(try env.openDatabases(["log"])["log"])
                try env.write { txn in
                    var record = try #require(try txn.get(log, key: BigEndianKey.encode(2)))
                    let name = Array("Alice".utf8)
                    let at = try #require((0...(record.count - name.count)).first { Array(record[$0..<$0 + name.count]) == name })
                    record[at] = UInt8(ascii: "M")
                    try txn.put(log, key: BigEndianKey.encode(2), value: record)
                }
            }
            let ledger = try Ledger.open(at: path, options: { var o = Ledger.Options(); o.readOnly = true; return o }())
            let report = try ledger.verify()
            #expect(report.firstProblem?.hasPrefix("position 2: its hash does not match its content") == true)
        }
    }

    @Test func aDamagedIndexIsFoundAndRebuilt() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path)
                try ledger.append(contentsOf: [publish("a", "one"), edit("a", "two", at: at(1)), publish("b", "x")])
            }
            do {
                // Lose one event-ID entry.
                let env = try Environment(path: path)
                let dbs = try env.openDatabases(["eventIDs", "streams"])
                try env.write { txn in
                    let first = try #require(try txn.last(dbs["eventIDs"]!))
                    try txn.delete(dbs["eventIDs"]!, key: first.key)
                }
            }
            let ledger = try Ledger.open(at: path)
            let report = try ledger.verify()
            #expect(report.firstProblem?.contains("eventIDs") == true, "\(report.firstProblem ?? "nil")")
            try ledger.rebuildIndexes()
            #expect(try ledger.verify().isClean)
        }
    }

    @Test func statisticsCountTypesAndActors() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(contentsOf: [
                publish("a", "one", at: at(0), actor: "WH"), edit("a", "two", at: at(1), actor: "WH"),
                publish("b", "x", at: at(2), actor: "SRE"),
                NewEvent(document: "a", change: .retract(reason: "gone"), at: at(3), actor: "WH"),
            ])
            let stats = try ledger.statistics()
            #expect(stats.events == 4 && stats.documents == 2 && stats.retractedDocuments == 1)
            #expect(stats.eventsByType == [.published: 2, .edited: 1, .retracted: 1])
            #expect(stats.actors.map(\.name) == ["WH", "SRE"])
            #expect(stats.actors[0].events == 3 && stats.actors[0].documents == 1)
            #expect(stats.actors[0].firstAt == at(0) && stats.actors[0].lastAt == at(3))
        }
    }
}
