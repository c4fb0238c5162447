import ArgumentParser
import Foundation
import Palimpsest

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a ledger (idempotent: an existing ledger is left as it is).")

    @OptionGroup var location: LedgerOptions
    @Option(help: ArgumentHelp("The log's origin: the first line of its checkpoints as signed notes, and its key's name (default: palimpsest/LEDGER-ID).", valueName: "origin"))
    var origin: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let origin, !SignedNote.isValidKeyName(origin) {
            throw ValidationError("--origin \"\(origin)\" must be non-empty, at most 255 bytes, without spaces or \"+\"")
        }
    }

    func run() throws {
        let existed = FileManager.default.fileExists(atPath: (location.path as NSString).appendingPathComponent("data.mdb"))
        let ledger = try Ledger.create(at: location.path, options: location.options)
        if let origin { try ledger.setOrigin(origin) }
        let head = try ledger.head()
        let key = try ledger.publicKey().map(Hex.encode)
        if output.json {
            printJSON([
                "ledger": .string(location.path), "ledgerId": .string(ledger.id.uuidString.lowercased()), "created": .bool(!existed),
                "events": .int(Int64(head.position)), "publicKey": .optional(key),
            ])
        } else if existed {
            print("Ledger \(location.path) already exists (id \(ledger.id.uuidString.lowercased()), \(head.position) events).")
        } else {
            print("Created ledger \(location.path) (id \(ledger.id.uuidString.lowercased())); checkpoints are signed with the Ed25519 key \(key ?? "?").")
        }
    }
}

