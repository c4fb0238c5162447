import PalimpsestTestSupport
import Testing

@testable import Palimpsest

/// The readers of stored provenance structures that skip work (a delta chain started from a version
/// decoded before; token IDs without paragraphs and sentences) give what the plain readers give.
@Suite struct ProvenanceStructureTests {
    @Test func shortcutsReadTheSameStructuresAsThePlainReaders() throws {
        try withTemporaryLedger { ledger in
            var rng = SeededGenerator(seed: 39)
            let vocabulary = ["the", "root", "causes", "of", "migration", "democratic", "decline", "poverty", "and", "violence", "López", "Bárcena"]
            var words = (0..<60).map { _ in vocabulary.randomElement(using: &rng)! }
            func text() -> String { stride(from: 0, to: words.count, by: 12).map { words[$0..<min(words.count, $0 + 12)].joined(separator: " ") + "." }.joined(separator: "\n\n") }
            // More versions than one full copy's interval, so chains start at a full copy and at a known version.
            let versions = Int(ProvenanceProjection.fullCopyInterval) + 40
            let start = Timestamp(iso8601: "2024-01-01T00:00:00Z")!
            for v in 1...versions {
                if v > 1 {
                    for _ in 0..<Int.random(in: 1...4, using: &rng) {
                        let i = Int.random(in: 0..<words.count, using: &rng)
                        switch Int.random(in: 0..<3, using: &rng) {
                        case 0: words.insert(vocabulary.randomElement(using: &rng)!, at: i)
                        case 1 where words.count > 10: words.remove(at: i)
                        default: words[i] = vocabulary.randomElement(using: &rng)!
                        }
                    }
                }
                let at = Timestamp(milliseconds: start.milliseconds + Int64(v) * 60_000)
                let change: Change = v == 1 ? .publish(text: text(), title: "Structures", language: "en") : .edit(text: text())
                try ledger.append(NewEvent(document: "structures", change: change, at: at, actor: "editor"))
            }
            try ledger.read(projection: "provenance") { tables, txn in
                let doc = ProvenanceProjection.documentKey("structures")
                var previous: (version: UInt64, bytes: [UInt8])? = nil
                var compared = 0
                for version in 1...UInt64(versions) {
                    let plain = try ProvenanceProjection.structureBytes(doc, version: version, tables: tables, in: txn)
                    let known = previous
                    let shortcut = try ProvenanceProjection.structureBytes(
                        doc, version: version, known: { v in v == known?.version ? known?.bytes : nil }, tables: tables, in: txn)
                    #expect(shortcut == plain, "version \(version)")
                    let ids = try ProvenanceProjection.decodeTokenIDs(plain)
                    #expect(ids == (try ProvenanceProjection.decodeStructure(plain)).flatMap { $0.sentences.flatMap(\.tokens) }, "version \(version)")
                    #expect(!ids.isEmpty)
                    previous = (version, plain)
                    compared += 1
                }
                #expect(compared == versions)
            }
            #expect(throws: LedgerError.self) { try ProvenanceProjection.decodeTokenIDs([0x05, 0x01]) }
        }
    }

    @Test func tokenIDSetAnswersAsASetDoes() {
        var rng = SeededGenerator(seed: 40)
        for round in 0..<50 {
            let ids = (0..<Int.random(in: 0...300, using: &rng)).map { _ in Int32.random(in: (round % 5 == 0 ? -20 : 0)...5_000, using: &rng) }
            let set = Set(ids), bitmap = TokenIDSet(ids)
            let disagreeing = (Int32(-30)...5_100).filter { bitmap.contains($0) != set.contains($0) }
            #expect(disagreeing.isEmpty, "\(disagreeing.prefix(5)) of \(ids.count) IDs")
        }
    }
}
