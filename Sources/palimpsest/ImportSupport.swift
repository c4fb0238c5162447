import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestImporters

/// What every import command shares besides the ledger and the output.
struct ImportWaitOptions: ParsableArguments {
    @Flag(name: .customLong("no-wait"), help: "Return once the events are committed to the log, without waiting for provenance and the phrase index to fold them (the next command that needs them catches up).")
    var noWait = false
}

/// Runs an import with a progress line on standard error when it is a terminal.
func withProgress(_ body: (@escaping @Sendable (ImportProgress) -> Void) throws -> ImportSummary) throws -> ImportSummary {
    let showProgress = isatty(2) != 0
    defer { if showProgress { writeToStandardError("\r\u{1B}[K") } }
    return try body { p in
        guard showProgress else { return }
        writeToStandardError("\r\u{1B}[K" + Progress.line(p))
    }
}

/// Prints an import's summary.
func report(_ summary: ImportSummary, source name: String, json: Bool) {
    if json {
        printJSON([
            "source": .string(name), "lines": .int(Int64(summary.lines)), "added": .int(Int64(summary.added)),
            "skipped": .int(Int64(summary.skipped)), "documents": .int(Int64(summary.documents)),
            "textBytes": .int(Int64(summary.textBytes)), "inputBytes": .int(Int64(summary.inputBytes)),
            "backdated": .int(Int64(summary.backdated)), "seconds": .double(summary.seconds),
            "analysisSeconds": .double(summary.analysisSeconds), "readSeconds": .double(summary.readSeconds),
            "commitSeconds": .double(summary.commitSeconds), "notes": .array(summary.notes.map { .string($0) }),
            "logSeconds": .double(summary.logSeconds), "projectionSeconds": summary.projectionSeconds.map { .double($0) } ?? .null,
            "passedOver": .object(summary.passedOver.mapValues { .int(Int64($0)) }),
        ])
        return
    }
    let mb = Double(summary.textBytes) / 1e6
    let rate = summary.logSeconds > 0 ? mb / summary.logSeconds : 0
    var log = "the log in \(String(format: "%.2f", summary.logSeconds)) s (\(String(format: "%.0f", rate)) MB/s"
    if summary.analysisSeconds > 0 { log += "; analysis \(String(format: "%.2f", summary.analysisSeconds)) s" }
    log += "; reading \(String(format: "%.2f", summary.readSeconds)) s and committing \(String(format: "%.2f", summary.commitSeconds)) s, side by side)"
    let projections = summary.projectionSeconds.map { "provenance and the phrase index caught up \(String(format: "%.2f", $0)) s later" }
        ?? "provenance and the phrase index catch up in the background and on the next command that needs them"
    print("Imported \(name): \(summary.added) events added, \(summary.skipped) already present, \(summary.documents) documents, \(String(format: "%.1f", mb)) MB of text in \(String(format: "%.2f", summary.seconds)) s: \(log); \(projections).")
    if summary.backdated > 0 {
        print("\(summary.backdated) events take effect earlier than the previous event of their document (accepted, as real histories have them).")
    }
    for (reason, count) in summary.passedOver.sorted(by: { $0.key < $1.key }) {
        print("\(count) \(reason).")
    }
    for note in summary.notes {
        print("Note: \(note).")
    }
}

/// An input file, standard input, or a compressed file read through its decompressor.
final class InputFile {
    let fd: Int32
    let name: String
    let totalBytes: Int?
    private let decompressor: Process?
    private let errors: Pipe?

    private init(fd: Int32, name: String, totalBytes: Int?, decompressor: Process? = nil, errors: Pipe? = nil) {
        (self.fd, self.name, self.totalBytes, self.decompressor, self.errors) = (fd, name, totalBytes, decompressor, errors)
    }

    static func open(_ path: String) throws -> InputFile {
        if path == "-" { return InputFile(fd: 0, name: "standard input", totalBytes: nil) }
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw LedgerError(.notFound, "the file \(path) does not exist") }
            throw LedgerError(.invalidInput, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFIFO else {
            throw LedgerError(.invalidInput, "\(path) is not a file")
        }
        let tools = [".xz": "xz", ".lzma": "xz", ".bz2": "bzip2", ".gz": "gzip"]
        if let tool = tools.first(where: { path.hasSuffix($0.key) })?.value {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [tool, "-dc", path]
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            do { try process.run() } catch {
                throw LedgerError(.invalidInput, "cannot start \(tool) to read \(path): \(error.localizedDescription)")
            }
            return InputFile(fd: out.fileHandleForReading.fileDescriptor, name: path, totalBytes: nil, decompressor: process, errors: err)
        }
        let fd = Foundation.open(path, O_RDONLY)
        guard fd >= 0 else { throw LedgerError(.invalidInput, "cannot open \(path): \(String(cString: strerror(errno)))") }
        return InputFile(fd: fd, name: path, totalBytes: (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil)
    }

    /// After a complete read: a decompressor that failed means the input was damaged.
    func finish() throws {
        guard let decompressor else { return }
        decompressor.waitUntilExit()
        if decompressor.terminationStatus != 0 {
            let message = String(decoding: errors?.fileHandleForReading.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            throw LedgerError(.invalidInput, "\(name) could not be decompressed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    func close() {
        if let decompressor {
            if decompressor.isRunning { decompressor.terminate() }
        } else if fd != 0 {
            Foundation.close(fd)
        }
    }
}

enum Progress {
    static func line(_ p: ImportProgress) -> String {
        if let phase = p.phase { return "\(phase) (\(String(format: "%.0f", p.seconds)) s)" }
        let mb = Double(p.inputBytes) / 1e6
        let rate = p.seconds > 0 ? mb / p.seconds : 0
        var text = "\(p.events) events, \(String(format: "%.1f", mb)) MB read, \(String(format: "%.1f", rate)) MB/s"
        if let total = p.totalBytes, total > 0, rate > 0 {
            let percent = Double(p.inputBytes) / Double(total) * 100
            let eta = (Double(total - p.inputBytes) / 1e6) / rate
            text += String(format: ", %.0f%%, ETA %.0f s", percent, eta)
        }
        return text
    }
}
