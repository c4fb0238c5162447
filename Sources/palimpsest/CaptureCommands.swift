import ArgumentParser
import Foundation
import HTMLExtraction
import Palimpsest
import PalimpsestPresentation
import PalimpsestCapture
import WARC

/// What `capture` and `watch` share: who the events name and how pages are fetched.
struct FetchOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Who the events name (default: palimpsest-capture).", valueName: "name"))
    var actor: String?
    @Option(name: .long, help: ArgumentHelp("A contact (e-mail or URL) for the User-Agent, so that site owners can reach you.", valueName: "contact"))
    var contact: String?
    @Flag(name: .customLong("ignore-robots"), help: "Fetch pages that robots.txt forbids (said in the summary).")
    var ignoreRobots = false
    @Option(name: .long, help: ArgumentHelp("The pause between two requests to one host (default 1s).", valueName: "duration"))
    var delay: String?
    @Option(name: .long, help: ArgumentHelp("The longest wait for the first byte, and between two pieces of a body (default 30s).", valueName: "duration"))
    var timeout: String?
    @Option(name: .long, help: ArgumentHelp("The longest a whole response may take, however steadily its bytes arrive (default 120s).", valueName: "duration"))
    var deadline: String?
    @Option(name: .customLong("max-body"), help: ArgumentHelp("The largest body accepted, in bytes, as sent and once decompressed (default 33554432, 32 MiB).", valueName: "bytes"))
    var maxBody: Int?
    @Option(name: .long, help: ArgumentHelp("Retries of a transient failure (timeout, 5xx, refused connection), with doubling backoff (default 2).", valueName: "n"))
    var retries: Int?

    func validate() throws {
        for (name, value) in [("--delay", delay), ("--timeout", timeout), ("--deadline", deadline)] {
            if let value, WatchList.parseDuration(value) == nil {
                throw ValidationError("\(name) \"\(value)\" is not a duration (e.g. 500ms, 2s, 1m)")
            }
        }
        if let maxBody, maxBody <= 0 { throw ValidationError("--max-body must be a positive number of bytes") }
        if let retries, retries < 0 { throw ValidationError("--retries must be 0 or more") }
        if let actor, actor.isEmpty { throw ValidationError("--actor must not be empty") }
    }

    func policy(contact listContact: String? = nil, delay listDelay: Duration? = nil, ignoreRobots listIgnore: Bool = false) -> FetchPolicy {
        var policy = FetchPolicy(contact: contact ?? listContact)
        policy.obeyRobots = !(ignoreRobots || listIgnore)
        if let value = delay.flatMap(WatchList.parseDuration) ?? listDelay { policy.hostDelay = value }
        if let value = timeout.flatMap(WatchList.parseDuration) { policy.readTimeout = value }
        if let value = deadline.flatMap(WatchList.parseDuration) { policy.wholeTimeout = value }
        if let maxBody { policy.bodyLimit = maxBody }
        if let retries { policy.retries = retries }
        // Tests shorten the backoff (never less than what a server under load deserves in use).
        if let text = ProcessInfo.processInfo.environment["PALIMPSEST_RETRY_BACKOFF"], let value = WatchList.parseDuration(text) {
            policy.retryBackoff = value
        }
        return policy
    }
}

/// Counts over the pages of one `capture` or `watch` run, and the summary line.
struct CaptureTally {
    var fetched = 0, changed = 0, unchanged = 0, failed = 0, notRecorded = 0, bytes = 0
    var reports: [CaptureReport] = []

    mutating func add(_ report: CaptureReport) {
        reports.append(report)
        bytes += report.bytes
        switch report.outcome {
        case .published, .edited, .restored, .retracted: fetched += 1; changed += 1
        case .unchanged, .absent: fetched += 1; unchanged += 1
        case .needsJavaScript, .noText, .refused: fetched += 1; notRecorded += 1
        case .failed, .forbiddenByRobots: failed += 1
        }
    }

