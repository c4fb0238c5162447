import Foundation

/// The capture tests' web server: Tests/Fixtures/capture-server.py, a real HTTP server on
/// 127.0.0.1 (an ephemeral port) serving the files of a temporary directory, which the tests
/// change between captures; it stops by itself after 15 minutes should a test die.
public final class CaptureServer: @unchecked Sendable {  // fixed after init; the process is only stopped
    public let root: String
    public let port: Int
    private let process: Process

    public var base: String { "http://127.0.0.1:\(port)" }
    public func url(_ path: String) -> String { base + "/" + path }

    public init(root: String) throws {
        self.root = root
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot.appendingPathComponent("Tests/Fixtures/capture-server.py").path, "--root", root]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line says the port.
        let line = try firstLine(of: output.fileHandleForReading, limit: 64)
        guard let text = String(data: line, encoding: .utf8), text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "the capture server did not start: \(String(decoding: line, as: UTF8.self))"])
        }
        self.port = port
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning {
            // SIGKILL: nothing to flush, and no signal mask can hold it back.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Writes a file the server serves as `/name`.
    public func put(_ name: String, _ contents: String) throws {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: root + "/" + name))
    }

    public func put(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
    }

    /// Makes `/name` answer `status` (nil: serve the file again).
    public func setStatus(_ name: String, _ status: Int?) throws {
        let path = root + "/" + name + ".status"
        if let status { try put(name + ".status", String(status)) } else { try? FileManager.default.removeItem(atPath: path) }
    }

    /// The requests served so far: (path, If-None-Match or "-").
    public func requests() -> [(path: String, ifNoneMatch: String)] {
        let text = (try? String(contentsOfFile: root + "/requests.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "-")
        }
    }

    /// A page as a site would serve it: navigation, a cookie banner, the article, share links,
    /// related links, a footer and scripts around the paragraphs.
    public static func page(title: String, paragraphs: [String], lang: String = "en", charsetMeta: String? = "utf-8") -> String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        let body = paragraphs.map { "<p>\(escape($0))</p>" }.joined(separator: "\n")
        return """
            <!doctype html><html lang="\(lang)"><head>\(charsetMeta.map { "<meta charset=\"\($0)\">" } ?? "")<title>\(escape(title)) | Example Office</title>
            <script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}</script>
            <style>body { font: 16px Georgia, serif } .cookie-banner { position: fixed }</style></head>
            <body><div class="cookie-banner" role="dialog">We use cookies to improve your experience on our website. <button>Accept all cookies</button> <a href="/privacy">Privacy settings</a></div>
            <header class="site-header"><a class="logo" href="/">Example Office</a><nav aria-label="Main"><ul><li><a href="/">Home</a></li><li><a href="/briefing-room">Briefing Room</a></li><li><a href="/news">News</a></li><li><a href="/about">About</a></li></ul></nav></header>
            <main id="main-content"><article class="post"><h1>\(escape(title))</h1><div class="byline">Statements and Releases · December 28, 2023</div>
            <div class="body-content">
            \(body)
            </div>
            <div class="share-links"><a href="https://x.com/share">Share on X</a> <a href="https://facebook.com/share">Share on Facebook</a> <a href="mailto:?subject=x">Email</a></div>
            </article>
            <aside class="related"><h2>Related</h2><ul><li><a href="/news/1">Readout of the President's call with the Prime Minister</a></li><li><a href="/news/2">Statement from the Press Secretary on the visit</a></li><li><a href="/news/3">Fact sheet: the partnership for migration</a></li></ul></aside></main>
            <footer class="site-footer"><ul><li><a href="/privacy">Privacy Policy</a></li><li><a href="/copyright">Copyright</a></li><li><a href="/accessibility">Accessibility Statement</a></li></ul><p>Example Office, 1600 Example Avenue, Washington, DC</p></footer>
            <script src="/assets/app.js"></script><script>gtag('config', 'X-1');</script>
            </body></html>
            """
    }
}
