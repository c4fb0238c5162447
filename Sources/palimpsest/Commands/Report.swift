import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an audit report: a document's whole life, or a phrase's life across documents.",
        discussion: """
            JSON reports (schema Schemas/report.schema.json) carry the events they cite, an inclusion proof \
            of each in a signed checkpoint, the texts they quote and the diffs between them, and a signature \
            over the whole report: `python3 tools/verify-report.py REPORT.json --public-key KEY` checks one \
            offline. HTML is one self-contained page (no network, prints well); Markdown and CSV are for \
            reading and spreadsheets. When no checkpoint covers the cited events, one is signed first. \
            The format defaults to the --out file's extension, else md.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, md, html, csv
    }

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document to report on (or use --phrase).") var document: String?
    @Option(help: ArgumentHelp("Report on this phrase, across documents (with --doc: in one).", valueName: "phrase")) var phrase: String?
    @Option(help: ArgumentHelp("With --phrase: only this document.", valueName: "doc")) var doc: String?
    @Flag(name: .customLong("ignore-case"), help: "With --phrase: fold case when matching.") var ignoreCase = false
    @Option(help: "json, md, html or csv.") var format: Format?
    @Option(help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file")) var out: String?

    func validate() throws {
        guard (document == nil) != (phrase == nil) else { throw ValidationError("give a document, or --phrase P, not both") }
        if document != nil, doc != nil || ignoreCase { throw ValidationError("--doc and --ignore-case go with --phrase") }
    }

    var chosenFormat: Format {
        if let format { return format }
        switch out.map({ ($0 as NSString).pathExtension.lowercased() }) {
        case "json": return .json
        case "html", "htm": return .html
        case "csv": return .csv
        default: return .md
        }
    }

    func run() throws {
        if let out {
            // Refuse a place the report cannot be written before signing anything.
            let directory = (out as NSString).deletingLastPathComponent.isEmpty ? "." : (out as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw LedgerError(.invalidInput, "cannot write the report to \(out): the directory \(directory) does not exist")
            }
            guard access(directory, W_OK) == 0 else { throw LedgerError(.invalidInput, "cannot write the report to \(out): the directory \(directory) is not writable") }
        }
        let ledger = try location.open()
        let subject: AuditReport.Subject = if let document { .document(document) } else { .phrase(phrase!, ignoringCase: ignoreCase, document: doc) }
        let (report, signedNew) = try ledger.auditReport(subject)
        if signedNew { writeToStandardError("note: signed checkpoint \(report.checkpoint.number) (\(report.checkpoint.treeSize) events) to prove the report against\n") }
        let bytes: [UInt8]
        switch chosenFormat {
        case .json: bytes = CanonicalJSON.encode(report.json()) + [0x0A]
        case .md: bytes = Array(AuditReportRenderer(report).markdown().utf8)
        case .html: bytes = Array(AuditReportRenderer(report).html().utf8)
        case .csv: bytes = Array(AuditReportRenderer(report).csv().utf8)
        }
        guard let out else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        // Written beside the target and renamed over it: a reader never sees half a report.
        let temporary = out + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o644]) else {
            throw LedgerError(.invalidInput, "cannot write the report to \(out): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, out) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw LedgerError(.invalidInput, "cannot write the report to \(out): \(reason)")
        }
        writeToStandardError("wrote \(out) (\(chosenFormat.rawValue), \(bytes.count) bytes, \(report.events.count) events cited, checkpoint \(report.checkpoint.number))\n")
    }
}
