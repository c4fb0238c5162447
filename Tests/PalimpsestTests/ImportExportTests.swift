import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// Imports `content` through a file descriptor, as the CLI does.
func importJSONL(_ ledger: Ledger, _ content: String, batchEvents: Int = 2000) throws -> ImportSummary {
    try withTemporaryFile(Data(content.utf8)) { fd in
        var importer = JSONLImporter(ledger: ledger)
        importer.bulk.batchEvents = batchEvents
        return try importer.run(fd: fd, sourceName: "input.jsonl")
    }
}

func exportJSONL(_ ledger: Ledger) throws -> String {
    let path = NSTemporaryDirectory() + "export-" + UUID().uuidString + ".jsonl"
    let fd = open(path, O_WRONLY | O_CREAT, 0o600)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Exporter(ledger: ledger).run(to: FileSink(fd: fd, closeOnDeinit: true))
    return try String(contentsOfFile: path, encoding: .utf8)
}

func expectImportFailure(_ code: LedgerError.Code, containing fragments: [String], _ body: () throws -> Void) {
    #expect {
        try body()
    } throws: { error in
        guard let failure = error as? ImportFailure else { return false }
        return failure.error.code == code && fragments.allSatisfy { failure.error.message.contains($0) }
    }
}

/// What the lines themselves say, computed without the ledger: the last text per document.
func lastTexts(_ lines: [String]) throws -> [String: String?] {
    var result: [String: String?] = [:]
    for line in lines {
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let doc = o["doc"] as! String
        if o["type"] as! String == "retract" {
            result[doc] = .some(nil)
        } else {
            result[doc] = .some(o["text"] as? String)
        }
    }
    return result
}

@Suite(.enabled(if: Corpora.available, "needs ../shared/corpora"))
struct SitePolicySliceTests {
    let slice = Array(Corpora.sitePolicyLines.prefix(120))

    @Test func importsASliceAndReadsTheLastTextsBack() throws {
        try withTemporaryLedger { ledger throws in
            let summary = try importJSONL(ledger, slice.joined(separator: "\n") + "\n", batchEvents: 50)
            #expect(summary.lines == slice.count)
            #expect(summary.added == slice.count)
            #expect(summary.skipped == 0)
            let expected = try lastTexts(slice)
            #expect(summary.documents == expected.count)
            for (doc, text) in expected {
                let info = try #require(try ledger.document(doc))
                if let text {
                    #expect(info.status == .active)
                    #expect(try ledger.state(of: doc)?.text == text)
                } else {
                    #expect(info.status == .retracted)
                }
            }
            // Importing the same lines again adds nothing.
            let again = try importJSONL(ledger, slice.joined(separator: "\n"))
            #expect(again.added == 0 && again.skipped == slice.count)
        }
    }

    @Test func anInterruptedImportRerunContinuesWhereItStopped() throws {
        try withTemporaryLedger { ledger throws in
            let first = try importJSONL(ledger, slice.prefix(47).joined(separator: "\n"))
            #expect(first.added == 47)
            let rest = try importJSONL(ledger, slice.joined(separator: "\n"))
            #expect(rest.added == slice.count - 47 && rest.skipped == 47)
            #expect(try ledger.head().position == UInt64(slice.count))
        }
    }

    @Test func exportReimportsToTheSameLedgerByteForByte() throws {
        try withTemporaryLedger { ledger throws in
            _ = try importJSONL(ledger, slice.joined(separator: "\n"))
            let exported = try exportJSONL(ledger)
            #expect(exported.split(separator: "\n").count == slice.count)
            try withTemporaryLedger { copy throws in
                let summary = try importJSONL(copy, exported, batchEvents: 33)
                #expect(summary.added == slice.count)
                #expect(try exportJSONL(copy) == exported)
                #expect(try copy.head() == ledger.head())
                #expect(try importJSONL(copy, exported).skipped == slice.count)
            }
            // Every exported line validates against the schema.
            #expect(try schemaViolations(exported.split(separator: "\n").map(String.init), schema: "export-line.schema.json") == nil)
        }
    }
}

@Suite struct JSONLImportErrorTests {
    let good = [
        #"{"type":"publish","doc":"a","at":"2023-12-28T15:00:00Z","actor":"x","text":"one"}"#,
        #"{"type":"edit","doc":"a","at":"2023-12-28T16:00:00Z","actor":"x","text":"two"}"#,
    ]

