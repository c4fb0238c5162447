import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// One process imports while others run `blame` and `removed`: the following projections fold behind
/// the importer (in its projector, and in each reader that catches them up), and no reader ever sees a
/// projection that disagrees with the log it reports.
@Suite struct ConcurrentReaderTests {
    /// Version v of the document: "democratic decline" in odd versions only, and a word per version.
    static func text(_ v: Int) -> String {
        let filler = (0..<40).map { "w\($0 * 7 % 13)" }.joined(separator: " ")
        return "Root causes of migration: poverty, inequality, " + (v % 2 == 1 ? "democratic decline, " : "") + "and violence. Version \(v). " + filler + "\n"
    }

    @Test func readersDuringAnImportSeeProjectionsThatAgreeWithTheLog() throws {
        try withCLILedger { ledger throws in
            let versions = 400
            let lines = (1...versions).map { v in
                CanonicalJSON.string([
                    "type": .string(v == 1 ? "publish" : "edit"), "doc": "d", "at": .string(Timestamp(milliseconds: 1_700_000_000_000 + Int64(v) * 60_000).iso8601),
                    "actor": .string("editor \(v % 3)"), "text": .string(Self.text(v)),
                ])
            }.joined(separator: "\n")
            let importing = DispatchGroup()
            nonisolated(unsafe) var imported: ProcessOutput? = nil
            importing.enter()
            DispatchQueue.global().async {
                imported = try? palimpsest(["--ledger", ledger, "import", "jsonl", "-"], input: Data(lines.utf8))
                importing.leave()
            }
            var blames = 0, removals = 0
            // Bounded: the readers stop when the import has ended (and at most 400 rounds).
            for _ in 0..<400 {
                let done = importing.wait(timeout: .now()) == .success
                let blame = try cli(ledger, "blame", "d", "--json")
                if blame.status == 0 {
                    let json = try JSONParser.parse(blame.out.trimmingCharacters(in: .newlines))
                    let version = Int(json["version"]?.intValue ?? 0)
                    guard case .array(let tokens)? = json["tokens"] else { Issue.record("no tokens"); break }
                    // The blame is of the version it names: its words are that version's.
                    #expect(tokens.compactMap { $0["text"]?.stringValue }.joined() == Self.text(version), "blame of version \(version)")
                    blames += 1
                } else {
                    #expect(blame.err.contains("no document"), "\(blame.err)")
                }
                let removed = try cli(ledger, "removed", "democratic decline", "--json")
                #expect(removed.status == 0, "\(removed.err)")
                if removed.status == 0, case .array(let found)? = try JSONParser.parse(removed.out.trimmingCharacters(in: .newlines))["removals"] {
                    // Every even version removed it: the answer is a gap-free prefix of them.
                    let listed = found.compactMap { $0["version"]?.intValue }
                    #expect(listed == Array(stride(from: 2, through: 2 * Int64(listed.count), by: 2)), "\(listed)")
                    removals += 1
                }
                if done { break }
            }
            importing.wait()
            #expect(imported?.status == 0, "\(imported?.err ?? "no import")")
            #expect(blames > 0 && removals > 0)
            // After the import: the whole answer, and projections equal to a rebuild.
            let all = try JSONParser.parse(try cli(ledger, "removed", "democratic decline", "--json").out.trimmingCharacters(in: .newlines))
            guard case .array(let found)? = all["removals"] else { Issue.record("no removals"); return }
            #expect(found.count == versions / 2)
            let verify = try cli(ledger, "verify", "--projections")
            #expect(verify.status == 0, "\(verify.out) \(verify.err)")
        }
    }
}
