import Foundation
import PalimpsestTestSupport
import Testing

@testable import Palimpsest

/// How texts are chained: keyframes instead of full copies when a chain is full, and restorations
/// after a blanking stored as deltas. Every version must still read back exactly.
@Suite struct TextStoreChainTests {
    @Test func keyframesAndRestorationsKeepEveryVersionExact() throws {
        try withTemporaryDirectory { dir throws in
            var rng = SeededGenerator(seed: 41)
            // Long enough that a chain's worth of edits is a small delta, as on a real page.
            var words = (0..<1500).map { "word\($0 % 97)" }
            // Past the point where keyframes give way to a new full copy, and then some.
            let versions = Self.recordsPerFullCopy + 150
            var texts: [String] = []
            var restorations: [String] = []
            var blankedFor = 0
            do {
                let ledger = try Ledger.create(at: dir + "/l")
                for v in 0..<versions {
                    let text: String
                    if v % 150 == 75 { blankedFor = 3 }
                    if blankedFor > 0 {
                        // A vandal's blanking, three versions long, then a restoration with an edit.
                        text = "BLANKED"
                        blankedFor -= 1
                    } else {
                        let i = Int.random(in: 0..<words.count, using: &rng)
                        if Bool.random(using: &rng) { words.insert("edit\(v)", at: i) } else { words[i] = "change\(v)" }
                        text = words.joined(separator: " ")
                        if texts.last == "BLANKED" { restorations.append(text) }
                    }
                    try ledger.append(v == 0 ? publish("doc", text) : edit("doc", text, at: at(Int64(v))))
                    texts.append(text)
                }
            }
            let reopened = try Ledger.open(at: dir + "/l")
            for (n, expected) in texts.enumerated() {
                #expect(try reopened.state(of: "doc", asOf: .version(UInt64(n + 1)))?.text == expected, "version \(n + 1)")
            }
            #expect(try reopened.verify().firstProblem == nil)

            let store = reopened.tables.textStore
            let records = try reopened.reading { txn in
                var numbers: [UInt64] = []
                try txn.scan(store.records) { key, _ in
                    numbers.append(BigEndianKey.decode(key))
                    return true
                }
                return try numbers.map { number in (depth: try store.depth(of: number, in: txn)!, size: try Self.textSize(of: number, store, txn)) }
            }
            #expect(records.allSatisfy { $0.depth < TextStore.maxChainDepth })
            // Full copies of the long text: the first version, then one each time the keyframes run out.
            let longFullCopies = records.filter { $0.depth == 0 && $0.size > TextStore.ancestorSearchThreshold }.count
            #expect(longFullCopies >= 1 && longFullCopies <= 1 + versions / Self.recordsPerFullCopy)
            #expect(restorations.count >= 4)
            for restoration in restorations {
                let depth = try reopened.reading { txn in
                    try store.number(of: Digest.sha256(Array(restoration.utf8)), in: txn).flatMap { try store.depth(of: $0, in: txn) }
                }
                #expect((depth ?? 0) > 0, "a restoration after a blanking is a delta, not a full copy")
            }
        }
    }

    /// Records from one full copy to the next: the full copy's chain, then each keyframe's chain one
    /// record shorter than the one before.
    static let recordsPerFullCopy = (0..<TextStore.maxKeyframeDepth).map { TextStore.maxChainDepth - $0 }.reduce(0, +)

    /// The text size a record's header gives (the format byte, then the size as a varint).
    static func textSize(of number: UInt64, _ store: TextStore, _ txn: borrowing ReadTransaction) throws -> Int {
        try txn.withValue(store.records, key: BigEndianKey.encode(number)) { value -> Int in
            var size = 0, shift = 0, i = 1
            while true {
                let byte = value[i]
                size |= Int(byte & 0x7F) << shift
                if byte < 0x80 { return size }
                shift += 7
                i += 1
            }
        }!
    }
}
