import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

@testable import PalimpsestImporters

/// Random bytes and mutated real input thrown at `import jsonl` and `import mediawiki`: no crash, no
/// hang, and the ledger unchanged or grown only by valid events (it verifies after every input).
@Suite(.timeLimit(.minutes(10))) struct ImportFuzzTests {
    /// One random change to `bytes`: a flipped bit, a byte replaced, inserted or deleted, a cut, a run
    /// duplicated, or a structural character (quote, brace, bracket, angle bracket, newline) dropped in.
    static func mutate(_ bytes: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var out = bytes
        guard !out.isEmpty else { return [UInt8.random(in: 0...255, using: &rng)] }
        let at = Int.random(in: 0..<out.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: out[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
        case 1: out[at] = UInt8.random(in: 0...255, using: &rng)
        case 2: out.insert(UInt8.random(in: 0...255, using: &rng), at: at)
        case 3: out.remove(at: at)
        case 4: out = Array(out[..<at])
        case 5:
            let end = min(out.count, at + Int.random(in: 1...64, using: &rng))
            out.insert(contentsOf: out[at..<end], at: end)
        default: out.insert(Array("\"{}[]<>\n&;\u{0}".utf8).randomElement(using: &rng)!, at: at)
        }
        return out
    }

    /// Imports `input` with `importer`; a refusal is fine, anything else must leave a ledger that verifies.
    static func survive(_ ledger: Ledger, _ input: [UInt8], _ importer: (Ledger, Int32) throws(ImportFailure) -> ImportSummary) throws -> Bool {
        let before = try ledger.head().position
        let accepted = try withTemporaryFile(Data(input)) { fd in
            do { _ = try importer(ledger, fd); return true } catch { return false }
        }
        let report = try ledger.verify()
        #expect(report.isClean, "\(report.firstProblem ?? "")")
        #expect(try ledger.head().position >= before)
        return accepted
    }

    @Test(.enabled(if: Corpora.available, "needs ../shared/corpora"))
    func jsonlSurvivesMutatedRealLinesAndRandomBytes() throws {
        try withTemporaryLedger { ledger throws in
            var rng = SeededGenerator(seed: 41)
            let real = Corpora.sitePolicyLines.prefix(30).map { Array($0.utf8) }
            var accepted = 0, refused = 0
            for case_ in 0..<300 {
                var lines = Array(real[Int.random(in: 0..<20, using: &rng)...].prefix(Int.random(in: 1...6, using: &rng)))
                let k = Int.random(in: 0..<lines.count, using: &rng)
                for _ in 0...Int.random(in: 0...3, using: &rng) { lines[k] = Self.mutate(lines[k], &rng) }
                var input = Array(lines.joined(separator: [0x0A]))
                if case_ % 10 == 0 { input = (0..<Int.random(in: 1...4000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
                if try Self.survive(ledger, input, { ledger, fd throws(ImportFailure) in try JSONLImporter(ledger: ledger).run(fd: fd, sourceName: "fuzz.jsonl") }) {
                    accepted += 1
                } else {
                    refused += 1
                }
            }
            print("fuzz import jsonl: 300 inputs, \(accepted) accepted, \(refused) refused, the ledger verified after each (\(try ledger.head().position) events)")
            #expect(refused > 0 && accepted > 0)
        }
    }

    @Test func mediawikiSurvivesMutatedExportsAndRandomBytes() throws {
        try withTemporaryLedger { ledger throws in
            var rng = SeededGenerator(seed: 43)
            var accepted = 0, refused = 0
            for case_ in 0..<200 {
                let title = "Page \(case_)"
                let xml = """
                    <mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">
                      <siteinfo><sitename>Wikipedia</sitename><dbname>enwiki</dbname></siteinfo>
                      <page>
                        <title>\(title)</title><ns>0</ns><id>\(case_ + 1)</id>
                    \(revision(1, "2023-12-28T15:00:00Z", text: "The root causes of migration: poverty, inequality, democratic decline &amp; violence."))
                    \(revision(2, "2023-12-28T21:00:00Z", contributor: "<ip>192.0.2.1</ip>", text: "The root causes of migration: poverty, inequality &amp; violence."))
                      </page>
                    </mediawiki>
                    """
                var input = Array(xml.utf8)
                for _ in 0...Int.random(in: 0...3, using: &rng) { input = Self.mutate(input, &rng) }
                if case_ % 10 == 0 { input = (0..<Int.random(in: 1...4000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
                if try Self.survive(ledger, input, { ledger, fd throws(ImportFailure) in try MediaWikiImporter(ledger: ledger).run(fd: fd, sourceName: "fuzz.xml") }) {
                    accepted += 1
                } else {
                    refused += 1
                }
            }
            print("fuzz import mediawiki: 200 inputs, \(accepted) accepted, \(refused) refused, the ledger verified after each (\(try ledger.head().position) events)")
            #expect(refused > 0 && accepted > 0)
        }
    }
}
