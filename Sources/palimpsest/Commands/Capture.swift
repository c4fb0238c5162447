import ArgumentParser
import Foundation
import HTMLExtraction
import Palimpsest
import PalimpsestPresentation
import PalimpsestCapture
import WARC

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Fetch pages once and record what changed (DESIGN.md §11).",
        discussion: """
            Each URL is fetched (redirects followed and recorded, conditional requests, robots.txt
            obeyed), every request and response is kept in WARC files in the ledger directory (warc/),
            and the page's main text is extracted. The first capture publishes the document, a changed
            text is an edit, 404 and 410 retract it (not-found), 451 retracts it (takedown), a page that
            comes back is restored; an unchanged text records nothing. The document ID is --doc, else
            the URL without its scheme and fragment. Timeouts, 5xx answers and unreachable hosts are
            retried, then reported; they change nothing. Exit 6 when some page could not be fetched.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The pages to capture.") var urls: [String]
    @Option(name: .long, help: ArgumentHelp("The document ID (only with one URL).", valueName: "id")) var doc: String?
    @Option(name: .customLong("doc-prefix"), help: ArgumentHelp("Put this before every default document ID.", valueName: "prefix")) var documentPrefix: String?
    @Option(name: .long, help: ArgumentHelp("Keep only what this CSS selector matches (repeatable).", valueName: "css")) var select: [String] = []
    @Option(name: .long, help: ArgumentHelp("Remove what this CSS selector matches (repeatable).", valueName: "css")) var remove: [String] = []
    @Option(name: .customLong("variant-of"), help: ArgumentHelp("The document these pages are versions of.", valueName: "doc")) var variantOf: String?
    @OptionGroup var fetch: FetchOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("give at least one URL to capture") }
        if doc != nil && urls.count > 1 { throw ValidationError("--doc names one document: give one URL with it (or use a watch list)") }
        for url in urls {
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https", parsed.host != nil else {
                throw ValidationError("\"\(url)\" is not an http or https URL")
            }
        }
        _ = try parseSelectors(select, option: "--select")
        _ = try parseSelectors(remove, option: "--remove")
    }

    func run() throws {
        let ledger = try location.open()
        let select = try parseSelectors(self.select, option: "--select")
        let remove = try parseSelectors(self.remove, option: "--remove")
        let policy = fetch.policy()
        let capturer = try Capturer(ledger: ledger, policy: policy, actor: fetch.actor ?? "palimpsest-capture", documentPrefix: documentPrefix)
        let targets = urls.map { CaptureTarget(url: $0, document: doc, select: select, remove: remove, variantOf: variantOf) }
        let reports = try runBlocking {
            var reports: [CaptureReport] = []
            for target in targets { reports.append(await capturer.capture(target)) }
            await capturer.shutdown()
            return reports
        }
        try location.shareCaptureEvidence(of: ledger)
        var tally = CaptureTally()
        for report in reports { tally.add(report) }
        if output.json {
            printJSON(tally.json(ignoredRobots: !policy.obeyRobots))
        } else {
            for report in reports { print(CaptureTally.line(report)) }
            print(tally.summary(pages: reports.count, ignoredRobots: !policy.obeyRobots))
        }
        if tally.failed > 0 { throw ExitCode(6) }
    }
}
