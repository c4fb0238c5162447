import ArgumentParser
import Palimpsest
import PalimpsestPresentation
import PalimpsestText

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "What changed between two versions of a document, word by word (default: its last change).",
        discussion: """
            FROM and TO are versions (3) or times (@2023-12-28T20:00:00Z). With FROM alone, TO is the latest version. \
            Plain output prints the changed lines with one line of context each side (--full: the whole text), \
            marking [-removed-], {+added+}, and moves as [<n:…<] where text left and {>n:…>} where it arrived.
            """)

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    @Argument(help: ArgumentHelp("The older version or @time.", valueName: "from")) var from: String?
    @Argument(help: ArgumentHelp("The newer version or @time.", valueName: "to")) var to: String?
    @Flag(help: "Print the whole text with the changes marked, not only the changed lines.") var full = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let from { _ = try validated { () throws(LedgerError) in try VersionSpec.parse(from, option: "FROM") } }
        if let to { _ = try validated { () throws(LedgerError) in try VersionSpec.parse(to, option: "TO") } }
    }

    func run() throws {
        let ledger = try location.open(readOnly: true)
        let answer = try Answers.diff(
            ledger, document, from: try from.map { try VersionSpec.parse($0, option: "FROM") }, to: try to.map { try VersionSpec.parse($0, option: "TO") })
        if output.json {
            printJSON(answer.json)
            return
        }
        let (old, new) = (answer.from, answer.to)
        print("\(document): v\(old.version) (\(old.event.at.iso8601), \(old.event.actor)) → v\(new.version) (\(new.event.at.iso8601), \(new.event.actor))")
        let removed = Answers.wordCount(answer.pieces, [.removed]), added = Answers.wordCount(answer.pieces, [.added])
        let moved = Answers.wordCount(answer.pieces, [.movedHere])
        print("\(removed) word\(removed == 1 ? "" : "s") removed, \(added) added\(moved > 0 ? ", \(moved) moved" : "").")
        if full {
            print(marked(answer.pieces), terminator: "")
            if !(answer.pieces.last?.text.hasSuffix("\n") ?? true) { print() }
            return
        }
        for hunk in DiffHunk.hunks(answer.pieces) {
            print("@@ line \(hunk.newLine) @@")
            for line in hunk.lines {
                let text = marked(line)
                print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            }
        }
    }
}

