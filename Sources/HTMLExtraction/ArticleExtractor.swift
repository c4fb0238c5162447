/// What `ArticleExtractor` found in a page.
public struct ExtractedText: Sendable, Equatable {
    /// The main text: paragraphs separated by one blank line, spaces collapsed, no trailing
    /// newline. Byte-identical for byte-identical pages (the extraction is deterministic).
    public var text: String
    /// The page's `<title>`, whitespace collapsed.
    public var title: String?
    /// The page's language from `<html lang>`.
    public var language: String?
    /// How the main text was chosen: "selectors" (the caller's `select` matched), "scored"
    /// (block scoring), or "whole-page" (no block stood out, so the whole cleaned body).
    public var method: String
    /// How many characters the whole page's visible text has; with `text` it tells a page whose
    /// content needs JavaScript (a large page whose text is nearly empty).
    public var pageTextLength: Int
    /// True when the page likely needs JavaScript to show its text: the main text is nearly
    /// empty and the page has scripts. Capture reports such a page rather than recording a blank.
    public var needsJavaScript: Bool
}

/// Finds the main text of an HTML page: boilerplate removed (navigation, headers, footers,
/// scripts, styles, hidden elements, cookie banners, share bars), then readability-style block
/// scoring picks the container of the article and its siblings, then lists, tables and divisions
/// inside it that look like link farms are cleaned out. Per-page CSS selectors can name what to
/// keep and what to remove (as Open Terms Archive's declarations do).
public struct ArticleExtractor: Sendable {
    public var select: [CSSSelector]
    public var remove: [CSSSelector]

    public init(select: [CSSSelector] = [], remove: [CSSSelector] = []) {
        self.select = select
        self.remove = remove
    }

    /// Extracts from UTF-8 HTML (see `PageDecoder` for bytes in other encodings).
    public func extract(utf8 html: [UInt8]) -> ExtractedText {
        extract(HTMLDocument(utf8: html))
    }

    static func better(_ strict: ExtractedText, _ loose: ExtractedText) -> ExtractedText {
        Double(loose.text.utf8.count) > Double(strict.text.utf8.count) * 1.33 ? loose : strict
    }

    public func extract(_ document: HTMLDocument) -> ExtractedText {
        // As readability does: when the strict pass finds little text, chrome-like class names
        // were probably on the article's own wrappers (`pagebuilder-pagerow`, `penci_sidebar`,
        // `elementor-widget`), so try again trusting them more; keep the longest result.
        // A looser pass wins only when it finds much more (a third more) text: on a short article
        // it would otherwise win by adding the byline and captions the strict pass left out.
        var best: ExtractedText?
        for flags in ExtractionPass.Flags.attempts {
            var pass = ExtractionPass(document: document, remove: remove, flags: flags)
            let result = pass.run(select: select)
            if result.text.utf8.count >= 500 || !select.isEmpty { return best.map { Self.better($0, result) } ?? result }
            best = best.map { Self.better($0, result) } ?? result
        }
        return best!
    }
}

/// One extraction over one document; the arrays are indexed by node number.
struct ExtractionPass {
    /// Which of the heuristics that can misfire on a page's own wrappers are on.
    struct Flags {
        var stripUnlikely: Bool
        var weightClasses: Bool
        var cleanConditionally: Bool

        static let attempts = [
            Flags(stripUnlikely: true, weightClasses: true, cleanConditionally: true),
            Flags(stripUnlikely: false, weightClasses: true, cleanConditionally: true),
            Flags(stripUnlikely: false, weightClasses: false, cleanConditionally: true),
            Flags(stripUnlikely: false, weightClasses: false, cleanConditionally: false),
        ]
    }

    let document: HTMLDocument
    let flags: Flags
    var removed: [Bool]
    /// Visible characters (spaces collapsed) below each node, how many of them are link text,
    /// and the commas among them.
    var textLength: [Int32]
    var linkLength: [Int32]
    var commas: [Int32]
    /// Counts of elements below each node, for conditional cleaning.
    var paragraphs: [Int32]
    var images: [Int32]
    var items: [Int32]
    var inputs: [Int32]
    var embeds: [Int32]

