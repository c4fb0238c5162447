import Crypto
import Foundation
import Hummingbird
import Palimpsest
import PalimpsestPresentation
import PalimpsestText
import Synchronization

/// The routes: pages, the JSON API, feeds, and the log as tlog-tiles. Every handler makes one
/// library call (through `Answers`) and renders it (through `WebPages` or the answer's JSON).
///
/// Handlers run LMDB reads synchronously: a read transaction lives inside one call and never across
/// an `await`. Each read sees the latest commit, so appends by other processes show without restart.
final class Site: Sendable {
    let ledger: Ledger
    let options: ServeOptions
    let cache: RenderedCache
    /// Text sizes per version, for the history timeline, by document (recomputed when it grows).
    let histories = Mutex<[String: [WebPages.HistoryEntry]]>([:])
    let catchingUp = Mutex<Void>(())

    init(ledger: Ledger, options: ServeOptions) {
        self.ledger = ledger
        self.options = options
        cache = RenderedCache(head: (try? ledger.head().position) ?? 0)
    }

    var baseURL: String { options.baseURL ?? "http://\(options.host):\(options.port)" }

    static let immutable = "public, max-age=31536000, immutable"
    /// A version's text can still be withheld by a redaction, so clients revalidate after a day.
    static let versionCache = "public, max-age=86400"

    // MARK: Plumbing

    /// Runs `body`, turning a ledger error into the error response the path calls for.
    func answer(_ request: Request, _ body: () throws -> Response) -> Response {
        do {
            return try body()
        } catch let error as LedgerError {
            return Responses.error(error, api: request.uri.path.hasPrefix("/api/"))
        } catch {
            return Responses.error(LedgerError(.storage, "\(error)"), api: request.uri.path.hasPrefix("/api/"))
        }
    }

