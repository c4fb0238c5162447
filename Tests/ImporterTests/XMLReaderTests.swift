import Foundation
import PalimpsestTestSupport
import Testing

@testable import PalimpsestImporters

/// Reads every event of `xml` (through a file, in chunks of `chunk` bytes to exercise refills).
func xmlEvents(_ xml: String, chunk: Int = 7) throws(XMLReader.Failure) -> [XMLReader.Event] {
    let path = NSTemporaryDirectory() + "xml-" + UUID().uuidString
    _ = FileManager.default.createFile(atPath: path, contents: Data(xml.utf8))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    var reader = XMLReader(fd: fd, chunk: chunk)
    var events: [XMLReader.Event] = []
    while true {
        let e = try reader.next()
        if e == .endOfInput { return events }
        events.append(e)
    }
}

func text(_ s: String) -> XMLReader.Event { .text(Array(s.utf8)) }

@Suite struct XMLReaderTests {
    @Test(arguments: [1, 2, 3, 7, 64, 1 << 20])
    func readsElementsAttributesTextAndReferences(chunk: Int) throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment -->
            <a x="1" y='two &amp; &quot;three&quot;'><b/>T&lt;&gt;&amp;&apos;&quot;&#233;&#x1F600;<![CDATA[<raw> & ]]>\r\nend<c   z="&#65;" /></a>
            """
        let events = try xmlEvents(xml, chunk: chunk)
        var merged: [XMLReader.Event] = []
        for e in events {
            if case .text(let b) = e, case .text(let a)? = merged.last { merged[merged.count - 1] = .text(a + b) } else { merged.append(e) }
        }
        #expect(merged == [
            .start(name: "a", attributes: ["x": "1", "y": "two & \"three\""], isEmpty: false),
            .start(name: "b", attributes: [:], isEmpty: true),
            text("T<>&'\"é😀<raw> & \nend"),
            .start(name: "c", attributes: ["z": "A"], isEmpty: true),
            .end(name: "a"),
        ])
    }

    /// Long text, read in chunks of every size: the sixteen-byte skip over plain runs must give the
    /// same text, and the same line in a failure's position, as the byte-by-byte scan.
    @Test func longTextKeepsItsBytesAndLineNumbers() throws {
        var rng = SeededGenerator(seed: 77)
        let pieces = ["plain words ", "\n", "\r\n", "&amp;", "&lt;ref&gt;", "é", "😀", "a longer run of plain text without markup "]
        for _ in 0..<20 {
            var body = ""
            var expected = ""
            for _ in 0..<Int.random(in: 50...400, using: &rng) {
                let piece = pieces.randomElement(using: &rng)!
                body += piece
                expected += piece.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "&amp;", with: "&")
                    .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            }
            let lines = expected.filter { $0 == "\n" }.count
            for chunk in [7, 16, 17, 64, 1 << 16] {
                let events = try xmlEvents("<a>" + body + "</a>", chunk: chunk)
                let bytes = events.flatMap { event -> [UInt8] in if case .text(let b) = event { b } else { [] } }
                #expect(String(decoding: bytes, as: UTF8.self) == expected, "chunk \(chunk)")
                // A bad reference after the text: the failure names the line it is on.
                do {
                    _ = try xmlEvents("<a>" + body + "\n& </a>", chunk: chunk)
                    Issue.record("a bare & was accepted")
                } catch {
                    #expect(error.line == lines + 2, "chunk \(chunk)")
                }
            }
        }
    }

    @Test(arguments: [
        ("<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><a>&lol;</a>", "document type declarations are refused"),
        ("<a>&lol;</a>", "the entity &lol; is not defined"),
        ("<a>fish & chips</a>", "does not start a character reference"),
        ("<a><b></a>", "</a> closes <b>"),
        ("<a>", "the input ends inside <a>"),
        ("<a>text", "the input ends inside <a>"),
        ("<a x=1/>", "is not quoted"),
        ("<a x=\"1\" x=\"2\"/>", "appears twice"),
        ("</a>", "closes nothing"),
        ("<a/><b/>", "a second root element"),
        ("text", "text before the root element"),
        ("", "no XML element"),
        ("<a>&#0;</a>", "not a valid XML character"),
        ("<a><!-- unterminated", "the input ends inside a comment"),
        ("<a><![CDATA[ unterminated", "the input ends inside a CDATA section"),
        ("<a <b>", "'<' inside a tag"),
    ])
    func refusesMalformedXML(xml: String, complaint: String) {
        #expect {
            _ = try xmlEvents(xml)
        } throws: { error in
            guard let failure = error as? XMLReader.Failure else { return false }
            return failure.message.contains(complaint)
        }
    }

    @Test func errorsNameTheirOffsetAndLine() throws {
        let xml = "<a>\n<b>\n  fish & chips</b></a>"
        #expect {
            _ = try xmlEvents(xml)
        } throws: { error in
            guard let failure = error as? XMLReader.Failure else { return false }
            return failure.line == 3 && failure.offset == 15
        }
    }

    @Test func aBillionLaughsFileIsRefusedAtOnce() throws {
        var xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        for i in 1...9 { xml += " <!ENTITY lol\(i) \"" + String(repeating: "&lol\(i - 1 == 0 ? "" : String(i - 1));", count: 10) + "\">\n" }
        xml += "]>\n<lolz>&lol9;</lolz>\n"
        let started = Date()
        #expect(throws: XMLReader.Failure.self) { _ = try xmlEvents(xml, chunk: 1 << 16) }
        #expect(Date().timeIntervalSince(started) < 1)
    }
}
