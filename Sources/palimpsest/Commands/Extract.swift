import ArgumentParser
import Foundation
import HTMLExtraction
import Palimpsest
import PalimpsestPresentation
import PalimpsestCapture
import WARC

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Print the main text that capture would record from an HTML file (for tuning selectors).",
        discussion: """
            The file is decoded as a page would be (its <meta charset>, else detection; --content-type
            gives the HTTP header's charset), parsed by the WHATWG algorithm, and its main text
            extracted: boilerplate removed, blocks scored, or only what --select keeps.
            """
    )

    @Argument(help: "The HTML file (- for standard input).") var file: String
    @Option(name: .long, help: ArgumentHelp("The page's URL (shown in --json, and used for nothing else).", valueName: "url")) var url: String?
    @Option(name: .long, help: ArgumentHelp("Keep only what this CSS selector matches (repeatable).", valueName: "css")) var select: [String] = []
    @Option(name: .long, help: ArgumentHelp("Remove what this CSS selector matches (repeatable).", valueName: "css")) var remove: [String] = []
    @Option(name: .customLong("content-type"), help: ArgumentHelp("The Content-Type the page came with (for its charset).", valueName: "type")) var contentType: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        _ = try parseSelectors(select, option: "--select")
        _ = try parseSelectors(remove, option: "--remove")
    }

    func run() throws {
        let bytes: [UInt8]
        if file == "-" {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
                throw LedgerError(.notFound, "the HTML file \(file) does not exist")
            }
            guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: file) else {
                throw LedgerError(.invalidInput, "the HTML file \(file) cannot be read")
            }
            bytes = Array(data)
        }
        let decoded: DecodedPage
        do { decoded = try PageDecoder.decode(bytes, contentType: contentType) } catch {
            throw LedgerError(.invalidInput, "\(file == "-" ? "standard input" : file): \(error.description)")
        }
        let extractor = ArticleExtractor(select: try parseSelectors(select, option: "--select"), remove: try parseSelectors(remove, option: "--remove"))
        let result = extractor.extract(utf8: decoded.utf8)
        if output.json {
            var object: [String: JSONValue] = [
                "text": .string(result.text), "method": .string(result.method), "encoding": .string(decoded.encoding),
                "charsetSource": .string(decoded.source.rawValue), "needsJavaScript": .bool(result.needsJavaScript),
                "characters": .int(Int64(result.text.unicodeScalars.count)), "pageCharacters": .int(Int64(result.pageTextLength)),
            ]
            if let title = result.title { object["title"] = .string(title) }
            if let language = result.language { object["language"] = .string(language) }
            if let url { object["url"] = .string(url) }
            printJSON(.object(object))
        } else {
            print(result.text)
            if result.needsJavaScript {
                writeToStandardError("note: the page shows almost no text without JavaScript; capture would record nothing\n")
            }
        }
    }
}
