import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Figures: events, documents, events by type, and per actor.")

    @OptionGroup var location: LedgerOptions
    @Option(help: "Show at most this many actors.") var limit: Int = 20
    @OptionGroup var output: OutputOptions

    func run() throws {
        let stats = try location.open(readOnly: true).statistics()
        if output.json {
            printJSON(Answers.statistics(stats, actors: limit))
            return
        }
        print("\(stats.events) events, \(stats.documents) documents (\(stats.retractedDocuments) retracted), \(stats.actors.count) actors.")
        print(EventType.allCases.map { "\(stats.eventsByType[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", "))
        if !stats.actors.isEmpty { print("\nEVENTS  DOCUMENTS  FIRST                 LAST                  ACTOR") }
        for actor in stats.actors.prefix(max(0, limit)) {
            print("\(String(actor.events).leftPadded(6, " "))  \(String(actor.documents).leftPadded(9, " "))  \(actor.firstAt.iso8601.padding(toLength: 20, withPad: " ", startingAt: 0))  \(actor.lastAt.iso8601.padding(toLength: 20, withPad: " ", startingAt: 0))  \(actor.name)")
        }
    }
}
