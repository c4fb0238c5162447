import AsyncHTTPClient
import CBrotli
import Foundation
import NIOCore
import NIOHTTP1
import TextPacking

/// How pages are fetched: limits, timeouts and politeness.
public struct FetchPolicy: Sendable {
    /// Sent with every request: names Palimpsest and, from the watch list, who to contact.
    public var userAgent: String
    /// The most bytes a body may have, as received and once decoded (default 32 MiB).
    public var bodyLimit = 32 << 20
    public var connectTimeout: Duration = .seconds(10)
    /// The longest wait for the response to begin, and between two pieces of the body.
    public var readTimeout: Duration = .seconds(30)
    /// The longest a whole response may take, however steadily its bytes arrive.
    public var wholeTimeout: Duration = .seconds(120)
    public var maxRedirects = 10
    /// The pause between two requests to one host.
    public var hostDelay: Duration = .seconds(1)
    public var obeyRobots = true
    /// Retries of a transient failure (timeout, 5xx, refused connection, DNS), with the backoff
    /// doubling from `retryBackoff`.
    public var retries = 2
    public var retryBackoff: Duration = .seconds(2)

    public init(contact: String? = nil) {
        // The project has no public home page to point to; the watch list's contact is how a site
        // owner reaches whoever runs the capture.
        userAgent = "Palimpsest/0.1 (web capture for an edit ledger" + (contact.map { "; contact: \($0)" } ?? "") + ")"
    }
}

/// One request and its response, as sent and as received: what a WARC request and response
/// record hold. The body keeps its content encoding (the server's bytes); `Transfer-Encoding` is
/// undone by the client, so that header is left out of the recorded head.
public struct HTTPExchange: Sendable {
    public var url: String
    public var requestHead: [(name: String, value: String)]
    public var status: Int
    public var reason: String
    public var responseHead: [(name: String, value: String)]
    public var body: [UInt8]
    public var requestedAt: Date

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return responseHead.first { $0.name.lowercased() == lower }?.value
    }

    /// The request as a WARC request block.
    public var requestBlock: [UInt8] {
        let target = URL(string: url).map { u -> String in
            let path = u.path.isEmpty ? "/" : u.path
            return path + (u.query.map { "?\($0)" } ?? "")
        } ?? "/"
        var head = "GET \(target) HTTP/1.1\r\n"
        for (name, value) in requestHead { head += "\(name): \(value)\r\n" }
        return Array((head + "\r\n").utf8)
    }

    /// The response as a WARC response block: status line, fields, blank line, body.
    public var responseBlock: [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        for (name, value) in responseHead where name.lowercased() != "transfer-encoding" {
            if name.lowercased() == "content-length" { continue }
            head += "\(name): \(value)\r\n"
        }
        head += "Content-Length: \(body.count)\r\n"
        return Array((head + "\r\n").utf8) + body
    }
}

/// A fetch that gave an answer (any status), with the redirects that led to it.
public struct FetchResult: Sendable {
    /// Every exchange in order: redirects first, the final answer last.
    public var exchanges: [HTTPExchange]
    public var final: HTTPExchange { exchanges[exchanges.count - 1] }
    /// The final body with its content encoding (gzip, deflate, br) undone.
    public var decodedBody: [UInt8]
}

/// Why a page could not be fetched. Transient failures are retried and never turned into
/// retractions.
public struct FetchFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case transient, refused, robots }
    public var kind: Kind
    public var description: String
    /// The exchanges made before the failure (redirects, error statuses), for the WARC.
    public var exchanges: [HTTPExchange] = []
}