    func summary(pages: Int, ignoredRobots: Bool, interrupted: Bool = false) -> String {
        var parts = ["\(pages) page\(pages == 1 ? "" : "s")", "fetched \(fetched)", "changed \(changed)", "unchanged \(unchanged)"]
        if notRecorded > 0 { parts.append("not recorded \(notRecorded)") }
        parts.append("failed \(failed)")
        parts.append(Self.bytes(bytes) + " received")
        var line = parts.joined(separator: ", ")
        if ignoredRobots { line += "; robots.txt ignored (--ignore-robots)" }
        if interrupted { line += "; stopped by an interrupt" }
        if failed > 0 { line += "; \(failed) page\(failed == 1 ? "" : "s") could not be fetched (exit 6)" }
        return line
    }

    func json(ignoredRobots: Bool, interrupted: Bool = false) -> JSONValue {
        .object([
            "pages": .array(reports.map(Self.json)),
            "summary": .object([
                "pages": .int(Int64(reports.count)), "fetched": .int(Int64(fetched)), "changed": .int(Int64(changed)),
                "unchanged": .int(Int64(unchanged)), "notRecorded": .int(Int64(notRecorded)), "failed": .int(Int64(failed)),
                "bytes": .int(Int64(bytes)), "robotsIgnored": .bool(ignoredRobots), "interrupted": .bool(interrupted),
            ]),
        ])
    }

    static func json(_ report: CaptureReport) -> JSONValue {
        var object: [String: JSONValue] = [
            "url": .string(report.url), "document": .string(report.document), "outcome": .string(report.outcome.name),
            "bytes": .int(Int64(report.bytes)),
        ]
        if let final = report.finalURL { object["finalURL"] = .string(final) }
        if let status = report.status { object["status"] = .int(Int64(status)) }
        if let detail = report.detail { object["detail"] = .string(detail) }
        if let event = report.event {
            object["position"] = .int(Int64(event.position))
            object["version"] = .int(Int64(event.version))
            object["eventID"] = .string(event.eventID.uuidString.lowercased())
        }
        return .object(object)
    }

    static func line(_ report: CaptureReport) -> String {
        var line = "\(report.outcome.name.padding(toLength: 19, withPad: " ", startingAt: 0)) \(report.document)"
        if let event = report.event { line += " (version \(event.version), position \(event.position))" }
        if let detail = report.detail { line += ": \(detail)" }
        return line
    }

    static func bytes(_ count: Int) -> String {
        count >= 1 << 20 ? String(format: "%.1f MiB", Double(count) / 1048576) : count >= 1024 ? String(format: "%.1f KiB", Double(count) / 1024) : "\(count) bytes"
    }
}

/// Runs async work from a synchronous command (ArgumentParser's `run` here is synchronous).
/// The result of an async body, written once before the semaphore is signalled.
final class BlockingResult<T>: @unchecked Sendable { var result: Result<T, any Error>? }

func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = BlockingResult<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

func parseSelectors(_ texts: [String], option: String) throws -> [CSSSelector] {
    try texts.map { text in
        do { return try CSSSelector(text) } catch let error as CSSSelector.ParseError { throw ValidationError("\(option): \(error.description)") }
    }
}

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
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