    /// A cached rendering of a resource that only a redaction changes, with ETag revalidation.
    func cached(_ request: Request, key: String, type: String, cache: String, _ render: () throws -> [UInt8]) -> Response {
        answer(request) {
            cacheCheck()
            let entry: RenderedCache.Entry
            if let hit = self.cache.get(key) {
                entry = hit
            } else {
                let bytes = try render()
                entry = RenderedCache.Entry(body: ByteBuffer(bytes: bytes), type: type, etag: Responses.etag(of: bytes))
                self.cache.put(key, entry)
            }
            if request.headers[.ifNoneMatch]?.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == entry.etag }) == true {
                return Responses.notModified(etag: entry.etag, cache: cache)
            }
            var headers = HTTPFields()
            headers[.contentType] = entry.type
            headers[.cacheControl] = cache
            headers[.eTag] = entry.etag
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: entry.body))
        }
    }

    /// Provenance and the phrase index follow the log; another process's appends may leave them
    /// behind until the (writable) handle catches them up, one request at a time. A read-only
    /// handle cannot: the answer is then the ledger's error saying so.
    func projectionsCurrent() throws {
        guard !ledger.isReadOnly, try ledger.followingProjectionsLag().contains(where: { $0.behind > 0 }) else { return }
        try catchingUp.withLock { _ in try ledger.waitForProjections() }
    }

    func cacheCheck() {
        if let head = try? ledger.head().position { cache.invalidate(ifRedactedUpTo: head, ledger: ledger) }
    }

    /// A path parameter, percent-decoded (the router matches raw segments, so `%2F` stays inside one).
    func parameter(_ context: some RequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name), let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw LedgerError(.invalidInput, "the \(name) in the path is not valid percent-encoded UTF-8")
        }
        return decoded
    }

    func version(_ context: some RequestContext) throws -> UInt64 {
        guard let raw = context.parameters.get("version"), let v = UInt64(raw), v >= 1, v <= UInt64(Int64.max) else {
            throw LedgerError(.invalidInput, "the version in the path must be a number from 1, not \"\(context.parameters.get("version") ?? "")\"")
        }
        return v
    }

    /// A query parameter as HTML forms send it (application/x-www-form-urlencoded: `+` is a space,
    /// then percent-decoding); the first when repeated.
    func query(_ request: Request, _ name: String) -> String? {
        guard let raw = request.uri.query else { return nil }
        for pair in raw.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            guard key == name else { continue }
            return parts.count == 2 ? String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding : ""
        }
        return nil
    }

    func queryNumber(_ request: Request, _ name: String, minimum: UInt64 = 1) throws -> UInt64? {
        guard let raw = query(request, name) else { return nil }
        // At most 2^63 − 1, as the OpenAPI document says: counts become Int without overflow.
        guard let n = UInt64(raw), n >= minimum, n <= UInt64(Int64.max) else {
            throw LedgerError(.invalidInput, "the query parameter \(name) must be a whole number from \(minimum) to \(Int64.max), not \"\(raw)\"")
        }
        return n
    }

    func queryTime(_ request: Request, _ name: String) throws -> Timestamp? {
        guard let raw = query(request, name) else { return nil }
        guard let t = Timestamp(iso8601: raw) else {
            throw LedgerError(.invalidInput, "the query parameter \(name) \"\(raw)\" is not an ISO 8601 time with a zone, such as 2023-12-28T15:00:00Z")
        }
        return t
    }

    func spec(_ request: Request, _ name: String) throws -> VersionSpec? {
        guard let raw = query(request, name) else { return nil }
        return try VersionSpec.parse(raw, option: "the query parameter \(name)")
    }

    // MARK: Routes

    func addRoutes(to router: Router<BasicRequestContext>) {
        // Pages.
        router.page("/") { request, _ in self.cataloguePage(request) }
        router.page("/documents/:document") { request, context in self.historyPage(request, context) }
        router.page("/documents/:document/versions/:version") { request, context in self.versionPage(request, context) }
        router.page("/documents/:document/diff") { request, context in self.diffPage(request, context) }
        router.page("/documents/:document/blame") { request, context in self.blamePage(request, context) }
        router.page("/phrase") { request, _ in self.phrasePage(request) }
        router.page("/compare") { request, _ in self.comparePage(request) }
        router.page("/events/:position") { request, context in self.eventPage(request, context) }
        // Feeds.
        router.page("/feed") { request, _ in self.feed(request, document: nil) }
        router.page("/feed/:document") { request, context in
            self.answer(request) { self.feed(request, document: try self.parameter(context, "document")) }
        }
        // The log as tlog-tiles.
        router.page("/checkpoint") { request, _ in self.checkpoint(request) }
        router.page("/tile/**") { request, _ in self.tile(request) }
        // The API.
        addAPIRoutes(to: router)
    }

    // MARK: Pages

    func cataloguePage(_ request: Request) -> Response {
        answer(request) {
            let order = query(request, "sort").flatMap(WebPages.CatalogueOrder.init(rawValue:)) ?? .updated
            return Responses.html(WebPages.catalogue(try ledger.documents(), search: query(request, "q") ?? "", order: order))
        }
    }

    /// Every version with its text size, read in sequence once and kept until the document grows.
    func history(_ info: DocumentInfo) throws -> [WebPages.HistoryEntry] {
        if let known = histories.withLock({ $0[info.id] }), known.count == Int(info.version) { return known }
        let reader = ledger.sequentialTextReader()
        var entries: [WebPages.HistoryEntry] = []
        for event in try ledger.events(of: info.id) ?? [] where event.type.isDocumentChange {
            let size = try event.type.carriesText ? event.contentHash.flatMap { hash throws(LedgerError) in try reader.bytes(hash: hash)?.count } : nil
            entries.append(WebPages.HistoryEntry(event: event, textBytes: size))
        }
        histories.withLock { known in
            // A few documents' histories at a time: a large catalogue must not fill memory.
            if known.count >= 16 { known.removeAll() }
            known[info.id] = entries
        }
        return entries
    }

    func document(_ context: some RequestContext) throws -> DocumentInfo {
        let id = try parameter(context, "document")
        guard let info = try ledger.document(id) else { throw LedgerError(.notFound, "there is no document \"\(id)\" in the ledger") }
        return info
    }

    /// The answer's sentence for a version past the last, without decoding any text (every version
    /// from 1 to the document's count exists).
    func versionExists(_ info: DocumentInfo, _ v: UInt64) throws {
        guard v <= info.version else { throw Answers.noSuchVersion(info, v) }
    }

    func historyPage(_ request: Request, _ context: BasicRequestContext) -> Response {
        answer(request) {
            let info = try document(context)
            let page = Int(try queryNumber(request, "page") ?? 1)
            return Responses.html(WebPages.history(info, entries: try history(info), page: page))
        }
    }

    func versionPage(_ request: Request, _ context: BasicRequestContext) -> Response {
        answer(request) {
            let id = try parameter(context, "document"), v = try version(context)
            return cached(request, key: "page/\(id)/\(v)", type: "text/html; charset=utf-8", cache: Site.versionCache) {
                let state = try Answers.state(ledger, id, .version(v))
                return Array(WebPages.version(state).utf8)
            }
        }
    }

    func diffPage(_ request: Request, _ context: BasicRequestContext) -> Response {
        answer(request) {
            let id = try parameter(context, "document")
            let answer = try Answers.diff(ledger, id, from: try spec(request, "from"), to: try spec(request, "to"))
            let view: WebPages.DiffView = query(request, "view") == "side" ? .side : .inline
            return Responses.html(WebPages.diff(answer, view: view, full: query(request, "full") == "1"))
        }
    }

    func blamePage(_ request: Request, _ context: BasicRequestContext) -> Response {
        answer(request) {
            let info = try document(context)
            let v = try queryNumber(request, "version") ?? info.version
            try versionExists(info, v)
            try projectionsCurrent()
            return cached(request, key: "blame/\(info.id)/\(v)/\(info.version)", type: "text/html; charset=utf-8", cache: "no-cache") {
                let runs = try Answers.blameRuns(ledger, info.id, version: v)
                return Array(WebPages.blame(document: info.id, version: v, latest: info.version, runs: runs).utf8)
            }
        }
    }

    func phraseQuery(_ request: Request, phrase: String) throws -> PhraseQuery {
        let document = query(request, "doc").flatMap { $0.isEmpty ? nil : $0 }
        return PhraseQuery(
            phrase, document: document, ignoringCase: try queryFlag(request, "ignoreCase"),
            since: try queryTime(request, "since"), until: try queryTime(request, "until"))
    }

    /// A yes-or-no query parameter: `true` or `false` (absent: false).
    func queryFlag(_ request: Request, _ name: String) throws -> Bool {
        switch query(request, name) {
        case nil, "false": return false
        case "true": return true
        case let other?: throw LedgerError(.invalidInput, "the query parameter \(name) must be true or false, not \"\(other)\"")
        }
    }

    func phraseChanges(_ request: Request, phrase: String, kinds: Set<PhraseChange.Kind>, defaultLimit: Int?) throws -> (changes: [PhraseChange], next: UInt64?) {
        guard PhraseMatcher(phrase, ignoringCase: false) != nil else {
            throw LedgerError(.invalidInput, "the phrase \"\(phrase)\" has no words to look for")
        }
        let limit = try queryNumber(request, "limit").map(Int.init) ?? defaultLimit
        try projectionsCurrent()
        let page = try ledger.phraseChanges(try phraseQuery(request, phrase: phrase), kinds: kinds, after: try queryNumber(request, "after", minimum: 0), limit: limit)
        var changes: [PhraseChange] = []
        try page.forEach { changes.append($0) }
        return (changes, page.next)
    }

    func phrasePage(_ request: Request) -> Response {
        answer(request) {
            let phrase = query(request, "q") ?? ""
            let document = query(request, "doc").flatMap { $0.isEmpty ? nil : $0 }
            let trace = query(request, "trace") == "1"
            guard !phrase.trimmingCharacters(in: .whitespaces).isEmpty else {
                return Responses.html(WebPages.phrase("", document: document, trace: trace, changes: [], next: nil))
            }
            let (changes, next) = try phraseChanges(request, phrase: phrase, kinds: trace ? [.added, .removed] : [.removed], defaultLimit: 100)
            return Responses.html(WebPages.phrase(phrase, document: document, trace: trace, changes: changes, next: next))
        }
    }

    func comparePage(_ request: Request) -> Response {
        answer(request) {
            guard let a = query(request, "a"), let b = query(request, "b"), !a.isEmpty, !b.isEmpty else {
                let body = "<h1>Compare two documents</h1>\n" + WebPages.compareForm(first: query(request, "a") ?? "", second: query(request, "b") ?? "")
                    + "<p class=\"meta\">Each side is DOC, DOC@TIME or DOC#VERSION.</p>"
                return Responses.html(WebPages.page(title: "Compare", body: body))
            }
            return Responses.html(WebPages.compare(try Answers.compare(ledger, a, b), first: a, second: b))
        }
    }

    func position(_ context: some RequestContext) throws -> UInt64 {
        guard let raw = context.parameters.get("position"), let p = UInt64(raw), p >= 1, p <= UInt64(Int64.max) else {
            throw LedgerError(.invalidInput, "the position in the path must be a number from 1, not \"\(context.parameters.get("position") ?? "")\"")
        }
        return p
    }

    func eventAndProof(_ context: some RequestContext) throws -> (RecordedEvent, InclusionProof?, SignedCheckpoint?) {
        let p = try position(context)
        guard let event = try ledger.event(at: p) else {
            throw LedgerError(.notFound, "the ledger has \(try ledger.head().position) events; there is no position \(p)")
        }
        let checkpoint = try ledger.checkpoints().last { $0.treeSize >= p }
        let proof = try checkpoint.map { c throws(LedgerError) in try ledger.inclusionProof(position: p, treeSize: c.treeSize) }
        return (event, proof, checkpoint)
    }

    func eventPage(_ request: Request, _ context: BasicRequestContext) -> Response {
        answer(request) {
            let (event, proof, checkpoint) = try eventAndProof(context)
            return Responses.html(WebPages.event(event, canonicalJSON: CanonicalJSON.string(event.json()), proof: proof, checkpoint: checkpoint))
        }
    }

    // MARK: Feeds

    func feed(_ request: Request, document: String?) -> Response {
        answer(request) {
            let limit = try queryNumber(request, "limit").map(Int.init) ?? 50
            let scope: AtomFeed.Scope = document.map { .document($0) } ?? .prefix(query(request, "prefix") ?? "")
            let xml = try AtomFeed(scope: scope, limit: min(limit, 1000), baseURL: baseURL).render(from: ledger)
            return Responses.bytes(Array(xml.utf8), type: "application/atom+xml; charset=utf-8", cache: "no-cache")
        }
    }

    // MARK: tlog-tiles

    func checkpoint(_ request: Request) -> Response {
        answer(request) {
            guard let (_, note) = try ledger.latestCheckpointNote() else {
                throw LedgerError(.notFound, "the ledger has no checkpoint signed as a note yet; `palimpsest checkpoint` signs one")
            }
            return Responses.text(note.text)
        }
    }

    /// `/tile/<L>/<N>[.p/<W>]` and `/tile/entries/<N>[.p/<W>]`, N in the tlog-tiles path encoding
    /// (x001/x234/067). A full tile never changes; a partial one is replaced by a wider one.
    func tile(_ request: Request) -> Response {
        answer(request) {
            let path = request.uri.path
            guard let parsed = TilePath(path) else {
                throw LedgerError(.notFound, "\(path) is not a tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])")
            }
            let width = parsed.width ?? Ledger.tileWidth
            var bytes: [UInt8] = []
            if parsed.level == nil {
                guard let entries = try ledger.tileEntries(index: parsed.index, width: width) else {
                    throw LedgerError(.notFound, "the log does not have the entries of \(path) yet")
                }
                // Entry bundle: each entry as a 16-bit big-endian length and its bytes.
                for hash in entries { bytes += [0, 32] + hash.bytes }
            } else {
                guard let hashes = try ledger.tileHashes(level: parsed.level!, index: parsed.index, width: width) else {
                    throw LedgerError(.notFound, "the log does not have the hashes of \(path) yet")
                }
                for hash in hashes { bytes += hash.bytes }
            }
            return Responses.bytes(bytes, type: "application/octet-stream", cache: parsed.width == nil ? Site.immutable : "no-cache")
        }
    }
}

