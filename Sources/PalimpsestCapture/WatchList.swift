import Foundation
import HTMLExtraction
import TOMLKit

/// A watch list: the pages `palimpsest watch` captures, with defaults for all. TOML or JSON:
///
/// ```toml
/// contact = "desk@example.org"     # in the User-Agent
/// actor = "newsroom-capture"       # who the events name (default "palimpsest-capture")
/// every = "1h"                      # default interval (s, m, h, d; or a number of seconds)
/// delay = "1s"                      # pause between two requests to one host
/// ignore-robots = false
/// doc-prefix = ""                   # before every default document ID
///
/// [[page]]
/// url = "https://www.whitehouse.gov/briefing-room/statements-releases/…"
/// doc = "communique-en"             # optional
/// select = ["article"]              # CSS selectors to keep (optional)
/// remove = [".share"]               # CSS selectors to remove (optional)
/// every = "15m"                     # optional
/// variant-of = "communique-es"      # optional
/// ```
///
/// JSON has the same keys, the pages under `"page"` or `"pages"`.
public struct WatchList: Sendable {
    public struct Page: Sendable {
        public var target: CaptureTarget
        public var every: Duration
    }

    public var contact: String?
    public var actor: String
    public var every: Duration
    public var delay: Duration
    public var ignoreRobots: Bool
    public var documentPrefix: String?
    public var pages: [Page]

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private struct File: Decodable {
        var contact: String?
        var actor: String?
        var every: String?
        var delay: String?
        var ignoreRobots: Bool?
        var docPrefix: String?
        var page: [PageEntry]?
        var pages: [PageEntry]?

        enum CodingKeys: String, CodingKey {
            case contact, actor, every, delay, page, pages
            case ignoreRobots = "ignore-robots"
            case docPrefix = "doc-prefix"
        }
    }

    private struct PageEntry: Decodable {
        var url: String
        var doc: String?
        var select: OneOrMany?
        var remove: OneOrMany?
        var every: String?
        var variantOf: String?

        enum CodingKeys: String, CodingKey {
            case url, doc, select, remove, every
            case variantOf = "variant-of"
        }
    }

    /// A selector list given as one string or an array of strings.
    private struct OneOrMany: Decodable {
        var values: [String]
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) { values = [one] } else { values = try container.decode([String].self) }
        }
    }

    /// Reads a watch list; `.json` files as JSON, anything else as TOML.
    public init(path: String) throws(Invalid) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "cannot read the watch list \(path)")
        }
        let file: File
        do {
            if path.lowercased().hasSuffix(".json") {
                file = try JSONDecoder().decode(File.self, from: data)
            } else {
                file = try TOMLDecoder().decode(File.self, from: String(decoding: data, as: UTF8.self))
            }
        } catch let error as TOMLParseError {
            throw Invalid(description: "the watch list \(path) is not valid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw Invalid(description: "the watch list \(path) lacks \"\(key.stringValue)\"\(Self.where_(context))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw Invalid(description: "the watch list \(path) has a value of the wrong type\(Self.where_(context))")
        } catch {
            throw Invalid(description: "the watch list \(path) cannot be read: \(error)")
        }
        contact = file.contact
        actor = file.actor ?? "palimpsest-capture"
        every = try Self.duration(file.every ?? "1h", path: path, key: "every")
        delay = try Self.duration(file.delay ?? "1s", path: path, key: "delay")
        ignoreRobots = file.ignoreRobots ?? false
        documentPrefix = file.docPrefix
        let entries = (file.page ?? []) + (file.pages ?? [])
        guard !entries.isEmpty else { throw Invalid(description: "the watch list \(path) names no pages (add [[page]] entries with a url)") }
        var pages: [Page] = []
        for (n, entry) in entries.enumerated() {
            guard let url = URL(string: entry.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
                throw Invalid(description: "page \(n + 1) of the watch list \(path) has \"\(entry.url)\", which is not an http or https URL")
            }
            do {
                let select = try (entry.select?.values ?? []).map { try CSSSelector($0) }
                let remove = try (entry.remove?.values ?? []).map { try CSSSelector($0) }
                let target = CaptureTarget(url: entry.url, document: entry.doc, select: select, remove: remove, variantOf: entry.variantOf)
                let interval = try entry.every.map { try Self.duration($0, path: path, key: "every of page \(n + 1)") } ?? every
                pages.append(Page(target: target, every: interval))
            } catch let error as CSSSelector.ParseError {
                throw Invalid(description: "page \(n + 1) of the watch list \(path): \(error.description)")
            } catch let error as Invalid {
                throw error
            } catch {
                throw Invalid(description: "page \(n + 1) of the watch list \(path): \(error)")
            }
        }
        self.pages = pages
    }

    private static func where_(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.filter { $0.stringValue != "page" && $0.stringValue != "pages" }
            .map { $0.intValue.map { "page \($0 + 1)" } ?? $0.stringValue }
        return path.isEmpty ? "" : " (at \(path.joined(separator: " → ")))"
    }

    /// "90s", "15m", "1h", "2d", "500ms", or a number of seconds.
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value >= 0, value.isFinite else { return nil }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        guard let seconds = Double(trimmed), seconds >= 0, seconds.isFinite else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    private static func duration(_ text: String, path: String, key: String) throws(Invalid) -> Duration {
        guard let value = parseDuration(text) else {
            throw Invalid(description: "the watch list \(path) has \(key) = \"\(text)\", which is not a duration (e.g. 90s, 15m, 1h, 1d)")
        }
        return value
    }
}
