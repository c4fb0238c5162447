// A writer of a shared ledger for the PostgreSQL tests (Tests/SharedLedgerTests) and tools/bench-shared:
// appends EVENTS events through its own replica, BATCH per transaction, and after each commit returns
// prints one line per event, "ack EVENT-ID POSITION", and flushes: whatever it printed was
// acknowledged as durable. Event IDs are derived from NAME and the event's number, so a batch that
// failed with a lost connection is appended again with the same IDs (recorded once either way).
// Every 10th batch also tries to edit the document "contended" at the version its replica last saw:
// when another writer got there first, that is a conflict, counted and printed ("conflict").
// At the end prints one JSON line: {"acked", "conflicts", "retries", "seconds", "latencies" (ms per commit)}.
//
//   PalimpsestSharedWriter URL REPLICA NAME EVENTS BATCH
import Crypto
import Foundation
import Palimpsest
import PalimpsestPostgres

let args = CommandLine.arguments
guard args.count == 6, let total = Int(args[4]), let batchSize = Int(args[5]), batchSize > 0 else {
    FileHandle.standardError.write(Data("usage: PalimpsestSharedWriter URL REPLICA NAME EVENTS BATCH\n".utf8))
    exit(2)
}
let (url, replica, name) = (args[1], args[2], args[3])

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The ID of this writer's event `n`: the same on every attempt.
func eventID(_ n: Int) -> UUID {
    let d = Array(SHA256.hash(data: Array("\(name)/\(n)".utf8)))
    return UUID(uuid: (d[0], d[1], d[2], d[3], d[4], d[5], d[6] & 0x0F | 0x80, d[7], d[8] & 0x3F | 0x80, d[9], d[10], d[11], d[12], d[13], d[14], d[15]))
}

func open() -> (Ledger, PostgresSharedLog)? {
    do {
        let log = try PostgresSharedLog(url: url)
        return (try Replicator.openReplica(of: log, in: replica, appending: true), log)
    } catch {
        FileHandle.standardError.write(Data("PalimpsestSharedWriter \(name): \(error)\n".utf8))
        return nil
    }
}

var opened = open()
while opened == nil {
    Thread.sleep(forTimeInterval: 0.2)
    opened = open()
}
let (ledger, _) = opened!
var acked = 0, conflicts = 0, retries = 0
var latencies: [Double] = []
let started = Date()
var n = 0
var batchNumber = 0
while n < total {
    let count = min(batchSize, total - n)
    let events = (n..<n + count).map { i in
        let document = "\(name)/doc-\(i % 20)"
        let text = "Version \(i / 20) of \(document), written by \(name).\nIts words change: \(String(repeating: "word\(i) ", count: 1 + i % 7))\n"
        let change: Change = i < 20 ? .publish(text: text) : .edit(text: text)
        return NewEvent(document: document, change: change, at: Timestamp(milliseconds: 1_700_000_000_000 + Int64(i) * 1000), actor: name, eventID: eventID(i), allowBackdated: true)
    }
    let begun = DispatchTime.now()
    do {
        let results = try ledger.append(contentsOf: events)
        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - begun.uptimeNanoseconds) / 1e6)
        var lines = ""
        for r in results { lines += "ack \(r.event.eventID.uuidString.lowercased()) \(r.event.position)\n" }
        FileHandle.standardOutput.write(Data(lines.utf8))
        acked += results.count
        n += count
    } catch {
        // A lost connection or a restarting server: the same events again, same IDs.
        retries += 1
        FileHandle.standardError.write(Data("PalimpsestSharedWriter \(name): \(error.message); retrying\n".utf8))
        Thread.sleep(forTimeInterval: 0.1)
        continue
    }
    batchNumber += 1
    if batchNumber % 10 == 0 {
        let seen = (try? ledger.document("contended")?.version) ?? nil
        let change: Change = seen == nil ? .publish(text: "contended by \(name)\n") : .edit(text: "contended by \(name) at \(batchNumber)\n")
        let attempt = NewEvent(document: "contended", change: change, at: Timestamp(milliseconds: 1_800_000_000_000), actor: name, expectedVersion: seen.map { .exact($0) } ?? .noStream, allowBackdated: true)
        do {
            let r = try ledger.append(attempt)
            say("ack \(r.event.eventID.uuidString.lowercased()) \(r.event.position)")
            acked += 1
        } catch where error.code == .conflict {
            conflicts += 1
            say("conflict")
        } catch {
            retries += 1
        }
    }
}
let seconds = Date().timeIntervalSince(started)
let summary: [String: Any] = ["acked": acked, "conflicts": conflicts, "retries": retries, "seconds": seconds, "latencies": latencies]
say(String(decoding: try! JSONSerialization.data(withJSONObject: summary), as: UTF8.self))
