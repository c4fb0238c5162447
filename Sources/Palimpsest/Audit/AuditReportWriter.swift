import Crypto

extension Ledger {
    /// Writes the report `plan` describes as JSON while it is computed — changes, events and proofs one
    /// at a time — and signs it, in memory that does not grow with the history. Returns the signature.
    ///
    /// The layout (schema version 2): one member of the report per line, and each element of the large
    /// members (`changes`, `events`, `findings`, `texts`) on a line of its own; every line is RFC 8785
    /// canonical JSON, in canonical order, so that the file without its line feeds and without the
    /// `signature` line is the canonical JSON of the report without `signature` — whose SHA-256 digest
    /// the signature signs (`AuditReport.signedMessage`). A reader can check it a line at a time.
    @discardableResult
    public func writeAuditReportJSON(_ plan: AuditReportPlan, to sink: (ArraySlice<UInt8>) throws(LedgerError) -> Void) throws(LedgerError) -> [UInt8] {
        let report = plan.header
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var hasher = SHA256()
        func flush() throws(LedgerError) {
            guard !buffer.isEmpty else { return }
            try sink(buffer[...])
            buffer.removeAll(keepingCapacity: true)
        }
        func line(_ bytes: [UInt8], hashed: Bool = true) throws(LedgerError) {
            if hashed { hasher.update(data: bytes) }
            buffer += bytes
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 { try flush() }
        }
        func member(_ key: String, _ value: JSONValue, comma: Bool = true) -> [UInt8] {
            var bytes = CanonicalJSON.encode(.string(key))
            bytes.append(UInt8(ascii: ":"))
            CanonicalJSON.write(value, into: &bytes)
            if comma { bytes.append(UInt8(ascii: ",")) }
            return bytes
        }
        func opening(_ key: String, _ bracket: Character) -> [UInt8] { CanonicalJSON.encode(.string(key)) + Array(":\(bracket)".utf8) }

        // A large member: its elements one per line, each but the last followed by a comma.
        var held: [UInt8]? = nil
        func element(_ bytes: [UInt8]) throws(LedgerError) {
            if var previous = held {
                previous.append(UInt8(ascii: ","))
                try line(previous)
            }
            held = bytes
        }
        func close(_ bracket: String) throws(LedgerError) {
            if let last = held { try line(last) }
            held = nil
            try line(Array(bracket.utf8))
        }

        try line([UInt8(ascii: "{")])
        if let blame = report.blameJSON() { try line(member("blame", blame)) }
        try line(opening("changes", "["))
        try forEachChange(in: plan) { change throws(LedgerError) in try element(CanonicalJSON.encode(change.json)) }
        try close("],")
        try line(member("checkpoint", report.checkpoint.json))
        try line(opening("events", "["))
        for event in report.events {
            let proof = try inclusionProof(position: event.position, treeSize: report.checkpoint.treeSize)
            try element(CanonicalJSON.encode(report.eventJSON(event, proof: proof)))
        }
        try close("],")
        if case .array(let findings)? = report.findingsJSON() {
            try line(opening("findings", "["))
            for finding in findings { try element(CanonicalJSON.encode(finding)) }
            try close("],")
        }
        for (key, value) in report.headMembers() { try line(member(key, value)) }

        // The members after `signature` are small and known: they are hashed before the signature is
        // written and written after it.
        var tail: [[UInt8]] = []
        for (key, value) in report.tailMembers() where key != "texts" { tail.append(member(key, value)) }
        tail.append(opening("texts", "{"))
        let texts = report.texts.map { ($0.key.hex, $0.value) }.sorted { $0.0 < $1.0 }
        for (k, (hash, text)) in texts.enumerated() { tail.append(member(hash, .string(text), comma: k < texts.count - 1)) }
        tail.append(Array("}".utf8))
        tail.append(Array("}".utf8))
        for bytes in tail { hasher.update(data: bytes) }
        let signature: [UInt8]
        do {
            signature = Array(try signingKey().signature(for: AuditReport.signedMessage(digest: hasher.finalize())))
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.storage, "cannot sign the report: \(error)")
        }
        try line(member("signature", .string(Hex.encode(signature))), hashed: false)
        for bytes in tail {
            buffer += bytes
            buffer.append(0x0A)
        }
        try flush()
        return signature
    }
}
