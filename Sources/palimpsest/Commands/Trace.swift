import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation
import PalimpsestText

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "The whole life of a phrase: every event that added or removed it, across documents, oldest first.")

    @OptionGroup var location: LedgerOptions
    @OptionGroup var phrase: PhraseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try location.readingLedger { try phrase.report($0, json: output.json, listedAs: "changes", kinds: [.added, .removed]) }
    }
}
