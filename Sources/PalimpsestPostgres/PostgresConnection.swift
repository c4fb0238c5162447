import CLibPQ
import Foundation
import Palimpsest

/// One connection to a PostgreSQL server through libpq, PostgreSQL's own client library: the URL,
/// the PG* environment variables, ~/.pgpass, service files and `sslmode` mean exactly what they mean
/// to psql. Calls block (the ledger's writer is synchronous); one thread at a time (`@unchecked
/// Sendable`: the owner serialises its use, and a connection is never shared between two owners).
final class PostgresConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// The URL with any password removed: what messages may show.
    let shownURL: String

    /// A parameter of a statement: text (PostgreSQL parses it by the column's type) or raw bytes.
    enum Parameter {
        case text(String)
        case bytes([UInt8])
        case null
    }

    init(url: String) throws(LedgerError) {
        shownURL = PostgresConnection.withoutPassword(url)
        if let failure = lpq_load() {
            throw LedgerError(.storage, "cannot connect to the shared ledger at \(shownURL): PostgreSQL's client library could not be loaded (\(String(cString: failure))); install it (Debian: apt-get install libpq5)")
        }
        let conn = url.withCString { lpq_connectdb($0) }
        guard let conn, lpq_status(conn) == CONNECTION_OK else {
            let reason = conn.map { String(cString: lpq_errorMessage($0)) } ?? "out of memory"
            if let conn { lpq_finish(conn) }
            throw LedgerError(.storage, "cannot connect to the shared ledger at \(shownURL): \(PostgresConnection.oneLine(reason))")
        }
        handle = conn
        // Quiet notices ("relation already exists, skipping") instead of libpq printing them.
        lpq_setNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { if let handle { lpq_finish(handle) } }

    /// The failure of a statement: the server's SQLSTATE (nil when the connection itself failed)
    /// and its message.
    struct Failure: Error, Sendable {
        let sqlState: String?
        let message: String
        var isUniqueViolation: Bool { sqlState == "23505" }
        var isConnectionLost: Bool { sqlState == nil || sqlState!.hasPrefix("08") || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03" }
    }

    /// Rows of a result, binary format: read with the typed accessors.
    struct Rows {
        fileprivate let result: OpaquePointer
        var count: Int { Int(lpq_ntuples(result)) }
        func isNull(_ row: Int, _ column: Int) -> Bool { lpq_getisnull(result, Int32(row), Int32(column)) != 0 }
        func bytes(_ row: Int, _ column: Int) -> [UInt8]? {
            if isNull(row, column) { return nil }
            let length = Int(lpq_getlength(result, Int32(row), Int32(column)))
            guard let value = lpq_getvalue(result, Int32(row), Int32(column)) else { return [] }
            return value.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        }
        func string(_ row: Int, _ column: Int) -> String? { bytes(row, column).map { String(decoding: $0, as: UTF8.self) } }
        /// A bigint (int8) column.
        func int64(_ row: Int, _ column: Int) -> Int64? {
            guard let b = bytes(row, column), b.count == 8 else { return nil }
            return b.reduce(0) { $0 << 8 | Int64($1) }
        }
    }

    /// Runs one statement with parameters; results come back in binary format. Throws `Failure`.
    @discardableResult
    func execute(_ sql: String, _ parameters: [Parameter] = []) throws(Failure) -> Rows {
        guard let handle else { throw Failure(sqlState: nil, message: "the connection is closed") }
        var buffers: [[UInt8]] = parameters.map {
            switch $0 {
            case .text(let s): Array(s.utf8) + [0]
            case .bytes(let b): b
            case .null: []
            }
        }
        let lengths = parameters.enumerated().map { Int32(buffers[$0.offset].count) }
        let formats: [Int32] = parameters.map { if case .bytes = $0 { 1 } else { 0 } }
        let result: OpaquePointer? = withPointers(&buffers, nulls: parameters.map { if case .null = $0 { true } else { false } }) { values in
            lpq_execParams(handle, sql, Int32(parameters.count), nil, values, lengths, formats, 1)
        }
        guard let result else { throw Failure(sqlState: nil, message: PostgresConnection.oneLine(String(cString: lpq_errorMessage(handle)))) }
        let status = lpq_resultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = lpq_resultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = lpq_resultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) } ?? String(cString: lpq_errorMessage(handle))
            lpq_clear(result)
            throw Failure(sqlState: lpq_status(handle) == CONNECTION_OK ? state : nil, message: PostgresConnection.oneLine(message))
        }
        let rows = Rows(result: result)
        results.append(result)
        return rows
    }

    /// Results of this connection's statements since `release()`: freed together, so that `Rows` never
    /// outlives its memory within one unit of work.
    private var results: [OpaquePointer] = []

    /// Frees the results of the statements run so far.
    func release() {
        for r in results { lpq_clear(r) }
        results.removeAll()
    }

    private func withPointers<R>(_ buffers: inout [[UInt8]], nulls: [Bool], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafePointer<CChar>?] = []
        func step(_ i: Int) -> R {
            if i == buffers.count { return body(pointers) }
            if nulls[i] {
                pointers.append(nil)
                return step(i + 1)
            }
            if buffers[i].isEmpty { buffers[i] = [0] }
            return buffers[i].withUnsafeBufferPointer { p in
                pointers.append(UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self))
                return step(i + 1)
            }
        }
        return step(0)
    }

    /// Waits up to `timeout` seconds for a notification on a channel this connection LISTENs to;
    /// true when one (or more) arrived. Throws when the connection is lost.
    func waitForNotification(timeout: Double) throws(Failure) -> Bool {
        guard let handle else { throw Failure(sqlState: nil, message: "the connection is closed") }
        if drainNotifications(handle) { return true }
        var pfd = pollfd(fd: lpq_socket(handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, Int32(timeout * 1000))
        if ready > 0 {
            guard lpq_consumeInput(handle) != 0 else {
                throw Failure(sqlState: nil, message: PostgresConnection.oneLine(String(cString: lpq_errorMessage(handle))))
            }
        }
        return drainNotifications(handle)
    }

    private func drainNotifications(_ handle: OpaquePointer) -> Bool {
        var any = false
        while let note = lpq_notifies(handle) {
            any = true
            lpq_freemem(note)
        }
        return any
    }

    /// Connects again with the same settings (after the server restarted).
    func reset() {
        if let handle { lpq_reset(handle) }
    }

    /// True while the server connection is up.
    var isConnected: Bool { handle.map { lpq_status($0) == CONNECTION_OK } ?? false }

    /// `url` with the password of its user-info part and any `password=` parameter removed.
    static func withoutPassword(_ url: String) -> String {
        var shown = url
        if let scheme = shown.range(of: "://"), let at = shown[scheme.upperBound...].firstIndex(of: "@") {
            let userInfo = shown[scheme.upperBound..<at]
            if let colon = userInfo.firstIndex(of: ":") { shown.replaceSubrange(colon..<at, with: ":***") }
        }
        if let range = shown.range(of: #"password=[^&]*"#, options: .regularExpression) {
            shown.replaceSubrange(range, with: "password=***")
        }
        return shown
    }

    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}