    static let paragraphLike = HTMLTag.table(["p", "pre", "td", "blockquote", "h2", "h3", "h4", "h5", "h6", "li", "dd"])
    static let blockNames = HTMLTag.table([
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figure", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
        "section", "table", "ul", "tr", "td", "th", "tbody", "thead", "details", "summary", "figcaption",
    ])
    static let headings = HTMLTag.table(["h1", "h2", "h3", "h4", "h5", "h6"])
    static let cleanable = HTMLTag.table(["div", "section", "ul", "ol", "table", "form", "fieldset", "aside", "header", "figure"])
    static let embedNames = HTMLTag.table(["embed", "object", "iframe"])
    static let plusFive = HTMLTag.table(["div", "article", "main", "section"])
    static let plusThree = HTMLTag.table(["pre", "td", "blockquote"])
    static let minusThree = HTMLTag.table(["address", "ol", "ul", "dl", "dd", "dt", "li", "form"])
    static let minusFive = HTMLTag.table(["h1", "h2", "h3", "h4", "h5", "h6", "th"])

    init(document: HTMLDocument, remove: [CSSSelector], flags: Flags) {
        self.document = document
        self.flags = flags
        let count = document.nodes.count
        removed = Array(repeating: false, count: count)
        let zeros = [Int32](repeating: 0, count: count)
        (textLength, linkLength, commas) = (zeros, zeros, zeros)
        (paragraphs, images, items, inputs, embeds) = (zeros, zeros, zeros, zeros, zeros)
        for index in 1..<count {
            let node = document.nodes[index]
            if removed[node.parent] { removed[index] = true; continue }
            if node.isElement {
                removed[index] = Boilerplate.isBoilerplate(node, stripUnlikely: flags.stripUnlikely) || remove.contains { $0.matches(node: index, in: document) }
            }
        }
        measure()
    }

    /// Bottom-up sums: children come after their parent, so a reverse walk sees children first.
    mutating func measure() {
        for index in stride(from: document.nodes.count - 1, through: 1, by: -1) where !removed[index] {
            let node = document.nodes[index]
            let tag = node.tag
            if node.isText {
                let (length, commaCount) = Self.visibleLength(document.textBytes(of: index))
                textLength[index] = Int32(length)
                commas[index] = Int32(commaCount)
            } else if tag == HTMLTag.a {
                linkLength[index] = textLength[index]
            } else if tag == HTMLTag.p {
                paragraphs[index] += 1
            } else if tag == HTMLTag.img {
                images[index] += 1
            } else if tag == HTMLTag.li {
                items[index] += 1
            } else if tag == HTMLTag.input {
                inputs[index] += 1
            } else if Self.embedNames.contains(tag: tag) {
                embeds[index] += 1
            }
            let parent = node.parent
            textLength[parent] += textLength[index]
            linkLength[parent] += linkLength[index]
            commas[parent] += commas[index]
            paragraphs[parent] += paragraphs[index]
            images[parent] += images[index]
            items[parent] += items[index]
            inputs[parent] += inputs[index]
            embeds[parent] += embeds[index]
        }
    }

    /// Characters once runs of white space count as one, and the commas among them.
    static func visibleLength(_ bytes: ArraySlice<UInt8>) -> (Int, Int) {
        var length = 0, commaCount = 0
        var inSpace = true
        for byte in bytes {
            if byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D || byte == 0x0C {
                if !inSpace { length += 1; inSpace = true }
            } else {
                inSpace = false
                if byte & 0xC0 != 0x80 { length += 1 }
                if byte == 0x2C { commaCount += 1 }
            }
        }
        return (length, commaCount)
    }

    func linkDensity(_ index: Int) -> Double {
        textLength[index] == 0 ? 0 : Double(linkLength[index]) / Double(textLength[index])
    }

