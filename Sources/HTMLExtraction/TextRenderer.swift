/// Turns the kept part of a document into text: every block element starts a paragraph,
/// paragraphs are separated by one blank line, `<br>` is a line break, runs of white space
/// (including no-break spaces) become one space, `<pre>` keeps its lines. Deterministic, so an
/// unchanged page gives byte-identical text.
struct TextRenderer {
    let document: HTMLDocument
    let removed: [Bool]
    private var paragraphs: [String] = []
    private var current: [UInt8] = []
    private var pendingSpace = false

    init(document: HTMLDocument, removed: [Bool]) {
        self.document = document
        self.removed = removed
    }

    mutating func render(_ root: Int) {
        if document.nodes[root].isText { appendText(document.textBytes(of: root), preformatted: false); return }
        walk(root, preformatted: false)
        breakParagraph()
    }

    private mutating func walk(_ index: Int, preformatted: Bool) {
        let node = document.nodes[index]
        let isBlock = ExtractionPass.blockNames.contains(tag: node.tag)
        let pre = preformatted || node.tag == HTMLTag.pre
        if isBlock { breakParagraph() }
        if node.tag == HTMLTag.br { breakLine(); return }
        for child in node.children where !removed[child] {
            if document.nodes[child].isText {
                appendText(document.textBytes(of: child), preformatted: pre)
            } else {
                walk(child, preformatted: pre)
            }
        }
        if node.tag == HTMLTag.td || node.tag == HTMLTag.th { pendingSpace = true }
        if isBlock { breakParagraph() }
    }

    private mutating func appendText(_ bytes: ArraySlice<UInt8>, preformatted: Bool) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if preformatted {
                // Inside <pre> the lines and their indentation are the text; only trailing spaces go.
                if byte == 0x0A { trimTrailingSpace(); current.append(0x0A) }
                else if byte == 0x0D { }
                else if byte == 0x20 || byte == 0x09 { current.append(byte) }
                else { if pendingSpace, let last = current.last, last != 0x0A, last != 0x20 { current.append(0x20) }; current.append(byte) }
                pendingSpace = false
                index += 1
                continue
            }
            if byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D || byte == 0x0C {
                pendingSpace = true; index += 1; continue
            }
            // U+00A0 NO-BREAK SPACE and U+202F, U+2009, U+200A, U+3000 count as spaces.
            if byte == 0xC2, index + 1 < bytes.endIndex, bytes[index + 1] == 0xA0 { pendingSpace = true; index += 2; continue }
            if byte == 0xE2, index + 2 < bytes.endIndex, bytes[index + 1] == 0x80,
               [0x89, 0x8A, 0xAF, 0x8B].contains(bytes[index + 2]) {
                if bytes[index + 2] != 0x8B { pendingSpace = true }  // U+200B ZERO WIDTH SPACE vanishes
                index += 3; continue
            }
            if pendingSpace, let last = current.last, last != 0x0A { current.append(0x20) }
            pendingSpace = false
            current.append(byte)
            index += 1
        }
    }

    private mutating func trimTrailingSpace() {
        while current.last == 0x20 { current.removeLast() }
    }

    private mutating func breakLine() {
        trimTrailingSpace()
        if !current.isEmpty && current.last != 0x0A { current.append(0x0A) }
        pendingSpace = false
    }

    private mutating func breakParagraph() {
        while current.last == 0x20 || current.last == 0x0A { current.removeLast() }
        if !current.isEmpty { paragraphs.append(String(decoding: current, as: UTF8.self)) }
        current.removeAll(keepingCapacity: true)
        pendingSpace = false
    }

    mutating func finish() -> String {
        breakParagraph()
        return paragraphs.joined(separator: "\n\n")
    }

    /// Collapses white space in a short string (titles).
    static func collapse(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
