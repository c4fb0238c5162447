/// The rules of a robots.txt file (RFC 9309) for one user agent: the group naming the agent
/// (case-insensitive product token), else the `*` group; the longest matching path wins, Allow
/// winning a tie; `*` matches any characters and a final `$` anchors the end.
public struct RobotsRules: Sendable {
    struct Rule: Sendable { var allow: Bool; var pattern: String }
    var rules: [Rule]

    public static let allowAll = RobotsRules(rules: [])
    public static let disallowAll = RobotsRules(rules: [Rule(allow: false, pattern: "/")])

    init(rules: [Rule]) { self.rules = rules }

    public init(parsing text: String, agent: String) {
        var groups: [(agents: [String], rules: [Rule])] = []
        var lastWasAgent = false
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "user-agent":
                if lastWasAgent, !groups.isEmpty { groups[groups.count - 1].agents.append(value.lowercased()) }
                else { groups.append(([value.lowercased()], [])) }
                lastWasAgent = true
            case "allow", "disallow":
                lastWasAgent = false
                guard !groups.isEmpty else { continue }
                // An empty Disallow allows everything: no rule.
                if value.isEmpty { continue }
                groups[groups.count - 1].rules.append(Rule(allow: key == "allow", pattern: value))
            default:
                lastWasAgent = false
            }
        }
        let token = agent.lowercased()
        let named = groups.filter { $0.agents.contains(token) }
        let chosen = named.isEmpty ? groups.filter { $0.agents.contains("*") } : named
        rules = chosen.flatMap(\.rules)
    }

    public func allows(_ path: String) -> Bool {
        var best: Rule?
        for rule in rules where Self.matches(rule.pattern, path) {
            if let current = best {
                if rule.pattern.count > current.pattern.count || (rule.pattern.count == current.pattern.count && rule.allow) { best = rule }
            } else {
                best = rule
            }
        }
        return best?.allow ?? true
    }

    /// Prefix match with `*` wildcards and an optional `$` end anchor (a small backtracking
    /// matcher: robots patterns and paths are short).
    static func matches(_ pattern: String, _ path: String) -> Bool {
        let anchored = pattern.hasSuffix("$")
        let p = Array(anchored ? pattern.dropLast() : pattern[...])
        let s = Array(path)
        func match(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return !anchored || j == s.count }
            if p[i] == "*" {
                for k in j...s.count where match(i + 1, k) { return true }
                return false
            }
            return j < s.count && p[i] == s[j] && match(i + 1, j + 1)
        }
        return match(0, 0)
    }
}
