import ArgumentParser
import Foundation
import Palimpsest

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the ledger: every event's hash and the chain, gap-free positions and versions, every text against its hash.",
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
                "firstProblem": .optional(report.firstProblem),
                "projectionMismatches": .array(report.projectionMismatches.map { .string($0.description) }),
            ])
        } else if report.isClean {
            print("OK: \(report.events) events, hashes and chain recomputed; \(report.texts) texts match their hashes\(projections ? "; every projection equals a rebuild" : "").")
        }
        guard report.isClean else {
            let problems = [report.firstProblem].compactMap { $0 } + report.projectionMismatches.map(\.description)
            throw LedgerError(.integrity, "verification failed: \(problems.joined(separator: "; "))")
        }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Figures: events, documents, events by type, and per actor.")

    @OptionGroup var location: LedgerOptions
    @Option(help: "Show at most this many actors.") var limit: Int = 20
    @OptionGroup var output: OutputOptions

    func run() throws {
        let stats = try location.open(readOnly: true).statistics()
        if output.json {
            printJSON([
                "events": .int(Int64(stats.events)), "documents": .int(Int64(stats.documents)),
                "retractedDocuments": .int(Int64(stats.retractedDocuments)),
                "eventsByType": .object(Dictionary(uniqueKeysWithValues: EventType.allCases.map { ($0.rawValue, JSONValue.int(Int64(stats.eventsByType[$0] ?? 0))) })),
                "actors": .array(stats.actors.prefix(max(0, limit)).map {
                    ["actor": .string($0.name), "events": .int(Int64($0.events)), "documents": .int(Int64($0.documents)),
                     "firstAt": .string($0.firstAt.iso8601), "lastAt": .string($0.lastAt.iso8601)]
                }),
            ])
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
