import ArgumentParser
import Foundation
import Palimpsest

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite the ledger's data file without free pages (after a redaction, the withheld bytes leave the file).",
        discussion: "Needs the ledger to itself: refuses (exit 5) while another process has it open, and leaves the ledger untouched on any failure, a full disk included."
    )

    @OptionGroup var location: LedgerOptions
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let result = try Ledger.compact(at: location.path, options: location.options)
        if json {
            printJSON(["bytesBefore": .int(Int64(result.bytesBefore)), "bytesAfter": .int(Int64(result.bytesAfter))])
        } else {
            print("Compacted \(location.path): \(result.bytesBefore) → \(result.bytesAfter) bytes.")
        }
    }
}
