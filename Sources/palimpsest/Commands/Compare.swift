import ArgumentParser
import Palimpsest
import PalimpsestPresentation
import PalimpsestText

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Two documents side by side — two publishers' versions of one statement: what one says that the other does not.",
        discussion: """
            Each side is DOC, DOC@TIME or DOC#VERSION (default: the latest version). Plain output gives a one-line \
            summary, then the two texts aligned by paragraph: a paragraph both have is printed once with what only \
            the first says as [-…-] and what only the second says as {+…+}; a paragraph only one has is printed \
            whole after "- " or "+ ". --json gives the word diff of the whole texts.
            """)

    @OptionGroup var location: LedgerOptions
    @Argument(help: ArgumentHelp("The first document, DOC[@TIME|#VERSION].", valueName: "doc1")) var first: String
    @Argument(help: ArgumentHelp("The second document, DOC[@TIME|#VERSION].", valueName: "doc2")) var second: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        let ledger = try location.open(readOnly: true)
        let answer = try Answers.compare(ledger, first, second)
        if output.json {
            printJSON(answer.json)
            return
        }
        let (a, b) = (answer.first, answer.second)
        let rows = answer.rows
        let paired = rows.filter { $0.first != nil && $0.second != nil }
        let identical = paired.filter(\.isSame).count
        print("\(a.document) v\(a.version) (\(a.event.actor)) ↔ \(b.document) v\(b.version) (\(b.event.actor)): " + answer.summary)
        for row in rows where !row.isSame {
            print()
            switch (row.first, row.second) {
            case (let text?, nil): print("- " + oneLine(text))
            case (nil, let text?): print("+ " + oneLine(text))
            default: print("~ " + oneLine(marked(row.pieces)))
            }
        }
    }
}
