import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

@testable import PalimpsestImporters

func importMediaWiki(_ ledger: Ledger, _ xml: String, prefix: String = "", wiki: String? = nil) throws -> ImportSummary {
    try withTemporaryFile(Data(xml.utf8)) { fd in
        var importer = MediaWikiImporter(ledger: ledger)
        importer.documentPrefix = prefix
        importer.wiki = wiki
        return try importer.run(fd: fd, sourceName: "export.xml")
    }
}

func revision(_ id: Int, _ stamp: String, contributor: String = "<username>Alice</username><id>7</id>", extra: String = "", text: String) -> String {
    """
        <revision>
          <id>\(id)</id>
          <parentid>\(id - 1)</parentid>
          <timestamp>\(stamp)</timestamp>
          <contributor>\(contributor)</contributor>
          \(extra)
          <text xml:space="preserve" bytes="\(text.utf8.count)">\(text)</text>
          <sha1>abc\(id)</sha1>
        </revision>
    """
}

func export(_ pages: [(title: String, id: Int, revisions: [String])], dbname: String? = "testwiki") -> String {
    var xml = #"<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">"#
    xml += "<siteinfo><sitename>Test</sitename>" + (dbname.map { "<dbname>\($0)</dbname>" } ?? "") + "<base>https://test.example.org/wiki/Main</base></siteinfo>\n"
    for page in pages {
        xml += "  <page>\n    <title>\(page.title)</title>\n    <ns>0</ns>\n    <id>\(page.id)</id>\n"
        xml += page.revisions.joined(separator: "\n") + "\n  </page>\n"
    }
    return xml + "</mediawiki>\n"
}

func expectFailure(_ code: LedgerError.Code, _ fragments: [String], _ body: () throws -> Void) {
    #expect {
        try body()
    } throws: { error in
        guard let failure = error as? ImportFailure else { return false }
        return failure.error.code == code && fragments.allSatisfy { failure.error.message.contains($0) }
    }
}

