import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestServer

#if canImport(Glibc)
import Glibc
#endif

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the ledger over HTTP: pages for every question, a JSON API, Atom feeds, and the log as C2SP tlog-tiles.",
        discussion: """
            Pages: / (the catalogue), /documents/DOC (history), /documents/DOC/versions/N, /documents/DOC/diff, \
            /documents/DOC/blame, /phrase, /compare, /events/N. The API is under /api/v1 (its OpenAPI document at \
            /api/v1/openapi.json); feeds at /feed, /feed/DOC and /feed?prefix=P; the log at /checkpoint, \
            /tile/L/N and /tile/entries/N. A document ID is one path segment, percent-encoded (/ as %2F). \
            Read-only and on loopback unless told otherwise; other processes may append meanwhile. \
            Stops on SIGINT or SIGTERM.
            """)

    @OptionGroup var location: LedgerOptions
    @Option(help: ArgumentHelp("The address and port to listen on (a port alone means 127.0.0.1).", valueName: "host:port"))
    var listen = "127.0.0.1:8750"
    @Option(name: .customLong("base-url"), help: ArgumentHelp("Where readers reach the server (links in feeds); default http://HOST:PORT.", valueName: "url"))
    var baseURL: String?
    @Flag(name: .customLong("allow-writes"), help: "Accept POST /api/v1/events and /api/v1/cosignatures from holders of the token.")
    var allowWrites = false
    @Option(name: .customLong("token-file"), help: ArgumentHelp("A file holding the bearer token writes must carry (with --allow-writes).", valueName: "file"))
    var tokenFile: String?

    var address: (host: String, port: Int)? {
        let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
        let (host, port) = parts.count == 1 ? ("127.0.0.1", String(parts[0])) : (parts.dropLast().joined(separator: ":"), String(parts.last!))
        guard let number = Int(port), (0...65535).contains(number), !host.isEmpty else { return nil }
        return (host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host, number)
    }

    func validate() throws {
        guard address != nil else { throw ValidationError("--listen \"\(listen)\" is not HOST:PORT (such as 127.0.0.1:8750)") }
        if allowWrites, tokenFile == nil { throw ValidationError("--allow-writes needs --token-file FILE: writes must carry a token") }
        if tokenFile != nil, !allowWrites { throw ValidationError("--token-file goes with --allow-writes") }
        if let baseURL, !(baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://")) {
            throw ValidationError("--base-url \"\(baseURL)\" must start with http:// or https://")
        }
    }

    func run() throws {
        var options = ServeOptions(ledgerPath: location.path)
        (options.host, options.port) = address!
        options.baseURL = baseURL
        options.allowWrites = allowWrites
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw LedgerError(.invalidInput, "the token file \(tokenFile) cannot be read")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard token.utf8.count >= 16 else {
                throw LedgerError(.invalidInput, "the token in \(tokenFile) is shorter than 16 characters; use a long random one (openssl rand -hex 32)")
            }
            options.token = token
        }
        // The ledger must exist; a read-only server never creates one.
        guard FileManager.default.fileExists(atPath: (location.path as NSString).appendingPathComponent("data.mdb")) else {
            throw LedgerError(.notFound, "there is no ledger at \(location.path); create one with `palimpsest init`")
        }
        let host = options.host
        options.onListening = { port in
            writeToStandardError("palimpsest: serving \(location.path) on http://\(host.contains(":") ? "[\(host)]" : host):\(port)/\(allowWrites ? " (writes allowed with the token)" : " (read-only)")\n")
        }
        // ServiceLifecycle handles SIGINT and SIGTERM: unblock them for this process.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        let ready = options
        try runBlocking { try await PalimpsestWebServer.run(ready) }
    }
}
