import Foundation
import Palimpsest
import PalimpsestText

/// What a report's summary says, gathered one change at a time as the report is written: the
/// changes per month (blankings, reverts and withdrawals marked), who changed the text most, the
/// largest removals and the withdrawals. It holds counts and a few excerpts, never the texts.
struct ReportSummary {
    struct Tally {
        var changes = 0, blankings = 0, reverts = 0, retractions = 0, wordsRemoved = 0, wordsAdded = 0
    }
    struct Removal {
        var position: UInt64, version: UInt64, document: String, actor: String, at: Timestamp, words: Int, excerpt: String
    }
    struct Retraction {
        var position: UInt64, version: UInt64, document: String, actor: String, at: Timestamp, reason: String?
    }
    /// What the report says about one change besides its diff.
    struct Facts {
        var wordsRemoved = 0, wordsAdded = 0
        /// An exact return to the text of an earlier version of the report: (version, position).
        var restores: (version: UInt64, position: UInt64)? = nil
        /// Nine tenths of a text of some length gone at once: vandalism, usually.
        var blanking = false
        var unchanged = false
        var charactersBefore = 0, charactersAfter = 0
    }

    static let largestKept = 10
    static let retractionsKept = 100

    var total = Tally()
    var first: Timestamp?, last: Timestamp?
    /// By "YYYY-MM".
    var months: [String: Tally] = [:]
    var actors: [String: Tally] = [:]
    var largest: [Removal] = []
    var retractions: [Retraction] = []
    /// Each text the report has shown, by document and hash, with the version that first had it.
    private var seen: [String: [Digest: (version: UInt64, position: UInt64)]] = [:]

    mutating func add(_ change: AuditReport.Change) -> Facts {
        let e = change.event
        var facts = Facts()
        for piece in change.pieces {
            switch piece.kind {
            case .same: facts.charactersBefore += piece.length; facts.charactersAfter += piece.length
            case .removed, .movedAway: facts.charactersBefore += piece.length
            case .added, .movedHere: facts.charactersAfter += piece.length
            }
        }
        (facts.wordsRemoved, facts.wordsAdded) = AuditReportRenderer.wordsChanged(change.pieces)
        facts.unchanged = e.type != .retracted && change.pieces.allSatisfy { $0.kind == .same }
        // A blanking is one even when the page was blanked the same way before.
        facts.blanking = facts.charactersBefore >= 200 && facts.charactersAfter * 10 < facts.charactersBefore
        if let after = change.after {
            if let earlier = seen[e.document]?[after] {
                if !facts.unchanged, !facts.blanking, after != change.before { facts.restores = earlier }
            } else {
                seen[e.document, default: [:]][after] = (e.version, e.position)
            }
        }

        var tally = Tally(changes: 1, wordsRemoved: facts.wordsRemoved, wordsAdded: facts.wordsAdded)
        if facts.blanking { tally.blankings = 1 }
        if facts.restores != nil { tally.reverts = 1 }
        if e.type == .retracted {
            tally.retractions = 1
            if retractions.count < Self.retractionsKept {
                retractions.append(Retraction(position: e.position, version: e.version, document: e.document, actor: e.actor, at: e.at, reason: e.reason))
            }
        }
        total.add(tally)
        months[Self.month(e.at), default: Tally()].add(tally)
        actors[e.actor, default: Tally()].add(tally)
        first = min(first ?? e.at, e.at)
        last = max(last ?? e.at, e.at)

        // The largest removals, reverts aside (a revert removes what vandalism added).
        if facts.restores == nil, facts.wordsRemoved > (largest.count < Self.largestKept ? 0 : largest.last!.words) {
            let removed = change.pieces.filter { $0.kind == .removed }.map(\.text).joined(separator: " … ")
            largest.append(Removal(
                position: e.position, version: e.version, document: e.document, actor: e.actor, at: e.at, words: facts.wordsRemoved,
                excerpt: AuditReportRenderer.shortened(removed, limit: 400)))
            largest.sort { $0.words != $1.words ? $0.words > $1.words : $0.position < $1.position }
            if largest.count > Self.largestKept { largest.removeLast() }
        }
        return facts
    }

