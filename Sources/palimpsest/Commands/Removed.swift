import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation
import PalimpsestText

struct Removed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "removed",
        abstract: "Every event that removed a phrase, oldest first: document, version, actor, time, the last version that had it, context, who first wrote it, and later restorations.",
        discussion: "An event removed the phrase when the phrase occurs fewer times after it than before it (the rule of git log -S). Prints nothing, and exits 0, when no event removed it.")

    @OptionGroup var location: LedgerOptions
    @OptionGroup var phrase: PhraseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try location.readingLedger { try phrase.report($0, json: output.json, listedAs: "removals", kinds: [.removed]) }
    }
}
