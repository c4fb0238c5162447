import Crypto
import Foundation
import Hummingbird
import Palimpsest
import PalimpsestPresentation

/// `/api/v1/…`: the reading commands' `--json` answers (same schemas, Schemas/*.json, gathered in
/// the OpenAPI document), and the two writes the server accepts when started with `--allow-writes`.
extension Site {
    func addAPIRoutes(to router: Router<BasicRequestContext>) {
        let api = router.group("api/v1")
        api.page("openapi.json") { request, _ in
            self.answer(request) {
                guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = FileManager.default.contents(atPath: url.path) else {
                    throw LedgerError(.storage, "the OpenAPI document is missing from the installation")
                }
                return Responses.bytes(Array(data), type: "application/json", cache: "no-cache")
            }
        }
        api.page("documents") { request, _ in self.answer(request) { Responses.json(Answers.documents(try self.ledger.documents())) } }
        api.page("documents/:document") { request, context in self.answer(request) { Responses.json(try self.document(context).json) } }
        api.page("documents/:document/versions/:version") { request, context in
            self.answer(request) {
                let id = try self.parameter(context, "document"), v = try self.version(context)
                return self.cached(request, key: "api/\(id)/\(v)", type: "application/json", cache: Site.versionCache) {
                    CanonicalJSON.encode(Answers.show(try Answers.state(self.ledger, id, .version(v)))) + [0x0A]
                }
            }
        }
        api.page("documents/:document/diff") { request, context in
            self.answer(request) {
                let id = try self.parameter(context, "document")
                return Responses.json(try Answers.diff(self.ledger, id, from: try self.spec(request, "from"), to: try self.spec(request, "to")).json)
            }
        }
        api.page("documents/:document/blame") { request, context in self.answer(request) { try self.blameJSON(request, context) } }
        api.page("compare") { request, _ in
            self.answer(request) {
                guard let a = self.query(request, "a"), let b = self.query(request, "b"), !a.isEmpty, !b.isEmpty else {
                    throw LedgerError(.invalidInput, "give the two documents as the query parameters a and b (DOC, DOC@TIME or DOC#VERSION)")
                }
                return Responses.json(try Answers.compare(self.ledger, a, b).json)
            }
        }
        for (path, key, kinds) in [("removed", "removals", Set<PhraseChange.Kind>([.removed])), ("trace", "changes", [.added, .removed])] {
            api.page(RouterPath(stringLiteral: path)) { request, _ in
                self.answer(request) {
                    guard let phrase = self.query(request, "phrase"), !phrase.trimmingCharacters(in: .whitespaces).isEmpty else {
                        throw LedgerError(.invalidInput, "give the phrase as the query parameter phrase")
                    }
                    let (changes, next) = try self.phraseChanges(request, phrase: phrase, kinds: kinds, defaultLimit: nil)
                    return Responses.bytes(Answers.phraseChanges(phrase: phrase, listedAs: key, changes: changes, next: next), type: "application/json", cache: "no-cache")
                }
            }
        }
        api.page("log") { request, _ in self.answer(request) { try self.logJSON(request) } }
        api.page("stats") { request, _ in
            self.answer(request) { Responses.json(Answers.statistics(try self.ledger.statistics(), actors: Int(try self.queryNumber(request, "limit", minimum: 0) ?? 20))) }
        }
        api.page("checkpoints") { request, _ in self.answer(request) { Responses.json(try Answers.checkpointList(self.ledger)) } }
        api.page("proofs/inclusion") { request, _ in
            self.answer(request) {
                guard let position = try self.queryNumber(request, "position") else { throw LedgerError(.invalidInput, "give the query parameter position") }
                let checkpoint = try self.checkpointFor(request, covering: position)
                return Responses.json(["checkpoint": checkpoint.json, "proof": try self.ledger.inclusionProof(position: position, treeSize: checkpoint.treeSize).json])
            }
        }
        api.page("proofs/consistency") { request, _ in
            self.answer(request) {
                guard let old = try self.queryNumber(request, "old"), let new = try self.queryNumber(request, "new") else {
                    throw LedgerError(.invalidInput, "give the checkpoint numbers as the query parameters old and new")
                }
                guard let a = try self.ledger.checkpoint(number: old), let b = try self.ledger.checkpoint(number: new) else {
                    throw LedgerError(.notFound, "the ledger has \(try self.ledger.checkpoints().count) checkpoints; there is no checkpoint \(max(old, new))")
                }
                let proof = try self.ledger.consistencyProof(oldSize: a.treeSize, newSize: b.treeSize)
                return Responses.json(["oldCheckpoint": a.json, "newCheckpoint": b.json, "proof": proof.json])
            }
        }
        api.page("events/:position") { request, context in
            self.answer(request) {
                let (event, _, _) = try self.eventAndProof(context)
                return Responses.json(event.json())
            }
        }
        api.page("reports/:document") { request, context in
            self.answer(request) {
                let info = try self.document(context)
                var scope = AuditReport.Scope(since: try self.queryTime(request, "since"), until: try self.queryTime(request, "until"))
                switch (try self.queryNumber(request, "fromVersion"), try self.queryNumber(request, "toVersion")) {
                case (nil, nil): break
                case (let first?, let last?):
                    guard first <= last else { throw LedgerError(.invalidInput, "fromVersion \(first) is after toVersion \(last)") }
                    scope.versions = first...last
                default: throw LedgerError(.invalidInput, "give fromVersion and toVersion together")
                }
                let (plan, _) = try self.ledger.auditReportPlan(.document(info.id), scope: scope)
                var bytes: [UInt8] = []
                try self.ledger.writeAuditReportJSON(plan) { bytes += $0 }
                return Responses.bytes(bytes, type: "application/json", cache: "no-cache")
            }
        }
        api.post("events") { request, context in try await self.postEvent(request, context) }
        api.post("cosignatures") { request, context in try await self.postCosignatures(request, context) }
    }

