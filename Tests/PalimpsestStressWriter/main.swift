// A writer for the crash and concurrency tests (Tests/CLITests/CrashTests.swift, tools/crash-test):
// appends random edits to a ledger through the library, in transactions of 1 to 20 events, and after
// each commit returns writes one line per event, "position hash", to a side file. Whatever the side
// file lists was acknowledged as committed: after a SIGKILL at any moment, every line must be in the
// ledger with the same hash.
//
//   PalimpsestStressWriter LEDGER SIDEFILE SEED [EVENTS]   (EVENTS: stop after that many; default: never)
//   PalimpsestStressWriter --hold-reader DIR               opens the LMDB environment in DIR, starts a read
//                                                          transaction, prints "holding" and waits (to be killed)
import Foundation
import LMDB
import Palimpsest

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let args = CommandLine.arguments
if args.count == 3, args[1] == "--hold-reader" {
    do {
        let env = try Environment(path: args[2])
        try env.read { _ in
            FileHandle.standardOutput.write(Data("holding\n".utf8))
            while true { sleep(60) }
        }
    } catch {
        FileHandle.standardError.write(Data("PalimpsestStressWriter: \(error)\n".utf8))
        exit(1)
    }
}
guard args.count >= 4, let seed = UInt64(args[3]) else {
    FileHandle.standardError.write(Data("usage: PalimpsestStressWriter LEDGER SIDEFILE SEED [EVENTS]\n".utf8))
    exit(2)
}
let limit = args.count > 4 ? Int(args[4]) ?? Int.max : Int.max
let side = open(args[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
guard side >= 0 else {
    FileHandle.standardError.write(Data("cannot open \(args[2])\n".utf8))
    exit(2)
}
var rng = SplitMix(state: seed)
let words = ["the", "root", "causes", "of", "migration", "poverty", "inequality", "democratic", "decline", "violence", "and", "Mexico", "United", "States", "joint", "communiqué", "López", "—", "2023"]
func sentence(_ rng: inout SplitMix) -> String {
    (0..<Int.random(in: 3...14, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ") + "."
}
do {
    // A 1 MiB map: LMDB starts it at the size of the data already written, so nearly every run grows
    // the map — and a kill can land while it grows, or while another writer has just grown it.
    var options = Ledger.Options()
    options.initialMapSize = 1 << 20
    let ledger = try Ledger.create(at: args[1], options: options)
    var written = 0
    while written < limit {
        var texts: [String: String] = [:]
        var batch: [NewEvent] = []
        for _ in 0..<Int.random(in: 1...20, using: &rng) {
            let document = "writer-\(seed)-doc-\(Int.random(in: 0..<30, using: &rng))"
            let text = (0..<Int.random(in: 1...6, using: &rng)).map { _ in sentence(&rng) }.joined(separator: "\n\n")
            let exists = try texts[document] != nil || ledger.document(document) != nil
            texts[document] = text
            var event = NewEvent(document: document, change: exists ? .edit(text: text) : .publish(text: text), at: .now(), actor: "writer \(seed)")
            event.allowBackdated = true
            batch.append(event)
        }
        let results = try ledger.append(contentsOf: batch)
        var lines = ""
        for result in results { lines += "\(result.event.position) \(result.event.hash.hex)\n" }
        let bytes = Array(lines.utf8)
        guard write(side, bytes, bytes.count) == bytes.count else { exit(3) }
        written += results.count
    }
} catch {
    FileHandle.standardError.write(Data("PalimpsestStressWriter: \(error)\n".utf8))
    exit(1)
}
