import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the ledger: every event's hash and the chain, gap-free positions and versions, every text against its hash, the Merkle tree and signed checkpoints, the indexes.",
        discussion: "Exits 4, naming the first bad position, when anything does not check. --projections also rebuilds every projection into scratch tables and compares them with the live ones."
    )

    @OptionGroup var location: LedgerOptions
    @Flag(help: "Also rebuild every projection into scratch tables and compare.") var projections = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        let ledger = try location.open(readOnly: !projections)
        let report = try ledger.verify(projections: projections)
        if output.json {
            printJSON([
                "ok": .bool(report.isClean), "events": .int(Int64(report.events)), "texts": .int(Int64(report.texts)),
                "textBytes": .int(Int64(report.textBytes)), "merkleRoot": .string(report.merkleRoot.hex), "checkpoints": .int(Int64(report.checkpoints)),
                "capturedRecords": .int(Int64(report.capturedRecords)),
                "firstProblem": .optional(report.firstProblem),
                "projectionMismatches": .array(report.projectionMismatches.map { .string($0.description) }),
            ])
        } else if report.isClean {
            print("OK: \(report.events) events, hashes and chain recomputed; \(report.texts) texts match their hashes; Merkle root \(report.merkleRoot.hex); \(report.checkpoints) signed checkpoint\(report.checkpoints == 1 ? "" : "s") checked; \(report.capturedRecords > 0 ? "\(report.capturedRecords) captured WARC record\(report.capturedRecords == 1 ? "" : "s") match their digests; " : "")indexes match the log\(projections ? "; every projection equals a rebuild" : "").")
        }
        guard report.isClean else {
            let problems = [report.firstProblem].compactMap { $0 } + report.projectionMismatches.map(\.description)
            throw LedgerError(.integrity, "verification failed: \(problems.joined(separator: "; "))")
        }
    }
}