/// A tile's path (c2sp.org/tlog-tiles), parsed strictly: one encoding per tile.
struct TilePath: Equatable {
    /// nil for an entry bundle.
    var level: Int?
    var index: UInt64
    /// nil for a full tile.
    var width: Int?

    init(level: Int?, index: UInt64, width: Int?) { (self.level, self.index, self.width) = (level, index, width) }

    init?(_ path: String) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4, parts[0] == "", parts[1] == "tile" else { return nil }
        parts.removeFirst(2)
        if parts[0] == "entries" {
            level = nil
        } else {
            guard let l = Int(parts[0]), String(l) == parts[0], l >= 0, l <= 63 else { return nil }
            level = l
        }
        parts.removeFirst()
        width = nil
        if parts.count >= 2, parts[parts.count - 2].hasSuffix(".p") {
            guard let w = Int(parts.last!), String(w) == parts.last!, w >= 1, w <= 255 else { return nil }
            width = w
            parts.removeLast()
            parts[parts.count - 1].removeLast(2)
        }
        guard let index = TilePath.index(parts) else { return nil }
        self.index = index
    }

    /// N from its path elements: three digits each, all but the last prefixed with "x".
    static func index(_ elements: [String]) -> UInt64? {
        guard !elements.isEmpty, elements.count <= 7 else { return nil }
        var n: UInt64 = 0
        for (k, element) in elements.enumerated() {
            var digits = Substring(element)
            if k < elements.count - 1 {
                guard digits.hasPrefix("x") else { return nil }
                digits = digits.dropFirst()
            }
            guard digits.count == 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt64(digits) else { return nil }
            let (m, overflow) = n.multipliedReportingOverflow(by: 1000)
            guard !overflow else { return nil }
            n = m + value
        }
        // No leading zero groups: 0 is "000", 1000 is "x001/000".
        if elements.count > 1, elements[0] == "x000" { return nil }
        return n
    }

    static func encode(_ n: UInt64) -> String {
        var groups: [String] = []
        var rest = n
        repeat {
            groups.insert(String(format: "%03llu", rest % 1000), at: 0)
            rest /= 1000
        } while rest > 0
        return groups.enumerated().map { $0.offset < groups.count - 1 ? "x" + $0.element : $0.element }.joined(separator: "/")
    }
}
