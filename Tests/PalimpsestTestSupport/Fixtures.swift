import Foundation
import Palimpsest

/// The repository's root, found from this file's path.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh directory under the system's temporary directory, removed after `body`.
public func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let path = NSTemporaryDirectory() + "palimpsest-test-" + UUID().uuidString.lowercased()
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer {
        // Tests make directories read-only on purpose; give write access back before removing.
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+rwx", path]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }
    return try body(path)
}

/// A temporary file holding `contents`, open for reading as `body`'s file descriptor.
public func withTemporaryFile<R>(_ contents: Data, _ body: (Int32) throws -> R) throws -> R {
    let path = NSTemporaryDirectory() + "palimpsest-input-" + UUID().uuidString
    guard FileManager.default.createFile(atPath: path, contents: contents) else {
        throw CocoaError(.fileWriteUnknown)
    }
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    return try body(fd)
}

/// A new, empty ledger in a temporary directory, removed after `body`.
public func withTemporaryLedger<R>(
    options: Ledger.Options = Ledger.Options(), _ body: (Ledger) throws -> R
) throws -> R {
    try withTemporaryDirectory { dir in
        let ledger = try Ledger.create(at: dir + "/ledger", options: options)
        return try body(ledger)
    }
}

/// The shared corpora: $PALIMPSEST_CORPORA, else ../shared/corpora beside the repository, else
/// /work/shared/corpora (where this project's machines keep them).
public enum Corpora {
    public static let directory: String = {
        if let path = ProcessInfo.processInfo.environment["PALIMPSEST_CORPORA"] { return path }
        let candidates = [
            repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/corpora").path,
            "/work/shared/corpora",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/site-policy/events.jsonl.xz") } ?? candidates[0]
    }()

    public static var sitePolicyEvents: String { directory + "/site-policy/events.jsonl.xz" }
    public static var sitePolicyAsOf: String { directory + "/site-policy/asof.jsonl" }

    public static var available: Bool { FileManager.default.fileExists(atPath: sitePolicyEvents) }

    /// rust-lang/rfcs as a git bundle (its master: 8,140 commits, 1,229 merges).
    public static var rustRFCsBundle: String { directory + "/git/rust-lang-rfcs.bundle" }

    /// The decompressed site-policy history, kept in memory only (never written into the repository).
    public static let sitePolicyLines: [String] = {
        guard available, let data = try? run("/usr/bin/env", ["xz", "-dc", sitePolicyEvents]).stdout else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }()
}

/// What a finished process printed and returned.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var out: String { String(decoding: stdout, as: UTF8.self) }
    public var err: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs a program to completion, feeding `input` on stdin.
@discardableResult
public func run(_ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil, directory: String? = nil) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = inPipe
    try process.run()
    // Read both pipes while the process runs, so that a full pipe never blocks it.
    let group = DispatchGroup()
    nonisolated(unsafe) var out = Data(), err = Data()
    group.enter()
    DispatchQueue.global().async { out = outPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { err = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    if let input { inPipe.fileHandleForWriting.write(input) }
    try? inPipe.fileHandleForWriting.close()
    process.waitUntilExit()
    group.wait()
    return ProcessOutput(status: process.terminationStatus, stdout: out, stderr: err)
}

/// Waits for a process to end; kills it (and returns false) when it does not within `seconds`, so a
/// process that ignores its signal can never hang the suite.
public func waitForExit(_ process: Process, seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    guard process.isRunning else { return true }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return false
}

/// The `palimpsest` executable built beside the tests.
public let palimpsestExecutable: String = {
    let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("palimpsest").path
    if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
    for configuration in ["debug", "release"] {
        let path = repositoryRoot.appendingPathComponent(".build/\(configuration)/palimpsest").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return besideTests
}()

/// Runs `palimpsest` with `arguments`.
@discardableResult
public func palimpsest(_ arguments: [String], input: Data? = nil, environment: [String: String]? = nil, directory: String? = nil) throws -> ProcessOutput {
    try run(palimpsestExecutable, arguments, input: input, environment: environment, directory: directory)
}

@discardableResult
public func palimpsest(_ arguments: String..., input: String? = nil) throws -> ProcessOutput {
    try palimpsest(arguments, input: input.map { Data($0.utf8) })
}

/// A small deterministic random generator (SplitMix64) for property tests: a failure replays.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Validates JSON documents against a schema in Schemas/ with python3's `jsonschema` (draft
/// 2020-12); returns the validator's complaint, or nil when every document is valid.
public func schemaViolations(_ documents: [String], schema: String) throws -> String? {
    let script = """
        import json, sys, pathlib
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        root = pathlib.Path(sys.argv[1])
        registry = Registry()
        for p in root.glob("*.json"):
            s = json.loads(p.read_text())
            registry = registry.with_resource(s["$id"], Resource.from_contents(s))
        schema = json.loads((root / sys.argv[2]).read_text())
        Draft202012Validator.check_schema(schema)
        v = Draft202012Validator(schema, registry=registry)
        bad = 0
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip(): continue
            for e in v.iter_errors(json.loads(line)):
                print(f"document {n}: {e.json_path}: {e.message[:300]}"); bad += 1
        sys.exit(1 if bad else 0)
        """
    // One document a line: a document laid out over lines (a report) is joined, its line feeds being
    // whitespace between tokens (a JSON string never holds a raw one).
    let input = documents.map { $0.trimmingCharacters(in: .newlines).replacingOccurrences(of: "\n", with: "") }.joined(separator: "\n") + "\n"
    let result = try run("/usr/bin/env", ["python3", "-c", script, repositoryRoot.appendingPathComponent("Schemas").path, schema], input: Data(input.utf8))
    return result.status == 0 ? nil : result.out + result.err
}