/// Set by SIGINT/SIGTERM: `watch` finishes the page it is on, prints its summary and stops.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Capture the pages of a watch list, each at its interval, until interrupted.",
        discussion: """
            The watch list is TOML (or JSON, by its .json name): defaults (contact, actor, every,
            delay, ignore-robots, doc-prefix) and one [[page]] per page (url; optional doc, select,
            remove, every, variant-of). See README, "Watching pages". Each round captures the pages
            that are due, as `capture` does; a progress line shows on a terminal, and a summary is
            printed at the end (after --once's one round, or at Ctrl-C). Exit 6 when some page could
            not be fetched.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The watch list (TOML, or JSON).") var file: String
    @Flag(name: .long, help: "Capture every page once, then stop.") var once = false
    @Option(name: .long, help: ArgumentHelp("Capture every page at this interval, whatever the list says.", valueName: "duration")) var every: String?
    @OptionGroup var fetch: FetchOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let every, WatchList.parseDuration(every).map({ $0 > .zero }) != true {
            throw ValidationError("--every \"\(every)\" is not a positive duration (e.g. 90s, 15m, 1h)")
        }
    }

    func run() throws {
        let list: WatchList
        do { list = try WatchList(path: file) } catch { throw LedgerError(.invalidInput, error.description) }
        let ledger = try location.open()
        let policy = fetch.policy(contact: list.contact, delay: list.delay, ignoreRobots: list.ignoreRobots)
        let capturer = try Capturer(ledger: ledger, policy: policy, actor: fetch.actor ?? list.actor, documentPrefix: list.documentPrefix)
        let override = every.flatMap(WatchList.parseDuration)
        let once = self.once
        let terminal = isatty(2) != 0
        signal(SIGINT) { _ in stopRequested = 1 }
        signal(SIGTERM) { _ in stopRequested = 1 }
        // A parent that blocked these signals (as thread pools do) passes its mask on: unblock them.
        var endSignals = sigset_t()
        sigemptyset(&endSignals)
        sigaddset(&endSignals, SIGINT)
        sigaddset(&endSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &endSignals, nil)
        let (tally, interrupted) = try runBlocking { () async -> (CaptureTally, Bool) in
            var tally = CaptureTally()
            let clock = ContinuousClock()
            var due = Array(repeating: clock.now, count: list.pages.count)
            var round = 0
            outer: while true {
                round += 1
                let now = clock.now
                let pending = list.pages.indices.filter { due[$0] <= now }
                for (k, index) in pending.enumerated() {
                    if stopRequested != 0 { break outer }
                    let page = list.pages[index]
                    if terminal {
                        writeToStandardError("\r\u{1B}[Kround \(round): \(k + 1)/\(pending.count) \(page.target.url) — fetched \(tally.fetched), changed \(tally.changed), unchanged \(tally.unchanged), failed \(tally.failed)")
                    }
                    let report = await capturer.capture(page.target)
                    tally.add(report)
                    if !output.json {
                        if terminal { writeToStandardError("\r\u{1B}[K") }
                        print(CaptureTally.line(report))
                        fflush(nil)
                    }
                    due[index] = clock.now + (override ?? page.every)
                }
                if once { break }
                // Sleep until the next page is due, in short steps so that an interrupt is prompt.
                while stopRequested == 0, let next = due.min(), clock.now < next {
                    try? await Task.sleep(for: min(.milliseconds(200), next - clock.now))
                }
                if stopRequested != 0 { break }
            }
            if terminal { writeToStandardError("\r\u{1B}[K") }
            await capturer.shutdown()
            return (tally, stopRequested != 0)
        }
        if output.json {
            printJSON(tally.json(ignoredRobots: !policy.obeyRobots, interrupted: interrupted))
        } else {
            print(tally.summary(pages: tally.reports.count, ignoredRobots: !policy.obeyRobots, interrupted: interrupted))
        }
        if tally.failed > 0 { throw ExitCode(6) }
    }
}

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
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

struct ImportWARC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warc",
        abstract: "Import WARC files made elsewhere (wget --warc-file, Webrecorder, Heritrix, Wayback): each HTML response a capture.",
        discussion: """
            Every HTML response record becomes a capture of its WARC-Target-URI at its WARC-Date, in
            time order per URI, recorded as `capture` records a page (publish, edit, retract on 404/410
            and 451, restore; unchanged text records nothing); revisit records are resolved to the
            response they repeat; other record types and non-HTML payloads are skipped and counted.
            Plain and gzip files; read in two streaming passes. Event IDs come from the record IDs, so
            a second import adds nothing. A truncated or corrupt file stops the import, naming the file
            and byte offset; the events before it stay.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The WARC files (.warc or .warc.gz).") var files: [String]
    @Option(name: .customLong("doc-prefix"), help: ArgumentHelp("Put this before every default document ID.", valueName: "prefix")) var documentPrefix: String?
    @Option(name: .long, help: ArgumentHelp("Who the events name (default: warc-import).", valueName: "name")) var actor: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one WARC file") }
    }

    func run() throws {
        for file in files where !FileManager.default.fileExists(atPath: file) {
            throw LedgerError(.notFound, "the WARC file \(file) does not exist")
        }
        let ledger = try location.open()
        let importer: WARCImporter
        do { importer = try WARCImporter(ledger: ledger, actor: actor ?? "warc-import", documentPrefix: documentPrefix) } catch {
            throw LedgerError(.storage, error.description)
        }
        let terminal = isatty(2) != 0
        let summary: WARCImportSummary
        do {
            summary = try importer.run(paths: files) { progress in
                if terminal { writeToStandardError("\r\u{1B}[Kimporting: \(progress.captures) captures, \(progress.events) events") }
            }
        } catch let error as WARCError {
            if terminal { writeToStandardError("\r\u{1B}[K") }
            throw LedgerError(.invalidInput, error.description)
        }
        if terminal { writeToStandardError("\r\u{1B}[K") }
        if output.json {
            printJSON(.object([
                "files": .int(Int64(summary.files)), "records": .int(Int64(summary.records)), "captures": .int(Int64(summary.captures)),
                "published": .int(Int64(summary.published)), "edited": .int(Int64(summary.edited)),
                "retracted": .int(Int64(summary.retracted)), "restored": .int(Int64(summary.restored)),
                "unchanged": .int(Int64(summary.unchanged)), "absent": .int(Int64(summary.absent)), "alreadyRecorded": .int(Int64(summary.alreadyRecorded)),
                "notRecorded": .int(Int64(summary.notRecorded)), "skippedPayloads": .int(Int64(summary.skippedPayloads)),
                "skippedByType": .object(summary.skippedByType.mapValues { .int(Int64($0)) }),
            ]))
        } else {
            let skipped = summary.skippedByType.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("""
                \(summary.files) file\(summary.files == 1 ? "" : "s"), \(summary.records) records: \(summary.captures) captures → \
                \(summary.published) published, \(summary.edited) edited, \(summary.retracted) retracted, \(summary.restored) restored, \
                \(summary.unchanged) unchanged, \(summary.absent) absent (404/410/451 before any capture), \(summary.alreadyRecorded) already recorded, \(summary.notRecorded) not recorded; \
                skipped: \(summary.skippedPayloads) non-HTML or other responses\(skipped.isEmpty ? "" : ", " + skipped)
                """)
        }
    }
}

