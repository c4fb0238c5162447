import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "List events in ledger order, for every document or one.")

    @OptionGroup var location: LedgerOptions
    @Argument(help: "Only this document's events.") var document: String?
    @Option(help: "Only events by this actor.") var actor: String?
    @Option(help: ArgumentHelp("Only events in effect at or after this time.", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only events in effect at or before this time.", valueName: "time")) var until: String?
    @Option(help: "At most this many events.") var limit: Int?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let since { _ = try parseTime(since, option: "--since") }
        if let until { _ = try parseTime(until, option: "--until") }
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let ledger = try location.open(readOnly: true)
        if let document, try ledger.document(document) == nil {
            throw LedgerError(.notFound, "there is no document \"\(document)\" in the ledger")
        }
        let filter = EventFilter(
            document: document, actor: actor, since: try since.map { try parseTime($0, option: "--since") },
            until: try until.map { try parseTime($0, option: "--until") })
        let sink = FileSink(fd: 1)
        if output.json { try sink.write("{\"events\":[") }
        var count = 0
        if limit != 0 {
            try ledger.forEachEvent(matching: filter) { e in
                if output.json {
                    try sink.write((count > 0 ? "," : "") + CanonicalJSON.string(e.json()))
                } else {
                    var line = "#\(e.position)  \(e.at.iso8601)  \(e.document) v\(e.version)  \(e.type.rawValue)  by \(e.actor)"
                    if let message = e.message { line += "  — \(message.split(separator: "\n").first ?? "")" }
                    try sink.write(line + "\n")
                }
                count += 1
                return limit.map { count < $0 } ?? true
            }
        }
        if output.json {
            try sink.write("]}\n")
        } else if count == 0 {
            try sink.write("No events match.\n")
        }
        try sink.flush()
    }
}
