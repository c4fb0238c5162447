import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

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

