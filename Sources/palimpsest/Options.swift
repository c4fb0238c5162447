import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPostgres

/// Where the ledger is: `--ledger DIR`, else `$PALIMPSEST_LEDGER`, else `./palimpsest.ledger`. A
/// `postgres://` URL names a shared ledger (DESIGN.md §10): the command then works on a local replica
/// (`--replica DIR`), brought up to date with the shared log first, and records through it.
struct LedgerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The ledger directory, or a shared ledger's postgres://USER@HOST:PORT/DB URL (default: $PALIMPSEST_LEDGER, else ./palimpsest.ledger).", valueName: "dir|url"))
    var ledger: String?

    @Option(name: .long, help: ArgumentHelp("With a postgres:// ledger: the local replica the command works on (default: $PALIMPSEST_REPLICA, else ~/.cache/palimpsest/replicas/HOST-PORT-DB).", valueName: "dir"))
    var replica: String?

    @Flag(name: .customLong("allow-foreign-owner"), help: "Open a ledger directory that belongs to another user.")
    var allowForeignOwner = false

    /// What --ledger (or the environment) names: a directory or a URL.
    var location: String {
        ledger ?? ProcessInfo.processInfo.environment["PALIMPSEST_LEDGER"] ?? "palimpsest.ledger"
    }

    /// A shared ledger's URL, when the location is one.
    var sharedURL: String? { PostgresSharedLog.isURL(location) ? location : nil }

    /// The ledger directory: the location itself, or for a shared ledger its local replica.
    var path: String {
        guard let url = sharedURL else { return location }
        if let replica = replica ?? ProcessInfo.processInfo.environment["PALIMPSEST_REPLICA"] { return replica }
        let base = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        return (base as NSString).appendingPathComponent("palimpsest/replicas/\(ReplicaName.forURL(url))")
    }

    func open(readOnly: Bool = false) throws -> Ledger {
        var options = self.options
        if let url = sharedURL {
            // The replica is written to as it catches up, whatever the command then does with it.
            let log = try PostgresSharedLog(url: url)
            let ledger = try Replicator.openReplica(of: log, in: path, options: options, appending: true)
            do {
                _ = try withProgress { progress in try Replicator(log: log, ledger: ledger).catchUp(progress: progress) }
            } catch let failure as ImportFailure {
                throw failure.error
            }
            return ledger
        }
        options.readOnly = readOnly
        if isatty(2) != 0 {
            // Catching up or rebuilding a projection on a long history takes a while: say so.
            options.projectionProgress = { name, position, head in
                writeToStandardError(position >= head ? "\r\u{1B}[K" : "\r\u{1B}[Kbringing the projection \(name) up to date: \(position) of \(head) events")
            }
        }
        return try Ledger.open(at: path, options: options)
    }

    /// For a shared ledger: sends the WARC files this machine's captures wrote (in the replica's
    /// `warc/`) to the database, where every replica copies them from for its `verify`.
    func shareCaptureEvidence(of ledger: Ledger) throws {
        guard let url = sharedURL else { return }
        try PostgresSharedLog(url: url).uploadWARC(from: ledger.directory + "/warc")
    }

    /// For a reading command that needs provenance or the phrase index: `body` runs on the ledger
    /// opened read-only when every following projection is current (no writer's lock, no projector
    /// thread to start and stop), else writable, so that they catch up before the answer. Another
    /// process may append between that look and the read (an import running beside it): the read
    /// then fails before anything is printed, and `body` runs again on the ledger opened writable.
    func readingLedger<R>(_ body: (Ledger) throws -> R) throws -> R {
        do {
            if let ledger = try? open(readOnly: true), try ledger.followingProjectionsLag().allSatisfy({ $0.behind == 0 }) {
                return try body(ledger)
            }
        } catch let behind as LedgerError where behind.code == .projectionBehind {
            // A ledger this user cannot write: how far behind it is says more than why it cannot open.
            let ledger: Ledger
            do { ledger = try open() } catch { throw behind }
            return try body(ledger)
        }
        return try body(try open())
    }

    var options: Ledger.Options {
        var options = Ledger.Options()
        options.allowForeignOwner = allowForeignOwner
        return options
    }
}

/// `--json` for reading commands: stable output described by a schema in Schemas/.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (stable; described by a schema in Schemas/).")
    var json = false
}