    /// The people who changed the text most, by words removed and added, then by changes.
    func leadingActors(_ count: Int) -> [(actor: String, tally: Tally)] {
        actors.sorted { a, b in
            let (wa, wb) = (a.value.wordsRemoved + a.value.wordsAdded, b.value.wordsRemoved + b.value.wordsAdded)
            if wa != wb { return wa > wb }
            if a.value.changes != b.value.changes { return a.value.changes > b.value.changes }
            return a.key < b.key
        }.prefix(count).map { ($0.key, $0.value) }
    }

    /// Every month from the first change's to the last's, with its tally (empty months too), in order.
    func monthsInOrder() -> [(month: String, tally: Tally)] {
        guard let firstKey = months.keys.min(), let lastKey = months.keys.max() else { return [] }
        var result: [(String, Tally)] = []
        var (year, month) = (Int(firstKey.prefix(4))!, Int(firstKey.suffix(2))!)
        while true {
            let key = Self.monthKey(year, month)
            result.append((key, months[key] ?? Tally()))
            if key >= lastKey { break }
            (year, month) = month == 12 ? (year + 1, 1) : (year, month + 1)
        }
        return result
    }

    /// Years in order with their tallies.
    func yearsInOrder() -> [(year: String, tally: Tally)] {
        var years: [String: Tally] = [:]
        for (key, tally) in months { years[String(key.prefix(4)), default: Tally()].add(tally) }
        return years.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func month(_ time: Timestamp) -> String { String(time.iso8601.prefix(7)) }

    static func monthKey(_ year: Int, _ month: Int) -> String {
        let y = String(year), m = String(month)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + (m.count == 1 ? "0" : "") + m
    }

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

    /// "March 2005" for "2005-03".
    static func monthName(_ key: String) -> String {
        guard let month = Int(key.suffix(2)), (1...12).contains(month) else { return key }
        return monthNames[month - 1] + " " + key.prefix(4)
    }
}

extension ReportSummary.Tally {
    mutating func add(_ other: Self) {
        changes += other.changes
        blankings += other.blankings
        reverts += other.reverts
        retractions += other.retractions
        wordsRemoved += other.wordsRemoved
        wordsAdded += other.wordsAdded
    }
}

/// Text written in pieces and read back once, whole: in memory up to a limit, then in a temporary
/// file — the body of a report, written while its summary is gathered and placed after it.
final class Spool {
    private var memory: [UInt8] = []
    private var file: FileHandle?
    private var path: String?
    private let limit: Int

    /// `limit` nil: never spill to a file.
    init(limit: Int? = 8 << 20) { self.limit = limit ?? Int.max }

    deinit {
        try? file?.close()
        if let path { unlink(path) }
    }

    func append(_ text: String) throws(LedgerError) {
        memory += text.utf8
        if memory.count >= limit { try spill() }
    }

    private func spill() throws(LedgerError) {
        if file == nil {
            var template = Array((NSTemporaryDirectory() + "/palimpsest-report-XXXXXX").utf8CString)
            let descriptor = mkstemp(&template)
            guard descriptor >= 0 else { throw LedgerError(.storage, "cannot make a temporary file for the report: \(String(cString: strerror(errno)))") }
            path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
            file = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        }
        do {
            try file!.write(contentsOf: memory)
        } catch {
            throw LedgerError(.storage, "cannot write the report's temporary file: \(error)")
        }
        memory.removeAll(keepingCapacity: true)
    }

    /// Everything appended, in order, in pieces of a few megabytes.
    func replay(into sink: (ArraySlice<UInt8>) throws(LedgerError) -> Void) throws(LedgerError) {
        if let file {
            do {
                try file.seek(toOffset: 0)
                while let chunk = try file.read(upToCount: 4 << 20), !chunk.isEmpty { try sink(Array(chunk)[...]) }
            } catch let error as LedgerError {
                throw error
            } catch {
                throw LedgerError(.storage, "cannot read the report's temporary file back: \(error)")
            }
        }
        if !memory.isEmpty { try sink(memory[...]) }
    }
}
