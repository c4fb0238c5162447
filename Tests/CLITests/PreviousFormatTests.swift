import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// A ledger written by the build before the write-path redesign (Tests/Fixtures/previous-format: the
/// communiqué demo and a slice of site-policy, made by that build's `palimpsest`, with its `export`).
/// The storage of the log, texts and indexes did not change, so the ledger opens as it is; the
/// provenance and phrase projections, whose layouts did change (their versions went up), are rebuilt
/// instead of being misread.
@Suite struct PreviousFormatTests {
    static let fixture = repositoryRoot.appendingPathComponent("Tests/Fixtures/previous-format.tar.xz").path

    func withPreviousLedger(_ body: (String, String) throws -> Void) throws {
        try withTemporaryDirectory { dir throws in
            let untar = try run("/bin/tar", ["-xJf", Self.fixture, "-C", dir])
            #expect(untar.status == 0, "\(untar.err)")
            try body(dir + "/previous-format/ledger", dir + "/previous-format/export.jsonl")
        }
    }

    @Test func aPreviousLedgerOpensItsExportIsUnchangedAndItsProjectionsAreRebuilt() throws {
        try withPreviousLedger { path, exportFile throws in
            let before = try String(contentsOfFile: exportFile, encoding: .utf8)
            // Read-only, the changed projections are not served stale: it says they need rebuilding.
            var readOnly = Ledger.Options()
            readOnly.readOnly = true
            try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: path)
            do {
                let reader = try Ledger.open(at: path, options: readOnly)
                let stale = #expect(throws: LedgerError.self) { _ = try reader.blame(Communique.whiteHouse) }
                #expect(stale?.message.contains("built by another version of its logic") == true, "\(stale?.message ?? "")")
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
            // Writable: every event, hash, position and signed checkpoint as it was; projections rebuilt.
            let export = try palimpsest(["--ledger", path, "export"])
            #expect(export.status == 0, "\(export.err)")
            #expect(export.out == before)
            let ledger = try Ledger.open(at: path)
            try ledger.waitForProjections()
            #expect(try ledger.checkpoint(of: "provenance")?.version == ProvenanceProjection().version)
            #expect(try ledger.checkpoint(of: "phrases")?.version == PhraseIndexProjection().version)
            #expect(try ledger.phraseHistory(PhraseQuery("democratic decline", document: Communique.whiteHouse)).removals.count == 1)
            let report = try ledger.verify(projections: true)
            #expect(report.isClean, "\(report.firstProblem ?? "")")
            #expect(report.checkpoints >= 1)
        }
    }
}