@Suite struct MediaWikiImporterTests {
    let communique = [
        revision(101, "2023-12-28T15:00:00Z", text: "poverty, inequality, democratic decline, and violence"),
        revision(102, "2023-12-28T21:00:00Z", contributor: "<ip>192.0.2.7</ip>", extra: "<minor/><comment>remove phrase</comment>", text: "poverty, inequality, and violence"),
        revision(103, "2023-12-29T09:00:00Z", contributor: #"<contributor deleted="deleted"/>"#.replacingOccurrences(of: "<contributor ", with: "").replacingOccurrences(of: "/>", with: ""), extra: #"<comment deleted="deleted"/>"#, text: "poverty &amp; violence &lt;b&gt;"),
    ]

    @Test func eachPageIsADocumentAndEachRevisionAnEvent() throws {
        try withTemporaryLedger { ledger throws in
            let xml = export([("Joint Communiqué", 1, communique), ("Talk:Other", 2, [revision(201, "2024-01-01T00:00:00Z", text: "other")])])
            let summary = try importMediaWiki(ledger, xml, prefix: "wiki/")
            #expect(summary.added == 4 && summary.documents == 2 && summary.lines == 4)
            let events = try #require(try ledger.events(of: "wiki/Joint Communiqué"))
            #expect(events.map(\.type) == [.published, .edited, .edited])
            #expect(events.map(\.actor) == ["Alice", "192.0.2.7", "unknown"])
            #expect(events.map(\.source) == ["testwiki rev 101", "testwiki rev 102", "testwiki rev 103"])
            #expect(events[1].message == "remove phrase" && events[0].message == nil)
            #expect(events[1].metadata == ["revisionId": "102", "parentId": "101", "pageId": "1", "minor": "true", "sha1": "abc102"])
            #expect(events[0].metadata["contributorId"] == "7")
            #expect(events[2].metadata["commentHidden"] == "true")
            #expect(try ledger.state(of: "wiki/Joint Communiqué", asOf: .version(3))?.text == "poverty & violence <b>")
            #expect(try ledger.state(of: "wiki/Talk:Other")?.text == "other")
            // Again: nothing added.
            #expect(try importMediaWiki(ledger, xml, prefix: "wiki/").skipped == 4)
        }
    }

    @Test func suppressedContributorsCommentsAndTextsAreRecordedAsSuch() throws {
        try withTemporaryLedger { ledger throws in
            let revisions = [
                revision(1, "2020-01-01T00:00:00Z", text: "first"),
                """
                    <revision><id>2</id><timestamp>2020-01-02T00:00:00Z</timestamp><contributor deleted="deleted"/>
                    <comment deleted="deleted"/><text deleted="deleted"/></revision>
                """,
                revision(3, "2020-01-03T00:00:00Z", text: "third"),
            ]
            let summary = try importMediaWiki(ledger, export([("P", 5, revisions)]))
            #expect(summary.added == 3)
            let events = try #require(try ledger.events(of: "P"))
            #expect(events[1].actor == "(hidden)")
            #expect(events[1].metadata["textHidden"] == "true" && events[1].metadata["contributorHidden"] == "true")
            #expect(events[1].message == nil)
            // The hidden revision carries the previous text: never an empty page.
            #expect(try ledger.state(of: "P", asOf: .version(2))?.text == "first")
            #expect(summary.passedOver.values.reduce(0, +) == 1)
        }
    }

    @Test func theWikiNameComesFromDbnameThenTheOptionThenTheBaseURL() throws {
        try withTemporaryLedger { ledger throws in
            _ = try importMediaWiki(ledger, export([("A", 1, [revision(1, "2020-01-01T00:00:00Z", text: "a")])], dbname: nil), wiki: "mywiki")
            #expect(try ledger.events(of: "A")?.first?.source == "mywiki rev 1")
            _ = try importMediaWiki(ledger, export([("B", 2, [revision(2, "2020-01-01T00:00:00Z", text: "b")])], dbname: nil))
            #expect(try ledger.events(of: "B")?.first?.source == "test.example.org rev 2")
        }
    }

    @Test func aLaterDumpContinuesExistingPages() throws {
        try withTemporaryLedger { ledger throws in
            _ = try importMediaWiki(ledger, export([("A", 1, [revision(1, "2020-01-01T00:00:00Z", text: "one")])]))
            let later = try importMediaWiki(ledger, export([("A", 1, [revision(2, "2020-02-01T00:00:00Z", text: "two"), revision(3, "2020-03-01T00:00:00Z", text: "three")])]))
            #expect(later.added == 2)
            #expect(try ledger.events(of: "A")?.map(\.type) == [.published, .edited, .edited])
        }
    }

    @Test func badInputStopsWithItsPlaceAndKeepsWhatCameBefore() throws {
        let good = export([("A", 1, [revision(1, "2020-01-01T00:00:00Z", text: "one"), revision(2, "2020-01-02T00:00:00Z", text: "two")])])
        try withTemporaryLedger { ledger throws in
            // Truncated in the middle of a later page's text.
            let truncated = String(good.dropLast("</mediawiki>\n".count)) + "<page><title>B</title><id>9</id><revision><id>3</id><timestamp>2020-01-03T00:00:00Z</timestamp><text>thr"
            expectFailure(.invalidInput, ["export.xml byte \(truncated.utf8.count + 1) (line", "the input ends inside <text>", "the 2 events before it were committed"]) {
                _ = try importMediaWiki(ledger, truncated)
            }
            #expect(try ledger.head().position == 2)
        }
        try withTemporaryLedger { ledger throws in
            let noTimestamp = export([("A", 1, [revision(1, "2020-01-01T00:00:00Z", text: "one"), "<revision><id>2</id><contributor><ip>x</ip></contributor><text>t</text></revision>"])])
            expectFailure(.invalidInput, ["revision 2", "has no <timestamp>", "the 1 event before it was committed"]) {
                _ = try importMediaWiki(ledger, noTimestamp)
            }
        }
        try withTemporaryLedger { ledger throws in
            expectFailure(.invalidInput, ["document type declarations are refused", "nothing was imported"]) {
                _ = try importMediaWiki(ledger, "<!DOCTYPE x [<!ENTITY a \"b\">]>" + good)
            }
            expectFailure(.invalidInput, ["not a MediaWiki export"]) {
                _ = try importMediaWiki(ledger, "<html><body/></html>")
            }
            expectFailure(.invalidInput, ["is not an ISO 8601 time"]) {
                _ = try importMediaWiki(ledger, export([("A", 1, [revision(1, "yesterday", text: "one")])]))
            }
            #expect(try ledger.head().position == 0)
        }
    }

    @Test func invalidUTF8InATextIsRefused() throws {
        try withTemporaryLedger { ledger throws in
            var bytes = Array(export([("A", 1, [revision(1, "2020-01-01T00:00:00Z", text: "PLACEHOLDER")])]).utf8)
            let marker = Array("PLACEHOLDER".utf8)
            let at = try #require((0...(bytes.count - marker.count)).first { Array(bytes[$0..<$0 + marker.count]) == marker })
            bytes.replaceSubrange(at..<at + marker.count, with: [0x61, 0xFF, 0x62])
            let path = NSTemporaryDirectory() + UUID().uuidString
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            expectFailure(.invalidInput, ["not valid UTF-8"]) {
                _ = try MediaWikiImporter(ledger: ledger).run(fd: fd, sourceName: "x.xml")
            }
        }
    }

    @Test func theRealPearHistoryMatchesItsXML() throws {
        let path = Corpora.directory + "/../corpora/wikipedia/enwiki-Pear.xml"
        try #require(FileManager.default.fileExists(atPath: path))
        try withTemporaryLedger { ledger throws in
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            let summary = try MediaWikiImporter(ledger: ledger).run(fd: fd, sourceName: "enwiki-Pear.xml")
            #expect(summary.added == 4)
            // The same texts, extracted by Python's own XML parser.
            let script = """
                import hashlib, sys, xml.etree.ElementTree as ET
                ns = "{https://www.mediawiki.org/xml/export-0.3/}"
                for rev in ET.parse(sys.argv[1]).getroot().iter(ns + "revision"):
                    print(rev.find(ns + "id").text, hashlib.sha256((rev.find(ns + "text").text or "").encode()).hexdigest())
                """
            let expected = try run("/usr/bin/env", ["python3", "-c", script, path]).out.split(separator: "\n").map { $0.split(separator: " ") }
            let events = try #require(try ledger.events(of: "Pear"))
            #expect(events.count == expected.count)
            for (event, row) in zip(events, expected) {
                #expect(event.metadata["revisionId"] == String(row[0]))
                #expect(event.contentHash?.hex == String(row[1]))
            }
        }
    }
}