    @Test(arguments: [
        (#"{"type":"edit","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x""#, ["line 3", "not valid JSON"]),
        (#"["not","an","object"]"#, ["line 3", "not a JSON object"]),
        (#"{"type":"edit","doc":"a","at":"2023-12-28T17:00:00Z","text":"t"}"#, ["line 3", "\"actor\" is missing"]),
        (#"{"type":"edit","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x"}"#, ["line 3", "\"text\" is missing"]),
        (#"{"type":"edit","doc":"a","at":"2023-12-28T17:00:00Z","actor":7,"text":"t"}"#, ["line 3", "\"actor\" must be a string, not a number"]),
        (#"{"type":"edit","doc":["a"],"at":"2023-12-28T17:00:00Z","actor":"x","text":"t"}"#, ["line 3", "\"doc\" must be a string, not an array"]),
        (#"{"type":"delete","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x"}"#, ["line 3", "publish, edit, retract or restore"]),
        (#"{"type":"edit","doc":"a","at":"28/12/2023","actor":"x","text":"t"}"#, ["line 3", "\"at\" is not an ISO 8601 time"]),
        (#"{"type":"edit","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x","text":"t","colour":"red"}"#, ["line 3", "unknown field \"colour\""]),
        (#"{"type":"retract","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x","text":"t"}"#, ["line 3", "carries no \"text\""]),
        (#"{"type":"retract","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x","kind":"lost"}"#, ["line 3", "\"kind\" is \"lost\""]),
        (#"{"type":"edit","doc":"","at":"2023-12-28T17:00:00Z","actor":"x","text":"t"}"#, ["line 3", "may not be empty"]),
        (#"{"type":"edit","doc":"b","at":"2023-12-28T17:00:00Z","actor":"x","text":"t"}"#, ["line 3", "no document \"b\""]),
        (#"{"type":"publish","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x","text":"t"}"#, ["line 3", "already published"]),
        (#"{"type":"edit","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x","text":"t","expectedVersion":5}"#, ["line 3", "expected version 5"]),
        (#"{"type":"edit","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x","text":"t","id":"nope"}"#, ["line 3", "not a UUID"]),
    ])
    func aBadLineNamesItselfAndKeepsTheLinesBefore(bad: String, fragments: [String]) throws {
        try withTemporaryLedger { ledger throws in
            let content = (good + [bad, #"{"type":"edit","doc":"a","at":"2023-12-28T18:00:00Z","actor":"x","text":"four"}"#]).joined(separator: "\n")
            expectImportFailure(codeFor(fragments), containing: fragments + ["the 2 events before it were committed"]) {
                _ = try importJSONL(ledger, content)
            }
            #expect(try ledger.head().position == 2)
            #expect(try ledger.state(of: "a")?.text == "two")
        }
    }

    func codeFor(_ fragments: [String]) -> LedgerError.Code {
        if fragments.contains(where: { $0.contains("no document") }) { return .notFound }
        if fragments.contains(where: { $0.contains("already published") || $0.contains("expected version") }) { return .conflict }
        return .invalidInput
    }

    @Test func invalidUTF8IsRefusedWithItsLine() throws {
        try withTemporaryLedger { ledger throws in
            var bytes = Data((good.joined(separator: "\n") + "\n").utf8)
            bytes.append(Data(#"{"type":"edit","doc":"a","at":"2023-12-28T17:00:00Z","actor":"x","text":"bad "#.utf8))
            bytes.append(contentsOf: [0xFF, 0xFE])
            bytes.append(Data("\"}\n".utf8))
            let path = NSTemporaryDirectory() + UUID().uuidString
            _ = FileManager.default.createFile(atPath: path, contents: bytes)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            expectImportFailure(.invalidInput, containing: ["input line 3", "not valid UTF-8"]) {
                _ = try JSONLImporter(ledger: ledger).run(fd: fd, sourceName: "input")
            }
            #expect(try ledger.head().position == 2)
        }
    }

    @Test func blankLinesAndCRLFAreAccepted() throws {
        try withTemporaryLedger { ledger throws in
            let summary = try importJSONL(ledger, "\n" + good.joined(separator: "\r\n\r\n") + "\r\n\n")
            #expect(summary.added == 2 && summary.lines == 2)
        }
    }

    @Test func emptyTextIsValid() throws {
        try withTemporaryLedger { ledger throws in
            _ = try importJSONL(ledger, #"{"type":"publish","doc":"blank","at":"2023-12-28","actor":"x","text":""}"#)
            #expect(try ledger.state(of: "blank")?.text == "")
        }
    }

    @Test func backdatedEventsAreAcceptedAndCounted() throws {
        try withTemporaryLedger { ledger throws in
            let lines = good + [#"{"type":"edit","doc":"a","at":"2020-01-01T00:00:00Z","actor":"x","text":"old"}"#]
            let summary = try importJSONL(ledger, lines.joined(separator: "\n"))
            #expect(summary.backdated == 1 && summary.added == 3)
        }
    }

    @Test func aRetractedDocumentPublishedAgainIsRestored() throws {
        try withTemporaryLedger { ledger throws in
            let lines = good + [
                #"{"type":"retract","doc":"a","at":"2023-12-29T00:00:00Z","actor":"x"}"#,
                #"{"type":"publish","doc":"a","at":"2023-12-30T00:00:00Z","actor":"y","text":"back"}"#,
            ]
            _ = try importJSONL(ledger, lines.joined(separator: "\n"))
            #expect(try ledger.events(of: "a")?.map(\.type) == [.published, .edited, .retracted, .restored])
            #expect(try importJSONL(ledger, lines.joined(separator: "\n")).skipped == 4)
        }
    }

    @Test func lineIDsAreStableAcrossFormatting() throws {
        try withTemporaryLedger { ledger throws in
            _ = try importJSONL(ledger, good.joined(separator: "\n"))
            let reformatted = [
                #"{ "text": "one", "actor": "x", "at": "2023-12-28T15:00:00Z", "doc": "a", "type": "publish" }"#,
                #"{"type":"edit","doc":"a","at":"2023-12-28T16:00:00Z","actor":"x","text":"t\u0077o"}"#,
            ]
            #expect(try importJSONL(ledger, reformatted.joined(separator: "\n")).skipped == 2)
        }
    }

    @Test func tamperedExportLinesAreRefused() throws {
        try withTemporaryLedger { ledger throws in
            _ = try importJSONL(ledger, good.joined(separator: "\n"))
            let exported = try exportJSONL(ledger).split(separator: "\n").map(String.init)
            let cases: [(String, LedgerError.Code, String)] = [
                (exported[1].replacingOccurrences(of: #""actor":"x""#, with: #""actor":"y""#), .integrity, "does not match its hash"),
                (exported[1].replacingOccurrences(of: #""text":"two""#, with: #""text":"2""#), .integrity, "does not match its contentHash"),
                (exported[1].replacingOccurrences(of: #""position":2"#, with: #""position":3"#), .conflict, "next position is 2"),
            ]
            for (line, code, fragment) in cases {
                try withTemporaryLedger { copy throws in
                    expectImportFailure(code, containing: ["line 2", fragment, "the 1 event before it was committed"]) {
                        _ = try importJSONL(copy, exported[0] + "\n" + line)
                    }
                    #expect(try copy.head().position == 1)
                }
            }
            // An export does not chain onto a different ledger.
            try withTemporaryLedger { other throws in
                _ = try importJSONL(other, #"{"type":"publish","doc":"z","at":"2023-12-28","actor":"x","text":"z"}"#)
                expectImportFailure(.conflict, containing: ["line 1", "next position is 2"]) {
                    _ = try importJSONL(other, exported.joined(separator: "\n"))
                }
            }
        }
    }

    @Test func anOverlongLineIsRefused() throws {
        try withTemporaryLedger { ledger throws in
            let path = NSTemporaryDirectory() + UUID().uuidString
            _ = FileManager.default.createFile(atPath: path, contents: Data((good[0] + "\n" + String(repeating: "x", count: 3 << 20) + "\n").utf8))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            var importer = JSONLImporter(ledger: ledger)
            importer.maxLineBytes = 2 << 20
            expectImportFailure(.invalidInput, containing: ["line 2 is longer than the limit"]) {
                _ = try importer.run(fd: fd, sourceName: "input")
            }
            #expect(try ledger.head().position == 1)
        }
    }
}
