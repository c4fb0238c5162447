import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

struct Docs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "docs", abstract: "List the documents in the ledger (the catalogue).")

    @OptionGroup var location: LedgerOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let docs = try location.open(readOnly: true).documents()
        if output.json {
            printJSON(Answers.documents(docs))
            return
        }
        if docs.isEmpty {
            print("The ledger has no documents yet.")
            return
        }
        print("VERSIONS  STATUS     UPDATED               DOCUMENT")
        for d in docs {
            print("\(String(d.version).leftPadded(8, " "))  \(d.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  \(d.lastAt.iso8601.padding(toLength: 20, withPad: " ", startingAt: 0))  \(d.id)")
        }
        print("\(docs.count) document\(docs.count == 1 ? "" : "s"), \(docs.reduce(0) { $0 + $1.version }) events.")
    }
}

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

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a document's text as of a version, a time, or what the ledger knew at a time (default: the latest).")

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    @Option(help: "The version to show (1 is the first).") var version: UInt64?
    @Option(help: ArgumentHelp("Show the latest version in effect at this time.", valueName: "time")) var at: String?
    @Option(name: .customLong("known-at"), help: ArgumentHelp("Show what the ledger knew at this time: the latest version recorded by then.", valueName: "time"))
    var knownAt: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if [version != nil, at != nil, knownAt != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --version, --at and --known-at")
        }
        if let version, version == 0 { throw ValidationError("--version counts from 1") }
        if let at { _ = try parseTime(at, option: "--at") }
        if let knownAt { _ = try parseTime(knownAt, option: "--known-at") }
    }

    func run() throws {
        let ledger = try location.open(readOnly: true)
        guard let info = try ledger.document(document) else {
            throw LedgerError(.notFound, "there is no document \"\(document)\" in the ledger")
        }
        let asOf: AsOf = try version.map(AsOf.version) ?? at.map { .time(try parseTime($0, option: "--at")) }
            ?? knownAt.map { .knownAt(try parseTime($0, option: "--known-at")) } ?? .latest
        guard let state = try ledger.state(of: document, asOf: asOf) else {
            if let version {
                throw LedgerError(.notFound, "\"\(document)\" has \(info.version) version\(info.version == 1 ? "" : "s"); there is no version \(version)")
            }
            if let knownAt {
                throw LedgerError(.notFound, "the ledger knew nothing of \"\(document)\" at \(knownAt) (it was first recorded later)")
            }
            throw LedgerError(.notFound, "\"\(document)\" did not exist yet at \(at ?? "that time") (its first version is from \(info.createdAt.iso8601))")
        }
        if output.json {
            printJSON(Answers.show(state))
            return
        }
        if state.status == .retracted {
            let reason = state.event.reason.map { ": \($0)" } ?? ""
            writeToStandardError(("palimpsest: note: \"\(document)\" was retracted at version \(state.version) (\(state.event.kind?.rawValue ?? "withdrawn")\(reason)); this is the text it had then.\n"))
        }
        let sink = FileSink(fd: 1)
        try sink.write(state.text)
        try sink.flush()
    }
}

extension String {
    func leftPadded(_ width: Int, _ pad: Character) -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
