import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestImporters

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk-ingest history into the ledger.",
        subcommands: [ImportJSONL.self, ImportMediaWiki.self, ImportGit.self, ImportWARC.self]
    )
}
