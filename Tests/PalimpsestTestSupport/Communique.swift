import Foundation
import Palimpsest

/// The communiqué case of DESIGN.md §1, built from ../shared/seed/communique-story.txt: the State
/// Department's announcement, the White House joint communiqué as first published (with "democratic
/// decline"), its reissue hours later (without), and the Mexican foreign ministry's version.
/// The story gives dates but no times of day: the times here are approximate, in order.
public enum Communique {
    public static let storyPath: String = {
        let candidates = [
            URL(fileURLWithPath: Corpora.directory).deletingLastPathComponent().appendingPathComponent("seed/communique-story.txt").path,
            repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/seed/communique-story.txt").path,
            "/work/shared/seed/communique-story.txt",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
    }()

    public static var available: Bool { FileManager.default.fileExists(atPath: storyPath) }

    public static let stateDepartment = "state.gov/travel-to-mexico-2023-12-22"
    public static let whiteHouse = "whitehouse.gov/briefing-room/2023/12/28/joint-communique"
    public static let mexico = "gob.mx/sre/joint-press-release-2023-12-28"

    public struct Texts: Sendable {
        public var announcement: String
        public var firstPublished: String
        public var reissued: String
        public var mexican: String
    }

    /// The four texts, cut from the story by its headings.
    public static func texts() throws -> Texts {
        let lines = try String(contentsOfFile: storyPath, encoding: .utf8).components(separatedBy: "\n")
        func block(from start: (String) -> Bool, until end: (String) -> Bool, after: Int = 0) -> (String, Int) {
            guard let first = lines.indices.first(where: { $0 >= after && start(lines[$0]) }) else { return ("", after) }
            let last = lines.indices.first(where: { $0 > first && end(lines[$0]) }) ?? lines.count
            return (lines[first..<last].joined(separator: "\n\n"), last)
        }
        let announcement = block(from: { $0.hasPrefix("Secretary of State Antony J. Blinken will travel") }, until: { $0.hasPrefix("United States Department of State") }).0
        let (us, usEnd) = block(from: { $0.hasPrefix("Mexico-U.S. Joint Communique") }, until: { $0.hasPrefix("Ministry of Foreign Affairs") })
        let mexican = block(from: { $0.hasPrefix("Mexico and United States reaffirm") }, until: { $0 == "The Hill" }, after: usEnd).0
        let reissued = us.replacingOccurrences(of: "democratic decline, ", with: "")
        return Texts(announcement: announcement, firstPublished: us, reissued: reissued, mexican: mexican)
    }

    /// The four events, in order.
    public static func events() throws -> [NewEvent] {
        let t = try texts()
        func at(_ s: String) -> Timestamp { Timestamp(iso8601: s)! }
        var events = [
            NewEvent(document: stateDepartment, change: .publish(text: t.announcement, title: "Secretary Blinken's Travel to Mexico"),
                     at: at("2023-12-22T17:00:00Z"), actor: "U.S. Department of State", message: "announcement (time of day approximate)"),
            NewEvent(document: whiteHouse, change: .publish(text: t.firstPublished, title: "Mexico-U.S. Joint Communique"),
                     at: at("2023-12-28T15:00:00Z"), actor: "The White House", message: "first published (time of day approximate)"),
            NewEvent(document: mexico, change: .publish(text: t.mexican, title: "Joint Press Release", language: "en", variantOf: whiteHouse),
                     at: at("2023-12-28T16:00:00Z"), actor: "Secretaría de Relaciones Exteriores", message: "Mexican version (time of day approximate)"),
            NewEvent(document: whiteHouse, change: .edit(text: t.reissued),
                     at: at("2023-12-28T21:00:00Z"), actor: "The White House", message: "reissued hours later (time of day approximate)"),
        ]
        for k in events.indices { events[k].allowBackdated = true }
        return events
    }
}
