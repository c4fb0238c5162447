import ArgumentParser
import Foundation
import Palimpsest

/// Records one event and reports it.
func record(_ event: NewEvent, in ledger: Ledger, json: Bool) throws {
    let result = try ledger.append(event)
    let e = result.event
    if json {
        printJSON(["recorded": .bool(!result.wasAlreadyRecorded), "event": e.json()])
    } else if result.wasAlreadyRecorded {
        print("Already recorded: \(e.document) version \(e.version) at position \(e.position) (event \(e.eventID.uuidString.lowercased())); nothing written.")
    } else {
        print("Recorded \(e.document) version \(e.version) (\(e.type.rawValue)) at position \(e.position), hash \(e.hash.hex.prefix(16))…")
    }
}

extension RetractionKind: ExpressibleByArgument {}
