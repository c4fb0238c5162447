// Embedding the Palimpsest library (README, "Embedding the library"): append events, register a
// projection of your own, subscribe to new events, and ask who removed a phrase.
//
//   swift run -c release PalimpsestExample [LEDGER-DIR]     (default: a new temporary directory)
import Foundation
import Palimpsest

/// A projection of our own: how many words of text each actor has recorded, summed over every
/// version they wrote. The ledger folds each append into it in the same transaction, catches it up
/// when another process appended without it, and rebuilds it when `version` changes.
struct WordsByActor: Projection {
    var name: String { "words-by-actor" }
    var version: UInt64 { 1 }
    var tableNames: [String] { ["words"] }

    func apply(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        let words = UInt64(text?.split(whereSeparator: \.isWhitespace).count ?? 0)
        let key = Array(event.actor.utf8)
        let before = try txn.get(tables["words"], key: key).map { BigEndianKey.decode($0) } ?? 0
        try txn.put(tables["words"], key: key, value: BigEndianKey.encode(before + words))
    }
}

let directory = CommandLine.arguments.count > 1
    ? CommandLine.arguments[1]
    : NSTemporaryDirectory() + "palimpsest-example-" + UUID().uuidString.lowercased()
var options = Ledger.Options()
options.projections = [WordsByActor()]
let ledger = try Ledger.create(at: directory, options: options)
print("ledger: \(directory)")

// Subscribe first: the stream gives the log from position 1, then every event as it is committed
// (by this process or another one).
let watcher = Task {
    for try await event in ledger.subscribe(from: 1) {
        print("subscriber saw #\(event.position) \(event.document) v\(event.version) \(event.type.rawValue) by \(event.actor)")
        if event.position == 3 { break }
    }
}

let whiteHouse = "whitehouse.gov/briefing-room/2023/12/28/joint-communique"
let mexico = "sre.gob.mx/joint-press-release-2023-12-28"
let first = "The two countries discussed the root causes of migration, such as poverty, inequality, democratic decline, and violence."
let reissued = "The two countries discussed the root causes of migration, such as poverty, inequality, and violence."
let mexican = "Both countries discussed the root causes of migration, such as poverty, inequality and violence."
func at(_ time: String) -> Timestamp { Timestamp(iso8601: time)! }

// The async twins of append run off the caller's thread; a batch is atomic.
try await ledger.append(NewEvent(document: whiteHouse, change: .publish(text: first, title: "Joint Communique"),
                                 at: at("2023-12-28T15:00:00Z"), actor: "The White House", message: "time of day approximate"))
try await ledger.append(contentsOf: [
    NewEvent(document: mexico, change: .publish(text: mexican, language: "en", variantOf: whiteHouse),
             at: at("2023-12-28T16:00:00Z"), actor: "Secretaría de Relaciones Exteriores", message: "time of day approximate"),
    NewEvent(document: whiteHouse, change: .edit(text: reissued), at: at("2023-12-28T21:00:00Z"), actor: "The White House",
             message: "reissued hours later (time of day approximate)", expectedVersion: .exact(1)),
])
try await watcher.value

// Who removed the phrase, when, and in which words.
for removal in try ledger.phraseHistory(PhraseQuery("democratic decline")).removals {
    let e = removal.event
    print("removed \"democratic decline\": \(e.document) v\(e.version) by \(e.actor) at \(e.at.iso8601) (\(removal.occurrencesBefore) → \(removal.occurrencesAfter))")
}

// A long answer a page at a time: which changes are on a page comes from the index; each is
// described only when `forEach` reaches it, and `next` is the cursor of the following page.
let page = try ledger.phraseChanges(PhraseQuery("democratic decline"), kinds: [.removed], limit: 1)
try page.forEach { print("first page of removals: v\($0.event.version) by \($0.event.actor); another page: \(page.next != nil)") }

// Our projection, read in one read transaction.
let words = try ledger.read(projection: "words-by-actor") { tables, txn in
    var result: [(String, UInt64)] = []
    try txn.scan(tables["words"]) { key, value in
        result.append((String(decoding: key, as: UTF8.self), BigEndianKey.decode(value)))
        return true
    }
    return result
}
for (actor, count) in words { print("words recorded by \(actor): \(count)") }
print("projections equal a rebuild: \(try ledger.verifyProjections().isEmpty)")
