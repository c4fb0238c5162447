/// What is never article text, whatever its score: elements that are not text at all, page
/// chrome by its element or ARIA role, hidden elements, and containers whose class or id names
/// chrome (readability's "unlikely candidates" and the names cookie banners and share bars use).
enum Boilerplate {
    static let nonText = HTMLTag.table([
        "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas",
        "button", "input", "select", "textarea", "option", "nav", "aside", "footer", "dialog", "menu",
        "head", "title", "link", "meta", "audio", "video", "source", "track", "map", "area", "header",
        "figcaption", "label",
    ])
    static let neverChrome = HTMLTag.table(["html", "body", "main", "article", "a", "p"])
    static let chromeRoles: Set<String> = [
        "navigation", "complementary", "banner", "contentinfo", "menu", "menubar", "dialog", "alertdialog",
        "search", "toolbar", "tablist",
    ]
    static let unlikely = patterns([
        "-ad-", "ad-break", "advert", "agegate", "banner", "breadcrumb", "combx", "comment", "community",
        "consent", "cookie", "cover-wrap", "disqus", "extra", "footer", "gdpr", "header", "legends", "menu",
        "modal", "newsletter", "outbrain", "pager", "pagination", "popup", "promo", "related", "remark",
        "replies", "rss", "share", "sharing", "shoutbox", "sidebar", "signup", "skyscraper", "social",
        "sponsor", "subscribe", "supplemental", "taboola", "yom-remote", "byline", "author-info", "tags",
        "nav", "recirc", "trending", "most-popular", "paywall", "print-only", "visually-hidden", "sr-only",
        "screen-reader", "hidden",
    ])
    static let maybe = patterns(["and", "article", "body", "column", "content", "main", "shadow", "story", "entry", "post-body"])
    static let negative = patterns([
        "-ad-", "hidden", "banner", "combx", "comment", "com-", "contact", "foot", "footer", "footnote", "gdpr",
        "masthead", "media", "meta", "outbrain", "promo", "related", "scroll", "share", "shoutbox", "sidebar",
        "skyscraper", "sponsor", "shopping", "tags", "tool", "widget", "byline", "newsletter", "subscribe",
        "caption", "credit", "recirc", "social",
    ])
    static let positive = patterns([
        "article", "body", "content", "entry", "hentry", "h-entry", "main", "page", "pagination", "post",
        "text", "blog", "story", "prose",
    ])

    static func patterns(_ words: [String]) -> [[UInt8]] { words.map { Array($0.utf8) } }

    static func isBoilerplate(_ node: HTMLDocument.Node, stripUnlikely: Bool) -> Bool {
        if nonText.contains(tag: node.tag) { return true }
        if node.tag == HTMLTag.html || node.tag == HTMLTag.body || node.tag == HTMLTag.main { return false }
        for (name, value) in node.attributes {
            switch name {
            case "hidden": return true
            case "aria-hidden": if value.lowercased() == "true" { return true }
            case "style":
                let style = value.lowercased().filter { $0 != " " }
                if style.contains("display:none") || style.contains("visibility:hidden") { return true }
            case "role": if chromeRoles.contains(value.lowercased()) { return true }
            case "itemprop": if value.lowercased().contains("articlebody") { return false }
            default: break
            }
        }
        if !stripUnlikely || neverChrome.contains(tag: node.tag) { return false }
        let names = node.classAndID
        guard !names.isEmpty else { return false }
        return containsAny(names, unlikely) && !containsAny(names, maybe)
    }

    /// Readability's class weight: −25 for a chrome-like class and for such an id, +25 for
    /// article-like ones (class and id are read together here, so each counts once).
    static func classWeight(_ node: HTMLDocument.Node) -> Int {
        let names = node.classAndID
        guard !names.isEmpty else { return 0 }
        var weight = 0
        if containsAny(names, negative) { weight -= 25 }
        if containsAny(names, positive) { weight += 25 }
        return weight
    }

    static func containsAny(_ haystack: [UInt8], _ needles: [[UInt8]]) -> Bool {
        needles.contains { contains(haystack, $0) }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count, let first = needle.first else { return needle.isEmpty }
        var start = 0
        let last = haystack.count - needle.count
        while start <= last {
            if haystack[start] == first {
                var matched = true
                for offset in 1..<needle.count where haystack[start + offset] != needle[offset] { matched = false; break }
                if matched { return true }
            }
            start += 1
        }
        return false
    }
}
