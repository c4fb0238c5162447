/// A CSS selector list, in the subset that page declarations use (as Open Terms Archive's do):
/// type (`article`), universal (`*`), `#id`, `.class`, attribute tests (`[a]`, `[a=v]`, `[a~=v]`,
/// `[a^=v]`, `[a$=v]`, `[a*=v]`, `[a|=v]`), descendant (` `) and child (`>`) combinators, and
/// comma-separated lists. Anything else (pseudo-classes, `+`, `~`) is refused by name rather than
/// silently matching nothing.
public struct CSSSelector: Sendable, CustomStringConvertible {
    public let description: String
    private let alternatives: [[Step]]

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private enum Combinator: Sendable { case descendant, child }

    private struct Step: Sendable {
        var combinator: Combinator  // how this compound relates to the previous one
        var compound: Compound
    }

    private struct Compound: Sendable {
        var tag: String?
        var id: String?
        var classes: [String] = []
        var attributes: [AttributeTest] = []
    }

    private struct AttributeTest: Sendable {
        var name: String
        var op: String?  // nil: presence
        var value: String
    }

    public init(_ text: String) throws {
        description = text
        var alternatives: [[Step]] = []
        for part in Self.splitOutsideBrackets(text, on: ",") {
            let trimmed = part.trimmingSpaces
            guard !trimmed.isEmpty else { throw ParseError(description: "the selector \"\(text)\" has an empty alternative") }
            alternatives.append(try Self.parseComplex(trimmed, whole: text))
        }
        guard !alternatives.isEmpty else { throw ParseError(description: "the selector is empty") }
        self.alternatives = alternatives
    }

    /// Every element of the document that matches, in document order.
    public func matches(in document: HTMLDocument) -> [Int] {
        document.nodes.indices.filter { document.nodes[$0].isElement && matches(node: $0, in: document) }
    }

    public func matches(node: Int, in document: HTMLDocument) -> Bool {
        alternatives.contains { Self.match(steps: $0[...], node: node, in: document) }
    }

    private static func match(steps: ArraySlice<Step>, node: Int, in document: HTMLDocument) -> Bool {
        guard let last = steps.last else { return true }
        guard matches(last.compound, document.nodes[node]) else { return false }
        let rest = steps.dropLast()
        if rest.isEmpty { return true }
        var ancestor = document.nodes[node].parent
        switch last.combinator {
        case .child:
            return ancestor > 0 && match(steps: rest, node: ancestor, in: document)
        case .descendant:
            while ancestor > 0 {
                if match(steps: rest, node: ancestor, in: document) { return true }
                ancestor = document.nodes[ancestor].parent
            }
            return false
        }
    }

    private static func matches(_ compound: Compound, _ node: HTMLDocument.Node) -> Bool {
        guard node.isElement else { return false }
        if let tag = compound.tag, tag != node.name { return false }
        if let id = compound.id, node.attribute("id") != id { return false }
        if !compound.classes.isEmpty {
            let classes = (node.attribute("class") ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            for wanted in compound.classes where !classes.contains(where: { $0 == wanted }) { return false }
        }
        for test in compound.attributes {
            guard let value = node.attribute(test.name) else { return false }
            switch test.op {
            case nil: continue
            case "=": if value != test.value { return false }
            case "~=": if !value.split(separator: " ").contains(where: { $0 == test.value }) { return false }
            case "^=": if test.value.isEmpty || !value.hasPrefix(test.value) { return false }
            case "$=": if test.value.isEmpty || !value.hasSuffix(test.value) { return false }
            case "*=": if test.value.isEmpty || !value.contains(test.value) { return false }
            case "|=": if value != test.value && !value.hasPrefix(test.value + "-") { return false }
            default: return false
            }
        }
        return true
    }

    private static func splitOutsideBrackets(_ text: String, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var depth = 0, quote: Character? = nil
        var start = text.startIndex
        for index in text.indices {
            let c = text[index]
            if let q = quote { if c == q { quote = nil }; continue }
            if c == "\"" || c == "'" { quote = c } else if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            else if c == separator && depth == 0 { parts.append(text[start..<index]); start = text.index(after: index) }
        }
        parts.append(text[start...])
        return parts
    }

    private static func parseComplex(_ text: String, whole: String) throws -> [Step] {
        var steps: [Step] = []
        var chars = Array(text)
        chars.append(" ")
        var i = 0
        var combinator = Combinator.descendant
        func fail(_ what: String) -> ParseError {
            ParseError(description: "the selector \"\(whole)\" uses \(what), which is not supported (type, #id, .class, [attribute], descendant and > only)")
        }
        func name() -> String {
            var result = ""
            while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "-" || chars[i] == "_" || chars[i] == "\\" {
                if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                result.append(chars[i]); i += 1
            }
            return result
        }
        while i < chars.count {
            if chars[i] == " " { i += 1; continue }
            if chars[i] == ">" {
                guard !steps.isEmpty else { throw ParseError(description: "the selector \"\(whole)\" starts with a combinator") }
                combinator = .child; i += 1; continue
            }
            var compound = Compound()
            var consumed = false
            while i < chars.count, chars[i] != " ", chars[i] != ">" {
                let c = chars[i]
                if c == "*" { i += 1; consumed = true }
                else if c == "#" { i += 1; let n = name(); guard !n.isEmpty else { throw fail("an empty #id") }; compound.id = n; consumed = true }
                else if c == "." { i += 1; let n = name(); guard !n.isEmpty else { throw fail("an empty .class") }; compound.classes.append(n); consumed = true }
                else if c == "[" {
                    i += 1
                    let attribute = name().lowercased()
                    guard !attribute.isEmpty else { throw fail("an attribute test without a name") }
                    var op = ""
                    while i < chars.count, "~^$*|=".contains(chars[i]) { op.append(chars[i]); i += 1 }
                    var value = ""
                    if !op.isEmpty {
                        guard ["=", "~=", "^=", "$=", "*=", "|="].contains(op) else { throw fail("the attribute operator \(op)") }
                        if i < chars.count, chars[i] == "\"" || chars[i] == "'" {
                            let q = chars[i]; i += 1
                            while i < chars.count, chars[i] != q { value.append(chars[i]); i += 1 }
                            i += 1
                        } else {
                            value = name()
                        }
                    }
                    guard i < chars.count, chars[i] == "]" else { throw fail("an unclosed attribute test") }
                    i += 1
                    compound.attributes.append(AttributeTest(name: attribute, op: op.isEmpty ? nil : op, value: value))
                    consumed = true
                } else if c.isLetter {
                    compound.tag = name().lowercased(); consumed = true
                } else {
                    throw fail(c == ":" ? "a pseudo-class" : "\"\(c)\"")
                }
            }
            guard consumed else { throw fail("an empty step") }
            steps.append(Step(combinator: combinator, compound: compound))
            combinator = .descendant
        }
        if combinator == .child { throw ParseError(description: "the selector \"\(whole)\" ends with a combinator") }
        return steps
    }
}