/// Fetches pages one at a time per host, with redirects followed by hand (so that each hop is
/// recorded), conditional requests, limits on size and time, content decoding and robots.txt.
public actor PageFetcher {
    public let policy: FetchPolicy
    private let client: HTTPClient
    private var lastRequest: [String: ContinuousClock.Instant] = [:]
    private var robots: [String: RobotsRules] = [:]

    public init(policy: FetchPolicy) {
        self.policy = policy
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(Int64(policy.connectTimeout.nanoseconds)), read: .nanoseconds(Int64(policy.readTimeout.nanoseconds))),
            decompression: .disabled
        )
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// Fetches `url`, following redirects; `validators` are the ETag and Last-Modified of the
    /// last capture, sent as If-None-Match and If-Modified-Since.
    public func fetch(_ url: String, etag: String? = nil, lastModified: String? = nil) async throws(FetchFailure) -> FetchResult {
        var attempt = 0
        while true {
            do {
                return try await fetchOnce(url, etag: etag, lastModified: lastModified)
            } catch let failure where failure.kind == .transient && attempt < policy.retries {
                attempt += 1
                try? await Task.sleep(for: policy.retryBackoff * (1 << (attempt - 1)))
            }
        }
    }

    /// Whether robots.txt lets Palimpsest fetch `url` (always true when the policy ignores it).
    public func allowed(_ url: URL) async -> Bool {
        guard policy.obeyRobots, let host = url.host else { return true }
        let origin = "\(url.scheme ?? "http")://\(host)\(url.port.map { ":\($0)" } ?? "")"
        if robots[origin] == nil {
            robots[origin] = await fetchRobots(origin)
        }
        let path = (url.path.isEmpty ? "/" : url.path) + (url.query.map { "?\($0)" } ?? "")
        return robots[origin]!.allows(path)
    }

    /// The robots.txt exchanges made so far (for the WARC), taken once.
    public private(set) var robotsExchanges: [HTTPExchange] = []
    public func takeRobotsExchanges() -> [HTTPExchange] {
        defer { robotsExchanges = [] }
        return robotsExchanges
    }

    private func fetchRobots(_ origin: String) async -> RobotsRules {
        // RFC 9309: 4xx means no rules; 5xx and unreachable mean "disallow everything" for now.
        do {
            let exchange = try await exchange(origin + "/robots.txt", extraHeaders: [], limit: 512 * 1024)
            robotsExchanges.append(exchange)
            switch exchange.status {
            case 200..<300:
                let body = (try? decode(exchange)) ?? exchange.body
                return RobotsRules(parsing: String(decoding: body, as: UTF8.self), agent: "palimpsest")
            case 400..<500: return .allowAll
            default: return .disallowAll
            }
        } catch {
            robotsExchanges.append(contentsOf: error.exchanges)
            return .disallowAll
        }
    }

    private func fetchOnce(_ start: String, etag: String?, lastModified: String?) async throws(FetchFailure) -> FetchResult {
        var exchanges: [HTTPExchange] = []
        var current = start
        var seen: Set<String> = [start]
        while true {
            guard let url = URL(string: current), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
                throw FetchFailure(kind: .refused, description: "\(current) is not an http or https URL", exchanges: exchanges)
            }
            if await !allowed(url) {
                throw FetchFailure(kind: .robots, description: "robots.txt of \(url.host ?? current) forbids \(current)", exchanges: exchanges)
            }
            var conditional: [(String, String)] = []
            if exchanges.isEmpty {
                if let etag { conditional.append(("If-None-Match", etag)) }
                if let lastModified { conditional.append(("If-Modified-Since", lastModified)) }
            }
            let exchange: HTTPExchange
            do {
                exchange = try await self.exchange(current, extraHeaders: conditional, limit: policy.bodyLimit)
            } catch {
                var failure = error
                failure.exchanges = exchanges + error.exchanges
                throw failure
            }
            exchanges.append(exchange)
            if [301, 302, 303, 307, 308].contains(exchange.status), let location = exchange.header("Location") {
                guard let next = URL(string: location, relativeTo: url)?.absoluteURL.absoluteString else {
                    throw FetchFailure(kind: .refused, description: "\(current) redirects to \"\(location)\", which is not a URL", exchanges: exchanges)
                }
                if seen.contains(next) {
                    throw FetchFailure(kind: .refused, description: "\(start) redirects in a loop (back to \(next))", exchanges: exchanges)
                }
                if exchanges.count > policy.maxRedirects {
                    throw FetchFailure(kind: .refused, description: "\(start) redirects more than \(policy.maxRedirects) times", exchanges: exchanges)
                }
                seen.insert(next)
                current = next
                continue
            }
            if exchange.status >= 500 {
                throw FetchFailure(kind: .transient, description: "\(current) answered \(exchange.status) \(exchange.reason)", exchanges: exchanges)
            }
            let decoded: [UInt8]
            do { decoded = try decode(exchange) } catch {
                throw FetchFailure(kind: .refused, description: error.description, exchanges: exchanges)
            }
            return FetchResult(exchanges: exchanges, decodedBody: decoded)
        }
    }

    private func decode(_ exchange: HTTPExchange) throws(FetchFailure) -> [UInt8] {
        try ContentEncoding.decode(exchange.body, encoding: exchange.header("Content-Encoding"), url: exchange.url, limit: policy.bodyLimit)
    }

    static func size(_ bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }

    /// One GET, politely spaced from the last request to the same host.
    private func exchange(_ url: String, extraHeaders: [(String, String)], limit: Int) async throws(FetchFailure) -> HTTPExchange {
        let host = URL(string: url)?.host ?? url
        if let last = lastRequest[host] {
            let wait = policy.hostDelay - (ContinuousClock.now - last)
            if wait > .zero { try? await Task.sleep(for: wait) }
        }
        defer { lastRequest[host] = ContinuousClock.now }
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        var head: [(name: String, value: String)] = [
            ("Host", URL(string: url).map { u in (u.host ?? "") + (u.port.map { ":\($0)" } ?? "") } ?? ""),
            ("User-Agent", policy.userAgent),
            ("Accept", "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.5"),
            ("Accept-Encoding", "gzip, deflate, br"),
        ]
        head += extraHeaders.map { (name: $0.0, value: $0.1) }
        for (name, value) in head where name != "Host" { request.headers.add(name: name, value: value) }
        let requestedAt = Date()
        let clock = ContinuousClock()
        let began = clock.now
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(policy.wholeTimeout.nanoseconds)))
            var body: [UInt8] = []
            let declared = response.headers.first(name: "Content-Length").flatMap(Int.init)
            if let declared, declared > limit {
                throw FetchFailure(kind: .refused, description: "the body of \(url) is \(declared) bytes, over the limit of \(Self.size(limit))")
            }
            for try await var chunk in response.body {
                if body.count + chunk.readableBytes > limit {
                    throw FetchFailure(kind: .refused, description: "the body of \(url) is over the limit of \(Self.size(limit))")
                }
                body += chunk.readBytes(length: chunk.readableBytes) ?? []
                if clock.now - began > policy.wholeTimeout {
                    throw FetchFailure(kind: .transient, description: "\(url) took longer than \(Self.describe(policy.wholeTimeout)) to send its body")
                }
            }
            return HTTPExchange(
                url: url, requestHead: head, status: Int(response.status.code), reason: response.status.reasonPhrase,
                responseHead: response.headers.map { (name: $0.name, value: $0.value) }, body: body, requestedAt: requestedAt)
        } catch let failure as FetchFailure {
            throw failure
        } catch {
            throw FetchFailure(kind: .transient, description: "\(url) could not be fetched: \(Self.describe(error))")
        }
    }

    /// "600 ms", "2 s", "2.5 s".
    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.nanoseconds / 1_000_000
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : String(format: "%.1f s", Double(milliseconds) / 1000)
    }

    static func describe(_ error: any Error) -> String {
        if let client = error as? HTTPClientError {
            switch client {
            case .readTimeout: return "no bytes arrived within the read timeout"
            case .connectTimeout: return "the connection timed out"
            case .deadlineExceeded: return "the whole response took too long"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return "\(client)"
            }
        }
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "the connection was refused" }
        if text.contains("NXDOMAIN") || text.contains("Name or service not known") || text.contains("resolve") { return "the host name does not resolve" }
        return text
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// The HTTP content codings a page may arrive in.
enum ContentEncoding {
    /// Undoes `encoding` (gzip, deflate, br, identity), refusing a body that inflates past `limit`.
    static func decode(_ body: [UInt8], encoding header: String?, url: String, limit: Int) throws(FetchFailure) -> [UInt8] {
        let encoding = (header ?? "identity").lowercased().trimmingCharacters(in: .whitespaces)
        do {
            switch encoding {
            case "", "identity": return body
            case "gzip", "x-gzip": return try Gzip.inflate(body, limit: limit)
            case "deflate":
                if let zlib = try? Gzip.inflate(body, limit: limit) { return zlib }
                return try Gzip.inflate(body, format: .raw, limit: limit)
            case "br": return try Brotli.decompress(body, limit: limit)
            default:
                throw FetchFailure(kind: .refused, description: "the body of \(url) has the unknown Content-Encoding \"\(encoding)\"")
            }
        } catch let failure as Gzip.Failure {
            throw FetchFailure(kind: .refused, description: failure.overLimit
                ? "the body of \(url) decompresses to more than the limit of \(PageFetcher.size(limit)) (\(encoding))"
                : "the \(encoding) body of \(url) is corrupt: \(failure.description)")
        } catch let failure as FetchFailure {
            throw failure
        } catch {
            throw FetchFailure(kind: .refused, description: "the body of \(url) cannot be decoded: \(error)")
        }
    }
}