    func checkpointFor(_ request: Request, covering position: UInt64) throws -> SignedCheckpoint {
        if let number = try queryNumber(request, "checkpoint") {
            guard let c = try ledger.checkpoint(number: number) else { throw LedgerError(.notFound, "there is no checkpoint \(number)") }
            guard c.treeSize >= position else { throw LedgerError(.notFound, "checkpoint \(number) covers \(c.treeSize) events, not position \(position)") }
            return c
        }
        guard let c = try ledger.checkpoints().last(where: { $0.treeSize >= position }) else {
            throw LedgerError(.notFound, "no signed checkpoint covers position \(position) yet; `palimpsest checkpoint` signs one")
        }
        return c
    }

    func blameJSON(_ request: Request, _ context: BasicRequestContext) throws -> Response {
        let info = try document(context)
        let v = try queryNumber(request, "version") ?? info.version
        try versionExists(info, v)
        try projectionsCurrent()
        if try queryFlag(request, "runs") {
            return Responses.json(Answers.blameRunsJSON(document: info.id, version: v, runs: try Answers.blameRuns(ledger, info.id, version: v)))
        }
        guard let blame = try ledger.blame(info.id, asOf: .version(v)) else {
            throw LedgerError(.notFound, "\"\(info.id)\" has no version \(v)")
        }
        return Responses.json(Answers.blame(blame))
    }

    func logJSON(_ request: Request) throws -> Response {
        let document = query(request, "document").flatMap { $0.isEmpty ? nil : $0 }
        if let document, try ledger.document(document) == nil { throw LedgerError(.notFound, "there is no document \"\(document)\" in the ledger") }
        let filter = EventFilter(
            document: document, actor: query(request, "actor").flatMap { $0.isEmpty ? nil : $0 },
            since: try queryTime(request, "since"), until: try queryTime(request, "until"))
        let limit = Int(min(try queryNumber(request, "limit") ?? 100, 10_000))
        let after = try queryNumber(request, "after", minimum: 0) ?? 0
        var events: [RecordedEvent] = []
        var more = false
        try ledger.forEachEvent(from: after + 1, matching: filter) { event in
            if events.count == limit {
                more = true
                return false
            }
            events.append(event)
            return true
        }
        return Responses.json(["events": .array(events.map { $0.json() }), "next": more ? .int(Int64(events.last!.position)) : .null])
    }

    // MARK: Writes

    /// Nil when the request may write; else the refusal. Tokens compare in constant time (their
    /// SHA-256 digests, byte by byte without early exit), so timing tells nothing of the token.
    func refusal(_ request: Request) -> Response? {
        guard options.allowWrites, let token = options.token else {
            return Responses.error(LedgerError(.invalidInput, "this server is read-only; start it with --allow-writes and --token-file to accept writes"), status: .methodNotAllowed, api: true)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            var response = Responses.error(LedgerError(.invalidInput, "writes need the header Authorization: Bearer TOKEN"), status: .unauthorized, api: true)
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        let given = SHA256.hash(data: Array(header.dropFirst(7).utf8)), expected = SHA256.hash(data: Array(token.utf8))
        var difference: UInt8 = 0
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        guard difference == 0 else {
            return Responses.error(LedgerError(.invalidInput, "the bearer token is not this server's"), status: .forbidden, api: true)
        }
        return nil
    }

    func body(_ request: Request) async throws -> [UInt8] {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: options.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch {
            throw LedgerError(.invalidInput, "the request body is larger than \(options.maxBodyBytes) bytes")
        }
    }

    /// `POST /api/v1/events`: one line of the import format (JSON object), or several, one per line.
    func postEvent(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        if let refusal = refusal(request) { return refusal }
        let bytes: [UInt8]
        do { bytes = try await body(request) } catch let error as LedgerError { return Responses.error(error, status: .contentTooLarge, api: true) }
        return answer(request) {
            let lines = bytes.split(separator: 0x0A).filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 } }
            guard !lines.isEmpty else { throw LedgerError(.invalidInput, "the request body is empty; send one import line (a JSON object) per line") }
            var events: [NewEvent] = []
            for (n, line) in lines.enumerated() {
                do {
                    events.append(try NewEvent(importLine: Array(line)))
                } catch let error as LedgerError {
                    throw lines.count == 1 ? error : error.prefixed("line \(n + 1)")
                }
            }
            let results = try ledger.append(contentsOf: events)
            var response = Responses.json([
                "recorded": .array(results.map { ["recorded": .bool(!$0.wasAlreadyRecorded), "event": $0.event.json()] }),
            ])
            if results.contains(where: { !$0.wasAlreadyRecorded }) { response.status = .created }
            return response
        }
    }

    /// `POST /api/v1/cosignatures`: a checkpoint note carrying witnesses' cosignature lines.
    func postCosignatures(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        if let refusal = refusal(request) { return refusal }
        let bytes: [UInt8]
        do { bytes = try await body(request) } catch let error as LedgerError { return Responses.error(error, status: .contentTooLarge, api: true) }
        return answer(request) {
            guard let text = String(validating: bytes, as: UTF8.self) else { throw LedgerError(.invalidInput, "the note is not valid UTF-8") }
            let (number, added) = try ledger.addCosignatures(try SignedNote.Note(parsing: text))
            return Responses.json([
                "checkpoint": .int(Int64(number)),
                "cosignatures": .array(added.map { ["witness": .string($0.witness), "timestamp": .int(Int64($0.timestamp))] }),
            ])
        }
    }
}
