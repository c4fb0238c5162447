import Foundation
import Palimpsest

/// The `git` command line, run on one repository. Git is a normal dependency of a git importer; no
/// git code is copied here, only its documented plumbing commands are run — each one once per
/// import, as a long-lived process (never one per commit).
struct GitRepository {
    let path: String

    struct Failure: Error {
        let message: String
    }

    /// Runs `git -C path args…` to the end and returns its standard output.
    @discardableResult
    func run(_ args: [String], input: Data? = nil) throws(Failure) -> Data {
        let process = try GitProcess(repository: path, arguments: args, input: input)
        var output = Data()
        while let chunk = try process.readChunk() { output.append(contentsOf: chunk) }
        try process.finish()
        return output
    }

    func lines(_ args: [String]) throws(Failure) -> [String] {
        String(decoding: try run(args), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// The output's first line, or nil when git fails or prints nothing.
    func firstLine(_ args: [String]) -> String? {
        (try? lines(args))?.first
    }
}

/// One running `git` process: its standard output read as a stream (bytes, lines, NUL-terminated
/// fields), its standard error kept for the message when it fails. Standard input is either given
/// whole (written on a separate thread, so that neither pipe can block the other) or written a
/// request at a time (`cat-file --batch`).
final class GitProcess {
    private let process = Process()
    private let arguments: [String]
    private let input: FileHandle?
    private let output: Int32
    private let errors = ErrorCollector()
    private var buffer: [UInt8] = []
    private var start = 0
    private var ended = false

    /// `input`: nil for an interactive process (use `send`), or the whole input, written and closed.
    init(repository: String, arguments: [String], input: Data? = nil, interactive: Bool = false) throws(GitRepository.Failure) {
        self.arguments = arguments
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", repository] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"  // git's messages are quoted in ours: one language
        environment["GIT_TERMINAL_PROMPT"] = "0"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        let inp: Pipe? = (input != nil || interactive) ? Pipe() : nil
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inp ?? FileHandle.nullDevice
        do { try process.run() } catch {
            throw GitRepository.Failure(message: "cannot run git: \(error.localizedDescription)")
        }
        output = out.fileHandleForReading.fileDescriptor
        errors.start(err.fileHandleForReading)
        if let input, let writer = inp?.fileHandleForWriting {
            self.input = nil
            Thread.detachNewThread {
                try? writer.write(contentsOf: input)
                try? writer.close()
            }
        } else {
            self.input = inp?.fileHandleForWriting
        }
    }

    deinit {
        try? input?.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// Writes to an interactive process's standard input.
    func send(_ text: String) throws(GitRepository.Failure) {
        do { try input?.write(contentsOf: Data(text.utf8)) } catch {
            throw failure(context: "stopped taking requests")
        }
    }

    /// Waits for the process to end; a non-zero status is a failure carrying git's own message.
    func finish() throws(GitRepository.Failure) {
        try? input?.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw failure(context: "failed with status \(process.terminationStatus)") }
    }

    /// The failure to report when git stopped early: git's message when it printed one.
    func failure(context: String) -> GitRepository.Failure {
        if process.isRunning { try? input?.close() }
        process.waitUntilExit()
        let text = errors.text().trimmingCharacters(in: .whitespacesAndNewlines)
        let command = "git \(arguments.first ?? "")"
        return GitRepository.Failure(message: text.isEmpty ? "\(command) \(context)" : "\(command): \(text.replacingOccurrences(of: "\n", with: "; "))")
    }

    /// The next chunk of output as it arrives, or nil at its end.
    func readChunk() throws(GitRepository.Failure) -> [UInt8]? {
        if start >= buffer.count {
            guard try fill() else { return nil }
        }
        let chunk = Array(buffer[start...])
        buffer.removeAll(keepingCapacity: true)
        start = 0
        return chunk
    }

    /// The bytes up to `terminator` (not included), or nil at the end of the output.
    func field(terminatedBy terminator: UInt8) throws(GitRepository.Failure) -> ArraySlice<UInt8>? {
        var scanned = 0  // unread bytes already searched
        while true {
            if let end = buffer[(start + scanned)...].firstIndex(of: terminator) {
                let field = buffer[start..<end]
                start = end + 1
                return field
            }
            scanned = buffer.count - start
            guard try fill() else {
                if scanned > 0 { throw failure(context: "stopped in the middle of its output") }
                return nil
            }
        }
    }

    /// Exactly `count` bytes.
    func bytes(_ count: Int) throws(GitRepository.Failure) -> [UInt8] {
        while buffer.count - start < count {
            guard try fill(reserving: count) else { throw failure(context: "stopped in the middle of its output") }
        }
        let result = Array(buffer[start..<(start + count)])
        start += count
        return result
    }

    /// Reads more output after the unread bytes; false at its end.
    private func fill(reserving wanted: Int = 0) throws(GitRepository.Failure) -> Bool {
        if ended { return false }
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        let chunk = max(1 << 18, wanted - buffer.count)
        let old = buffer.count
        buffer.reserveCapacity(old + chunk)
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { Foundation.read(output, $0.baseAddress! + old, chunk) }
        } while n < 0 && errno == EINTR
        buffer.removeLast(chunk - max(n, 0))
        if n <= 0 {
            ended = true
            return false
        }
        return true
    }
}

/// Reads a process's standard error on its own thread (a full pipe would stall the process).
private final class ErrorCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    func start(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            let all = handle.readDataToEndOfFile()
            lock.withLock { data = all }
            done.signal()
        }
    }

    /// Everything the process wrote to standard error (waits for it to close the pipe).
    func text() -> String {
        done.wait()
        done.signal()
        return lock.withLock { String(decoding: data.prefix(4000), as: UTF8.self) }
    }
}

/// `git cat-file --batch-command`: objects' sizes and contents by ID, one long-running process for
/// the whole import. Asking the size first means a file over the limit is never read into memory.
final class GitObjectReader {
    private let process: GitProcess

    init(repository: String) throws(GitRepository.Failure) {
        process = try GitProcess(repository: repository, arguments: ["cat-file", "--batch-command"], interactive: true)
    }

    /// The object's size in bytes.
    func size(_ id: String) throws(GitRepository.Failure) -> Int {
        try process.send("info \(id)\n")
        return try header(id).size
    }

    /// The object's content.
    func content(_ id: String) throws(GitRepository.Failure) -> [UInt8] {
        try process.send("contents \(id)\n")
        let size = try header(id).size
        let content = try process.bytes(size)
        _ = try process.bytes(1)  // the newline after the content
        return content
    }

    /// "<id> <type> <size>", or "<id> missing".
    private func header(_ id: String) throws(GitRepository.Failure) -> (type: String, size: Int) {
        guard let line = try process.field(terminatedBy: 0x0A) else {
            throw process.failure(context: "stopped before reading the object \(id)")
        }
        let fields = line.split(separator: 0x20)
        guard fields.count == 3, let size = Int(String(decoding: fields[2], as: UTF8.self)) else {
            let said = String(decoding: line, as: UTF8.self)
            throw GitRepository.Failure(message: said.hasSuffix(" missing") ? "the object \(id) is missing from the repository" : "git cat-file could not read the object \(id): \(said)")
        }
        return (String(decoding: fields[1], as: UTF8.self), size)
    }
}
