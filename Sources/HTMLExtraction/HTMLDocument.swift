import CModest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTML document parsed by the WHATWG algorithm (MyHTML, Debian's `libmodest`), copied into a
/// flat, immutable tree of Swift values so that the extraction passes are plain array walks and
/// the parser's memory is given back at once.
///
/// Nodes are numbered in document order; node 0 is the document. Text is UTF-8 with character
/// references resolved, as the parser gives it.
public struct HTMLDocument: Sendable {
    public struct Node: Sendable {
        /// The element's lower-case local name; "#text" for text, "#document" for the root.
        public var name: String
        /// MyHTML's number for the element's name (`HTMLTag`), for table lookups in hot loops.
        public var tag: Int
        public var parent: Int
        public var children: [Int] = []
        /// For text nodes: the range of `text` in the document's text buffer.
        var textRange: Range<Int> = 0..<0
        public var attributes: [(name: String, value: String)] = []
        public var isText: Bool { tag == HTMLTag.text }
        public var isElement: Bool { tag > HTMLTag.doctype }
        /// The `class` and `id` attributes, lower-cased, one space between: what chrome detection reads.
        var classAndID: [UInt8] = []

        public func attribute(_ name: String) -> String? {
            attributes.first { $0.name == name }?.value
        }
    }

    public private(set) var nodes: [Node]
    /// Every text node's bytes, one after another.
    let textBytes: [UInt8]

    public var root: Int { 0 }

    /// The raw UTF-8 bytes of a text node.
    func textBytes(of node: Int) -> ArraySlice<UInt8> { textBytes[nodes[node].textRange] }

    /// Parses UTF-8 HTML. Malformed markup is repaired by the standard's rules, never refused.
    public init(utf8 html: [UInt8]) {
        let parser = HTMLParser.forCurrentThread()
        self = parser.parse(html)
    }

    init(nodes: [Node], textBytes: [UInt8]) {
        self.nodes = nodes
        self.textBytes = textBytes
    }

    /// The first element with this MyHTML number (`HTMLTag`), in document order.
    func first(tag: Int) -> Int? {
        nodes.indices.first { nodes[$0].tag == tag }
    }

    /// Every node below `node` (not itself), in document order.
    public func descendants(of node: Int) -> [Int] {
        var result: [Int] = []
        var stack = Array(nodes[node].children.reversed())
        while let next = stack.popLast() {
            result.append(next)
            stack.append(contentsOf: nodes[next].children.reversed())
        }
        return result
    }

    /// The concatenated text of a subtree (no block separators; see `ArticleExtractor`).
    public func textContent(of node: Int) -> String {
        var bytes: [UInt8] = []
        if nodes[node].isText { bytes.append(contentsOf: textBytes(of: node)) }
        for descendant in descendants(of: node) where nodes[descendant].isText {
            bytes.append(contentsOf: textBytes(of: descendant))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// MyHTML's element numbers that the extraction's tables use.
public enum HTMLTag {
    public static let document = -1
    public static let text = Int(MyHTML_TAG__TEXT.rawValue)
    public static let doctype = Int(MyHTML_TAG__DOCTYPE.rawValue)
    static let html = Int(MyHTML_TAG_HTML.rawValue)
    static let body = Int(MyHTML_TAG_BODY.rawValue)
    static let main = Int(MyHTML_TAG_MAIN.rawValue)
    static let article = Int(MyHTML_TAG_ARTICLE.rawValue)
    static let title = Int(MyHTML_TAG_TITLE.rawValue)
    static let a = Int(MyHTML_TAG_A.rawValue)
    static let p = Int(MyHTML_TAG_P.rawValue)
    static let br = Int(MyHTML_TAG_BR.rawValue)
    static let pre = Int(MyHTML_TAG_PRE.rawValue)
    static let div = Int(MyHTML_TAG_DIV.rawValue)
    static let section = Int(MyHTML_TAG_SECTION.rawValue)
    static let td = Int(MyHTML_TAG_TD.rawValue)
    static let th = Int(MyHTML_TAG_TH.rawValue)
    static let ul = Int(MyHTML_TAG_UL.rawValue)
    static let ol = Int(MyHTML_TAG_OL.rawValue)
    static let li = Int(MyHTML_TAG_LI.rawValue)
    static let img = Int(MyHTML_TAG_IMG.rawValue)
    static let input = Int(MyHTML_TAG_INPUT.rawValue)
    static let figure = Int(MyHTML_TAG_FIGURE.rawValue)
    static let script = Int(MyHTML_TAG_SCRIPT.rawValue)
    /// One past the highest number MyHTML gives a known element (unknown elements get higher ones).
    public static let knownCount = Int(MyHTML_TAG_LAST_ENTRY.rawValue)

    /// A table over element numbers: true for the names given.
    static func table(_ names: [String]) -> [Bool] {
        var table = Array(repeating: false, count: knownCount + 1)
        for name in names {
            let id = HTMLParser.forCurrentThread().tagID(name)
            precondition(id < knownCount && id > doctype, "\(name) is not an element MyHTML knows")
            table[id] = true
        }
        return table
    }
}

extension Array where Element == Bool {
    /// A tag table lookup that answers false for elements outside the known range.
    @inline(__always) func contains(tag: Int) -> Bool { tag >= 0 && tag < count && self[tag] }
}

/// Owns one MyHTML parser and tree; not thread-safe, so each thread has its own (MyHTML's setup
/// costs more than parsing a small page).
final class HTMLParser {
    private let myhtml: OpaquePointer
    private let tree: OpaquePointer
    private var tagNames: [Int: String] = [:]

    private init() {
        myhtml = myhtml_create()
        myhtml_init(myhtml, MyHTML_OPTIONS_PARSE_MODE_SINGLE, 1, 0)
        tree = myhtml_tree_create()
        myhtml_tree_init(tree, myhtml)
    }

    deinit {
        myhtml_tree_destroy(tree)
        myhtml_destroy(myhtml)
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<HTMLParser>.fromOpaque(pointer).release() }
        }
        return key
    }()

    static func forCurrentThread() -> HTMLParser {
        if let existing = pthread_getspecific(key) {
            return Unmanaged<HTMLParser>.fromOpaque(existing).takeUnretainedValue()
        }
        let parser = HTMLParser()
        pthread_setspecific(key, Unmanaged.passRetained(parser).toOpaque())
        return parser
    }

    func tagID(_ name: String) -> Int {
        Int(name.utf8CString.withUnsafeBufferPointer { myhtml_tag_id_by_name(tree, $0.baseAddress, name.utf8.count) })
    }

    private func tagName(_ id: Int) -> String {
        if let known = tagNames[id] { return known }
        var length = 0
        let name: String
        if let pointer = myhtml_tag_name_by_id(tree, myhtml_tag_id_t(id), &length) {
            name = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self).lowercased()
        } else {
            name = "#unknown"
        }
        tagNames[id] = name
        return name
    }

    func parse(_ html: [UInt8]) -> HTMLDocument {
        html.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                _ = myhtml_parse(tree, MyENCODING_UTF_8, chars.baseAddress, chars.count)
            }
        }
        var nodes: [HTMLDocument.Node] = [HTMLDocument.Node(name: "#document", tag: HTMLTag.document, parent: -1)]
        var text: [UInt8] = []
        text.reserveCapacity(html.count / 4)
        // Iterative walk: (MyHTML node, our parent index).
        var stack: [(OpaquePointer, Int)] = []
        var child = myhtml_node_child(myhtml_tree_get_document(tree))
        var pending: [OpaquePointer] = []
        while let c = child { pending.append(c); child = myhtml_node_next(c) }
        for c in pending.reversed() { stack.append((c, 0)) }
        while let (node, parent) = stack.popLast() {
            let tag = Int(myhtml_node_tag_id(node))
            let index = nodes.count
            if tag == Int(MyHTML_TAG__TEXT.rawValue) {
                var length = 0
                guard let pointer = myhtml_node_text(node, &length), length > 0 else { continue }
                let start = text.count
                text.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: length))
                var entry = HTMLDocument.Node(name: "#text", tag: HTMLTag.text, parent: parent)
                entry.textRange = start..<text.count
                nodes.append(entry)
                nodes[parent].children.append(index)
                continue
            }
            if tag == Int(MyHTML_TAG__COMMENT.rawValue) || tag == Int(MyHTML_TAG__DOCTYPE.rawValue) { continue }
            var entry = HTMLDocument.Node(name: tagName(tag), tag: tag, parent: parent)
            var attribute = myhtml_node_attribute_first(node)
            while let a = attribute {
                var keyLength = 0, valueLength = 0
                let key = myhtml_attribute_key(a, &keyLength)
                let value = myhtml_attribute_value(a, &valueLength)
                let keyString = key.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: keyLength), as: UTF8.self) } ?? ""
                let valueString = value.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: valueLength), as: UTF8.self) } ?? ""
                let lowerKey = keyString.lowercased()
                if lowerKey == "class" || lowerKey == "id" {
                    if !entry.classAndID.isEmpty { entry.classAndID.append(0x20) }
                    entry.classAndID.append(contentsOf: valueString.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 })
                }
                entry.attributes.append((lowerKey, valueString))
                attribute = myhtml_attribute_next(a)
            }
            nodes.append(entry)
            nodes[parent].children.append(index)
            pending.removeAll(keepingCapacity: true)
            var next = myhtml_node_child(node)
            while let c = next { pending.append(c); next = myhtml_node_next(c) }
            for c in pending.reversed() { stack.append((c, index)) }
        }
        myhtml_tree_clean(tree)
        return HTMLDocument(nodes: nodes, textBytes: text)
    }
}