/// Brotli (RFC 7932) through Debian's libbrotli, with the same limit as gzip.
enum Brotli {
    static func decompress(_ input: [UInt8], limit: Int) throws(Gzip.Failure) -> [UInt8] {
        guard let state = BrotliDecoderCreateInstance(nil, nil, nil) else { throw Gzip.Failure(description: "brotli could not start") }
        defer { BrotliDecoderDestroyInstance(state) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        return try input.withUnsafeBufferPointer { (src) throws(Gzip.Failure) -> [UInt8] in
            var availableIn = src.count
            var nextIn = src.baseAddress
            while true {
                var availableOut = chunk.count
                let result = chunk.withUnsafeMutableBufferPointer { dst in
                    var nextOut = dst.baseAddress
                    return BrotliDecoderDecompressStream(state, &availableIn, &nextIn, &availableOut, &nextOut, nil)
                }
                let made = chunk.count - availableOut
                if output.count + made > limit { throw Gzip.Failure(description: "it inflates to more than \(limit) bytes", overLimit: true) }
                output += chunk[0..<made]
                switch result {
                case BROTLI_DECODER_RESULT_SUCCESS: return output
                case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT: continue
                case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT: throw Gzip.Failure(description: "the brotli data ends early")
                default: throw Gzip.Failure(description: "the brotli data is corrupt")
                }
            }
        }
    }
}