struct Feed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an Atom feed of a document's changes (or of every document under a prefix), with word diffs.",
        discussion: """
            One entry per change (published, edited, retracted, restored), newest first: the actor, the
            time, a link (to --base-url's event page, else the page captured), and the word diff as HTML,
            removed words struck through and added ones marked, as the reports show them.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document (omit it with --prefix).") var doc: String?
    @Option(name: .long, help: ArgumentHelp("Every document whose ID starts with this (\"\" for all).", valueName: "prefix")) var prefix: String?
    @Option(name: .long, help: ArgumentHelp("The most entries (default 50).", valueName: "n")) var limit: Int = 50
    @Option(name: .customLong("base-url"), help: ArgumentHelp("Where `palimpsest serve` answers, for the entries' links.", valueName: "url")) var baseURL: String?
    @Option(name: .long, help: ArgumentHelp("The file to write (- for standard output).", valueName: "file")) var out: String

    func validate() throws {
        if (doc == nil) == (prefix == nil) { throw ValidationError("give a document or --prefix (one of them)") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let ledger = try location.open(readOnly: true)
        let feed = AtomFeed(scope: doc.map { .document($0) } ?? .prefix(prefix ?? ""), limit: limit, baseURL: baseURL)
        let xml = try feed.render(from: ledger)
        if out == "-" {
            print(xml, terminator: "")
        } else {
            do { try Data(xml.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                throw LedgerError(.storage, "cannot write the feed to \(out): \(error.localizedDescription)")
            }
        }
    }
}