    mutating func run(select: [CSSSelector]) -> ExtractedText {
        let titleNode = document.first(tag: HTMLTag.title)
        let title = titleNode.map { TextRenderer.collapse(document.textContent(of: $0)) }.flatMap { $0.isEmpty ? nil : $0 }
        let html = document.first(tag: HTMLTag.html)
        let language = html.flatMap { document.nodes[$0].attribute("lang") }.flatMap { $0.isEmpty ? nil : $0 }
        let body = document.first(tag: HTMLTag.body) ?? 0
        let pageText = Int(textLength[body])
        let hasScripts = document.nodes.contains { $0.tag == HTMLTag.script }

        var roots: [Int] = []
        var method = "scored"
        if !select.isEmpty {
            let matched = document.nodes.indices.filter { index in
                document.nodes[index].isElement && !removed[index] && select.contains { $0.matches(node: index, in: document) }
            }
            // Nested matches would repeat text: keep the outermost.
            let set = Set(matched)
            roots = matched.filter { index in
                var ancestor = document.nodes[index].parent
                while ancestor > 0 { if set.contains(ancestor) { return false }; ancestor = document.nodes[ancestor].parent }
                return true
            }
            method = "selectors"
        } else if let chosen = chooseContent() {
            roots = chosen
            if flags.cleanConditionally { cleanConditionally(roots) }
        } else {
            roots = [body]
            method = "whole-page"
        }
        var renderer = TextRenderer(document: document, removed: removed)
        for root in roots { renderer.render(root) }
        let text = renderer.finish()
        let needsJavaScript = hasScripts && text.unicodeScalars.count < 100
        return ExtractedText(text: text, title: title, language: language, method: method,
                             pageTextLength: pageText, needsJavaScript: needsJavaScript)
    }

    // MARK: scoring

    /// A division with no block children holds text as a paragraph would.
    func isParagraphLike(_ index: Int) -> Bool {
        let node = document.nodes[index]
        if Self.paragraphLike.contains(tag: node.tag) { return true }
        guard node.tag == HTMLTag.div || node.tag == HTMLTag.section else { return false }
        return !node.children.contains { !removed[$0] && Self.blockNames.contains(tag: document.nodes[$0].tag) }
    }

    func initialScore(_ index: Int) -> Double {
        let node = document.nodes[index]
        var score = Double(classWeight(node))
        let tag = node.tag
        if Self.plusFive.contains(tag: tag) { score += 5 }
        else if Self.plusThree.contains(tag: tag) { score += 3 }
        else if Self.minusThree.contains(tag: tag) { score -= 3 }
        else if Self.minusFive.contains(tag: tag) { score -= 5 }
        if tag == HTMLTag.article { score += 10 }
        if node.attribute("itemprop")?.lowercased().contains("articlebody") == true { score += 40 }
        return score
    }

    /// The article's container and the siblings that belong with it, or nil if nothing scored.
    func chooseContent() -> [Int]? {
        let count = document.nodes.count
        var scores = [Double](repeating: .nan, count: count)
        var scored: [Int] = []
        for index in 1..<count where !removed[index] && document.nodes[index].isElement {
            let length = textLength[index]
            guard length >= 25, isParagraphLike(index) else { continue }
            let contentScore = 1.0 + Double(commas[index]) + min(Double(length / 100), 3)
            var ancestor = document.nodes[index].parent
            var level = 0
            while ancestor > 0 && level < 5 {
                if scores[ancestor].isNaN { scores[ancestor] = initialScore(ancestor); scored.append(ancestor) }
                let divider = level == 0 ? 1.0 : level == 1 ? 2.0 : Double(level * 3)
                scores[ancestor] += contentScore / divider
                ancestor = document.nodes[ancestor].parent
                level += 1
            }
        }
        guard !scored.isEmpty else { return nil }
        var final = [Double](repeating: .nan, count: count)
        for index in scored { final[index] = scores[index] * (1 - linkDensity(index)) }
        // Ties break by document order, so that the same page always gives the same choice.
        var top = scored[0]
        for index in scored where final[index] > final[top] || (final[index] == final[top] && index < top) { top = index }
        let topScore = final[top]

        // Several strong candidates under one ancestor: the article is split into blocks.
        let strong = scored.filter { $0 != top && final[$0] >= topScore * 0.75 }
        if strong.count >= 2 {
            var ancestor = document.nodes[top].parent
            while ancestor > 0 && document.nodes[ancestor].tag != HTMLTag.body {
                let containing = strong.filter { isAncestor(ancestor, of: $0) }.count
                if containing >= 2 { top = ancestor; break }
                ancestor = document.nodes[ancestor].parent
            }
        }
        // Climb while the parent scores higher (the article's blocks sit in one container).
        var lastScore = final[top].isNaN ? topScore : final[top]
        var parent = document.nodes[top].parent
        while parent > 0 && document.nodes[parent].tag != HTMLTag.body {
            let parentScore = final[parent]
            if parentScore.isNaN { parent = document.nodes[parent].parent; continue }
            if parentScore < topScore / 3 { break }
            if parentScore > lastScore { top = parent }
            lastScore = parentScore
            parent = document.nodes[parent].parent
        }
        // A container with a single child scores the same as the child: use the outer one.
        while document.nodes[top].parent > 0, document.nodes[document.nodes[top].parent].tag != HTMLTag.body,
              document.nodes[document.nodes[top].parent].children.filter({ !removed[$0] && (document.nodes[$0].isElement || textLength[$0] > 0) }).count == 1 {
            top = document.nodes[top].parent
        }
        let chosenScore = final[top].isNaN ? topScore : final[top]
        let threshold = max(10, chosenScore * 0.2)
        let parentIndex = document.nodes[top].parent
        guard parentIndex > 0 else { return [top] }
        let topClass = document.nodes[top].attribute("class")
        var result: [Int] = []
        for sibling in document.nodes[parentIndex].children where !removed[sibling] {
            if sibling == top { result.append(sibling); continue }
            let node = document.nodes[sibling]
            guard node.isElement else { continue }
            var score = final[sibling].isNaN ? 0 : final[sibling]
            if let topClass, !topClass.isEmpty, node.attribute("class") == topClass { score += chosenScore * 0.2 }
            if score >= threshold { result.append(sibling); continue }
            if node.tag == HTMLTag.p {
                let density = linkDensity(sibling)
                let length = textLength[sibling]
                if length > 80 && density < 0.25 { result.append(sibling) }
                else if length > 0 && length <= 80 && density == 0 && document.textContent(of: sibling).contains(". ") { result.append(sibling) }
            }
        }
        return result
    }

