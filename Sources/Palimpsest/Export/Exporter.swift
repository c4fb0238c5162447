/// Writes every event as JSON Lines: each line is the event's canonical JSON (RFC 8785) with its
/// `hash` and, for events that carry text, the `text` with what checks it against `contentHash`
/// (`textSalt`, or for a redacted text `textProof`). Drop `hash`, `text`, `textSalt` and `textProof`,
/// canonicalise, hash, and you get `hash` back; `import jsonl` of the output into an empty ledger reproduces this one.
public struct Exporter {
    public let ledger: Ledger

    public init(ledger: Ledger) { self.ledger = ledger }

    /// Writes events from `position` on to `sink`; returns how many.
    @discardableResult
    public func run(to sink: FileSink, from position: UInt64 = 1, matching filter: EventFilter = EventFilter()) throws -> Int {
        var count = 0
        var line: [UInt8] = []
        let texts = ledger.sequentialTextReader()
        try ledger.forEachEvent(from: position, matching: filter) { event in
            var payload: TextPayload? = nil
            if let hash = event.contentHash {
                guard let t = try texts.text(hash: hash) else {
                    throw LedgerError(.integrity, "the text of the event at position \(event.position) (\(hash.hex)) is missing")
                }
                payload = event.exportPayload(text: t)
            }
            line.removeAll(keepingCapacity: true)
            CanonicalJSON.write(event.json(includingHash: true, payload: payload), into: &line)
            line.append(0x0A)
            try sink.write(line)
            count += 1
            return true
        }
        try sink.flush()
        return count
    }
}
