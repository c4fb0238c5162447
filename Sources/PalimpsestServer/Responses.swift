import Crypto
import Foundation
import Hummingbird
import Synchronization
import Palimpsest
import PalimpsestPresentation

/// Response builders: HTML, JSON, plain text, errors in the CLI's words and exit codes.
enum Responses {
    static func status(for code: LedgerError.Code) -> HTTPResponse.Status {
        switch code {
        case .notFound: .notFound
        case .invalidInput: .badRequest
        case .conflict: .conflict
        case .integrity: .internalServerError
        case .storage: .serviceUnavailable
        default: .internalServerError
        }
    }

    /// `{"error": sentence, "code": exit code}` for the API, an HTML page otherwise.
    static func error(_ error: LedgerError, status: HTTPResponse.Status? = nil, api: Bool) -> Response {
        let status = status ?? self.status(for: error.code)
        if api {
            let body: JSONValue = ["error": .string(error.message), "code": .int(Int64(error.code.exitCode)), "status": .int(Int64(status.code))]
            return bytes(CanonicalJSON.encode(body) + [0x0A], type: "application/json", status: status, cache: "no-store")
        }
        return bytes(Array(WebPages.error(status: status.code, message: error.message).utf8), type: "text/html; charset=utf-8", status: status, cache: "no-store")
    }

    static func bytes(_ bytes: [UInt8], type: String, status: HTTPResponse.Status = .ok, cache: String, etag: String? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = cache
        if let etag { headers[.eTag] = etag }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(_ value: JSONValue, cache: String = "no-cache") -> Response {
        bytes(CanonicalJSON.encode(value) + [0x0A], type: "application/json", cache: cache)
    }

    static func html(_ page: String, cache: String = "no-cache") -> Response {
        bytes(Array(page.utf8), type: "text/html; charset=utf-8", cache: cache)
    }

    static func text(_ text: String, cache: String = "no-cache") -> Response {
        bytes(Array(text.utf8), type: "text/plain; charset=utf-8", cache: cache)
    }

    /// A strong validator: the SHA-256 of the body, shortened.
    static func etag(of bytes: [UInt8]) -> String {
        "\"" + Hex.encode(Array(SHA256.hash(data: bytes).prefix(16))) + "\""
    }

    static func notModified(etag: String, cache: String) -> Response {
        var headers = HTTPFields()
        headers[.eTag] = etag
        headers[.cacheControl] = cache
        return Response(status: .notModified, headers: headers)
    }
}

/// Rendered responses of resources that change only when a redaction withholds text: kept in memory
/// (at most `budget` bytes, the oldest dropped first) and dropped whenever the log gains a redaction.
final class RenderedCache: Sendable {
    struct Entry: Sendable {
        var body: ByteBuffer
        var type: String
        var etag: String
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var order: [String] = []
        var bytes = 0
        var checkedHead: UInt64 = 0
    }

    private let state: Mutex<State>
    let budget: Int

    init(budget: Int = 64 << 20, head: UInt64) {
        state = Mutex(State(checkedHead: head))
        self.budget = budget
    }

    func get(_ key: String) -> Entry? { state.withLock { $0.entries[key] } }

    func put(_ key: String, _ entry: Entry) {
        state.withLock { s in
            guard entry.body.readableBytes <= budget / 4, s.entries[key] == nil else { return }
            s.entries[key] = entry
            s.order.append(key)
            s.bytes += entry.body.readableBytes
            while s.bytes > budget, !s.order.isEmpty {
                let old = s.order.removeFirst()
                s.bytes -= s.entries.removeValue(forKey: old)?.body.readableBytes ?? 0
            }
        }
    }

    /// Drops everything when an event since the last look redacted text. `head` is the log's head now.
    func invalidate(ifRedactedUpTo head: UInt64, ledger: Ledger) {
        let from: UInt64? = state.withLock { s in
            guard head > s.checkedHead else { return nil }
            defer { s.checkedHead = head }
            return s.checkedHead + 1
        }
        guard let from else { return }
        var redacted = true
        if let events = try? ledger.events(from: from, limit: Int(head - from + 1)) { redacted = events.contains { $0.type == .redacted } }
        if redacted { state.withLock { $0 = State(checkedHead: head) } }
    }
}
