import Foundation

/// `palimpsest serve` on a ledger, on 127.0.0.1 and a port the system picks, for the serve tests;
/// requests go through curl, a real HTTP client. Stopped by `stop()` or when released.
public final class ServedLedger: @unchecked Sendable {  // fixed after init; the process is only stopped
    public let port: Int
    private let process: Process

    public var base: String { "http://127.0.0.1:\(port)" }

    public init(ledger: String, extraArguments: [String] = []) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: palimpsestExecutable)
        process.arguments = ["--ledger", ledger, "serve", "--listen", "127.0.0.1:0"] + extraArguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // "palimpsest: serving DIR on http://127.0.0.1:PORT/ (…)", or the error that stopped it.
        let line = try firstLine(of: errors.fileHandleForReading, limit: 4096)
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://127.0.0.1:"), let port = Int(text[range.upperBound...].prefix { $0.isNumber }) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "palimpsest serve did not start: \(text)"])
        }
        self.port = port
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning {
            process.terminate()
            if !waitForExit(process, seconds: 10) {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    public struct Reply: Sendable {
        public var status: Int
        /// Header names in lower case.
        public var headers: [String: String]
        public var body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One request through curl (30 s at most).
    public func request(_ path: String, method: String = "GET", headers: [String] = [], body: Data? = nil) throws -> Reply {
        try withTemporaryDirectory { dir in
            // HEAD as curl's --head, which expects no body whatever Content-Length says.
            var arguments = ["-s", "-S", "--max-time", "30", "-D", "-", "-o", dir + "/body"] + (method == "HEAD" ? ["--head"] : ["-X", method])
            for header in headers { arguments += ["-H", header] }
            if let body {
                try body.write(to: URL(fileURLWithPath: dir + "/request"))
                arguments += ["--data-binary", "@" + dir + "/request"]
            }
            let result = try run("/usr/bin/curl", arguments + ["--path-as-is", base + path])
            guard result.status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "curl failed: \(result.err)"]) }
            // The last response's head (curl prints every hop's).
            let blocks = result.out.components(separatedBy: "\r\n\r\n").filter { $0.hasPrefix("HTTP/") }
            let lines = (blocks.last ?? "").components(separatedBy: "\r\n")
            let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            // (With --head curl writes the head where the body would go: a HEAD answer has no body.)
            let data = method == "HEAD" ? Data() : FileManager.default.contents(atPath: dir + "/body") ?? Data()
            return Reply(status: status, headers: headers, body: data)
        }
    }
}

/// The first line a process writes to `handle` (without its newline), read byte by byte so that
/// nothing after it is consumed; at most `limit` bytes, or what came before the end of the output.
func firstLine(of handle: FileHandle, limit: Int) throws -> Data {
    var line = Data()
    while line.count < limit, let byte = try handle.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
        line += byte
    }
    return line
}

/// Headless Chromium (Debian's `chromium`): the page's DOM after it loaded, or a screenshot.
public enum HeadlessChromium {
    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func arguments(_ profile: String) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--user-data-dir=" + profile,
         "--virtual-time-budget=3000", "--timeout=20000"]
    }

    public static func dumpDOM(_ url: String) throws -> String {
        guard let chromium = executable else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "chromium is not installed"]) }
        return try withTemporaryDirectory { profile in
            let result = try run(chromium, arguments(profile) + ["--dump-dom", url])
            return result.out
        }
    }

    public static func screenshot(_ url: String, to file: String, width: Int = 1200, height: Int = 1600) throws {
        guard let chromium = executable else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "chromium is not installed"]) }
        try withTemporaryDirectory { profile in
            _ = try run(chromium, arguments(profile) + ["--screenshot=" + file, "--window-size=\(width),\(height)", "--hide-scrollbars", url])
        }
    }
}