    func classWeight(_ node: HTMLDocument.Node) -> Int {
        flags.weightClasses ? Boilerplate.classWeight(node) : 0
    }

    func isAncestor(_ ancestor: Int, of node: Int) -> Bool {
        var current = document.nodes[node].parent
        while current >= 0 { if current == ancestor { return true }; current = document.nodes[current].parent }
        return false
    }

    // MARK: cleaning inside the chosen content

    /// Removes, inside the chosen containers, the lists, tables and divisions that look like
    /// navigation or link farms rather than article text (readability's conditional cleaning).
    mutating func cleanConditionally(_ roots: [Int]) {
        for root in roots {
            for index in document.descendants(of: root) where !removed[index] {
                let node = document.nodes[index]
                if Self.cleanable.contains(tag: node.tag) {
                    if shouldRemoveConditionally(index) { removeSubtree(index) }
                } else if Self.headings.contains(tag: node.tag) && classWeight(node) < 0 {
                    removeSubtree(index)
                }
            }
        }
    }

    func shouldRemoveConditionally(_ index: Int) -> Bool {
        let node = document.nodes[index]
        let weight = classWeight(node)
        if weight < 0 { return true }
        if commas[index] >= 10 { return false }
        let (paragraphs, images, items, inputs, embeds) = (self.paragraphs[index], self.images[index], self.items[index], self.inputs[index], self.embeds[index])
        let isList = node.tag == HTMLTag.ul || node.tag == HTMLTag.ol
        let length = textLength[index]
        let density = linkDensity(index)
        if images > 1 && Double(paragraphs) / Double(images) < 0.5 { return true }
        if !isList && items > paragraphs + 10 && density > 0.3 { return true }
        if inputs > 0 && inputs > paragraphs / 3 { return true }
        if !isList && length > 0 && length < 25 && (images == 0 || images > 2) && paragraphs == 0 && node.tag != HTMLTag.figure { return true }
        if weight < 25 && density > 0.2 + (isList ? 0.3 : 0) { return true }
        if weight >= 25 && density > 0.5 { return true }
        if (embeds == 1 && length < 75) || embeds > 1 { return true }
        return false
    }

    mutating func removeSubtree(_ index: Int) {
        removed[index] = true
        for descendant in document.descendants(of: index) { removed[descendant] = true }
    }
}
