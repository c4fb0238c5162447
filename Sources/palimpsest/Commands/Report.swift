import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an audit report: a document's life (whole, a period, or a range of versions), or a phrase's life across documents.",
        discussion: """
            JSON reports (schema Schemas/report.schema.json) carry the events they cite, an inclusion proof \
            of each in a signed checkpoint, the texts they quote and the diffs between them, and a signature \
            over the whole report: `python3 tools/verify-report.py REPORT.json --public-key KEY` checks one \
            offline. Reports are written as they are computed, one change at a time, the JSON one element per \
            line. HTML is one self-contained page that opens on a summary (no network, no script); Markdown \
            and CSV are for reading and spreadsheets. When no checkpoint covers the cited events, one is \
            signed first. The format defaults to the --out file's extension, else md.
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
    @Option(help: ArgumentHelp("Only changes from this time on (ISO 8601); the version in force before it is the report's base, quoted whole.", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only changes up to this time (ISO 8601; a bare date means the end of that day).", valueName: "time")) var until: String?
    @Option(help: ArgumentHelp("Only the changes that made versions A to B, starting from version A-1's text (with --phrase: needs --doc).", valueName: "A..B")) var versions: String?

    func validate() throws {
        guard (document == nil) != (phrase == nil) else { throw ValidationError("give a document, or --phrase P, not both") }
        if document != nil, doc != nil || ignoreCase { throw ValidationError("--doc and --ignore-case go with --phrase") }
        _ = try scope()
    }

    /// The scope the options ask for.
    func scope() throws -> AuditReport.Scope {
        var scope = AuditReport.Scope()
        if let since { scope.since = try parseTime(since, option: "--since") }
        if let until {
            let time = try parseTime(until, option: "--until")
            // A bare date names a whole day.
            scope.until = until.count == 10 ? Timestamp(milliseconds: time.milliseconds + 86_400_000 - 1) : time
        }
        if let versions {
            let bounds = versions.split(separator: ".", omittingEmptySubsequences: false)
            guard bounds.count == 3, bounds[1].isEmpty, let a = UInt64(bounds[0]), let b = UInt64(bounds[2]), a >= 1, a <= b else {
                throw ValidationError("--versions \"\(versions)\" is not a range of versions such as 3..40 (the first at least 1, not after the last)")
            }
            scope.versions = a...b
        }
        if scope.versions != nil, scope.since != nil || scope.until != nil { throw ValidationError("give --since/--until or --versions, not both") }
        if let since = scope.since, let until = scope.until, until < since { throw ValidationError("--until (\(until.iso8601)) is before --since (\(since.iso8601))") }
        if scope.versions != nil, phrase != nil, doc == nil { throw ValidationError("--versions with --phrase needs --doc") }
        return scope
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
        var destination: ReportFile? = nil
        if let out { destination = try ReportFile(out) }
        let ledger = try location.open()
        let subject: AuditReport.Subject = if let document { .document(document) } else { .phrase(phrase!, ignoringCase: ignoreCase, document: doc) }
        let (plan, signedNew) = try ledger.auditReportPlan(subject, scope: try scope())
        if signedNew { writeToStandardError("note: signed checkpoint \(plan.header.checkpoint.number) (\(plan.header.checkpoint.treeSize) events) to prove the report against\n") }
        // Written as it is computed: to standard output, or beside the target and renamed over it
        // when whole, so that a reader never sees half a report.
        let standardOutput = FileHandle.standardOutput
        var written = 0
        func sink(_ bytes: ArraySlice<UInt8>) throws(LedgerError) {
            written += bytes.count
            if let destination { try destination.write(bytes) } else { standardOutput.write(Data(bytes)) }
        }
        switch chosenFormat {
        case .json: try ledger.writeAuditReportJSON(plan, to: sink)
        case .md, .html, .csv:
            let format: AuditReportRenderer.Format = chosenFormat == .html ? .html : chosenFormat == .csv ? .csv : .markdown
            try AuditReportRenderer(plan.header).write(format, changeCount: plan.changeCount, changes: { each throws(LedgerError) in try ledger.forEachChange(in: plan, each) }, to: sink)
        }
        guard let destination, let out else { return }
        try destination.commit()
        writeToStandardError("wrote \(out) (\(chosenFormat.rawValue), \(written) bytes, \(plan.header.events.count) events cited, checkpoint \(plan.header.checkpoint.number))\n")
    }
}

/// A report file being written: a temporary file beside the target, renamed over it when whole and
/// removed if the command fails first.
final class ReportFile {
    let target: String
    let temporary: String
    let handle: FileHandle
    var committed = false

    init(_ target: String) throws {
        // Refuse a place the report cannot be written before signing anything.
        let directory = (target as NSString).deletingLastPathComponent.isEmpty ? "." : (target as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LedgerError(.invalidInput, "cannot write the report to \(target): the directory \(directory) does not exist")
        }
        guard access(directory, W_OK) == 0 else { throw LedgerError(.invalidInput, "cannot write the report to \(target): the directory \(directory) is not writable") }
        self.target = target
        temporary = target + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o644]),
            let handle = FileHandle(forWritingAtPath: temporary)
        else {
            throw LedgerError(.invalidInput, "cannot write the report to \(target): \(String(cString: strerror(errno)))")
        }
        self.handle = handle
    }

    deinit {
        try? handle.close()
        if !committed { unlink(temporary) }
    }

    func write(_ bytes: ArraySlice<UInt8>) throws(LedgerError) {
        do {
            try handle.write(contentsOf: bytes)
        } catch {
            throw LedgerError(.storage, "cannot write the report to \(target): \(error.localizedDescription)")
        }
    }

    func commit() throws {
        try? handle.close()
        guard rename(temporary, target) == 0 else {
            throw LedgerError(.invalidInput, "cannot write the report to \(target): \(String(cString: strerror(errno)))")
        }
        committed = true
    }
}