/// The fields every recording command shares.
struct EventOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Who made the change (an editor, account or organisation; \"unknown\" if not known).", valueName: "name"))
    var actor: String

    @Option(name: .long, help: ArgumentHelp("When the change took effect (ISO 8601; default: now).", valueName: "time"))
    var at: String?

    @Option(name: .long, help: ArgumentHelp("Where the change was seen (URL or reference).", valueName: "url"))
    var source: String?

    @Option(name: .long, help: "A note about the change.")
    var message: String?

    @Option(name: .customLong("event-id"), help: ArgumentHelp("A UUID for the event: recording the same ID again is a no-op.", valueName: "uuid"))
    var eventID: String?

    @Option(name: .customLong("expect-version"), help: ArgumentHelp("Refuse (exit 3) unless the document is at this version now.", valueName: "n"))
    var expectVersion: UInt64?

    @Flag(name: .customLong("allow-backdated"), help: "Accept a time earlier than the document's last event.")
    var allowBackdated = false

    func validate() throws {
        if let at, Timestamp(iso8601: at) == nil {
            throw ValidationError("--at \"\(at)\" is not an ISO 8601 time with a zone, such as 2023-12-28T15:00:00Z or 2023-12-28")
        }
        if let eventID, UUID(uuidString: eventID) == nil {
            throw ValidationError("--event-id \"\(eventID)\" is not a UUID")
        }
    }

    func newEvent(document: String, change: Change) -> NewEvent {
        NewEvent(
            document: document, change: change, at: at.flatMap(Timestamp.init(iso8601:)) ?? .now(), actor: actor,
            source: source, message: message, eventID: eventID.flatMap(UUID.init(uuidString:)),
            expectedVersion: expectVersion.map { $0 == 0 ? .noStream : .exact($0) } ?? .any,
            allowBackdated: allowBackdated)
    }
}

/// Parses a time option, or says which option is wrong.
func parseTime(_ text: String, option: String) throws -> Timestamp {
    guard let t = Timestamp(iso8601: text) else {
        throw ValidationError("\(option) \"\(text)\" is not an ISO 8601 time with a zone, such as 2023-12-28T15:00:00Z or 2023-12-28")
    }
    return t
}

/// Reads a document's text from a file, or from stdin when `path` is nil or "-".
func readText(from path: String?) throws -> String {
    let bytes: [UInt8]
    let name: String
    if let path, path != "-" {
        name = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LedgerError(.notFound, "the text file \(path) does not exist")
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
            throw LedgerError(.invalidInput, "the text file \(path) cannot be read")
        }
        bytes = Array(data)
    } else {
        name = "standard input"
        if isatty(0) != 0 {
            throw LedgerError(.invalidInput, "no text given: pass --text-file FILE or pipe the text on standard input")
        }
        bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        let offset = firstInvalidUTF8Offset(bytes) ?? 0
        throw LedgerError(.invalidInput, "the text in \(name) is not valid UTF-8 (first bad byte at offset \(offset))")
    }
    return text
}

/// The offset of the first byte that makes `bytes` invalid UTF-8.
func firstInvalidUTF8Offset(_ bytes: some Sequence<UInt8>) -> Int? {
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    var offset = 0
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let s): offset += UTF8.width(s)
        case .emptyInput: return nil
        case .error: return offset
        }
    }
}

/// Writes a JSON value to stdout as one line of canonical JSON.
func printJSON(_ value: JSONValue) {
    print(CanonicalJSON.string(value))
}

/// Standard output written in 1 MiB chunks, for answers written while they are computed (a blame
/// with every word's history is far larger than the text). A reader that goes away (a closed pipe)
/// ends the output quietly.
final class StreamedOutput {
    private var buffer: [UInt8] = []
    private var closed = false

    init() {
        fflush(nil)  // whatever print() buffered goes first (nil: every output stream)
        buffer.reserveCapacity(1 << 20)
    }

    deinit { flush() }

    func append(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 20 { flush() }
    }

    /// Appends through `body`, which writes into the buffer directly.
    func append(_ body: (inout [UInt8]) -> Void) {
        body(&buffer)
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        defer { buffer.removeAll(keepingCapacity: true) }
        guard !closed else { return }
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { closed = true; return }
                offset += n
            }
        }
    }
}

/// Writes to stderr unbuffered (progress lines, notes, errors).
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}
