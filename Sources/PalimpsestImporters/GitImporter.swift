import Foundation
import Palimpsest

/// Imports the history of the text files in a git repository (a work tree or a bare repository):
/// the first-parent history of a branch, oldest first, one event per path whose text changed.
/// Actor = author name, `at` = author date, `source` = "<repo>@<commit>", message = the commit's
/// subject.
///
/// Each path is, in each tree, absent, text, binary, a symbolic link, a submodule, or a file over the
/// limit a version; `GitPathTransition.action` is the whole rule from one kind to the next (published
/// when a path becomes text, edited while it stays text, retracted when it stops, passed over and
/// counted among non-text kinds).
///
/// A merge whose side branch is linear and could have been fast-forwarded is replaced by the side
/// branch's own commits, so that changes are credited to who wrote them (any difference between the
/// merge and the side branch's tip is then the merge's own event). `GitHistory` decides that in
/// memory from one `rev-list`; trees and blobs come through one `diff-tree --stdin` and one
/// `cat-file --batch-command` process for the whole import.
///
/// Files that are not valid UTF-8 (and paths that are not) are decoded with `encoding`, or refused
/// with the file and commit named.
public struct GitImporter {
    public var bulk: BulkImporter
    /// Only paths matching this glob (`fnmatch`, `*` crossing `/`), when set.
    public var pathGlob: String?
    /// The branch (or any commit-ish); default HEAD.
    public var branch: String?
    /// How to decode files that are not UTF-8; default: refuse them.
    public var encoding: String.Encoding?
    /// Put before every path to make its document ID.
    public var documentPrefix = ""
    /// Files larger than this are passed over and counted (a path that becomes one is retracted).
    public var maximumFileBytes = GitImporter.defaultMaximumFileBytes
    public static let defaultMaximumFileBytes = Ledger.maximumTextBytes

    public init(ledger: Ledger) { bulk = BulkImporter(ledger: ledger) }

    /// Imports the repository at `path`.
    public func run(repository path: String, progress: (@Sendable (ImportProgress) -> Void)? = nil) throws(ImportFailure) -> ImportSummary {
        let repo = GitRepository(path: path)
        let tip: String
        let repoName: String
        do throws(LedgerError) {
            guard let gitDirectory = repo.firstLine(["rev-parse", "--absolute-git-dir"]) else {
                throw LedgerError(.notFound, "\(path) is not a git repository")
            }
            let top = repo.firstLine(["rev-parse", "--show-toplevel"])
            repoName = Self.repositoryName(workTree: top, gitDirectory: gitDirectory)
            let wanted = branch ?? "HEAD"
            if let commit = repo.firstLine(["rev-parse", "--verify", "--quiet", wanted + "^{commit}"]) {
                tip = commit
            } else if branch == nil, (repo.firstLine(["rev-parse", "--verify", "--quiet", "--all"]) == nil) {
                throw LedgerError(.notFound, "the repository \(path) has no commits yet; there is nothing to import")
            } else {
                throw LedgerError(.notFound, "the branch or commit \"\(wanted)\" does not exist in \(path)")
            }
        } catch {
            throw ImportFailure(error: error, committed: ImportSummary())
        }
        let settings = Settings(
            repoName: repoName, glob: pathGlob, encoding: encoding, prefix: documentPrefix, maximumFileBytes: maximumFileBytes)
        return try bulk.run(sourceName: path, progress: progress) { sink in
            var reader = GitHistoryReader(repo: repo, settings: settings, sink: sink)
            return reader.run(tip: tip)
        }
    }

    /// "rfcs" for /src/rfcs (a work tree) and for /src/rfcs.git (a bare repository).
    static func repositoryName(workTree: String?, gitDirectory: String) -> String {
        let directory = URL(fileURLWithPath: workTree ?? gitDirectory).standardizedFileURL
        var name = directory.lastPathComponent
        if workTree == nil, name == ".git" { name = directory.deletingLastPathComponent().lastPathComponent }
        if name.hasSuffix(".git") { name.removeLast(4) }
        return name.isEmpty ? "repository" : name
    }

    /// What the reader needs to know besides the repository.
    struct Settings: Sendable {
        let repoName: String
        let glob: String?
        let encoding: String.Encoding?
        let prefix: String
        let maximumFileBytes: Int
    }

    static func matches(_ glob: String, _ path: String) -> Bool {
        fnmatch(glob, path, 0) == 0
    }

    /// A stable event ID: UUID (version 8) from SHA-256 of "git", the repository's name, the commit,
    /// the document and what happened to it, one a line.
    static func eventID(repo: String, commit: String, path: String, kind: String) -> UUID {
        var b = Digest.sha256("git\n\(repo)\n\(commit)\n\(path)\n\(kind)").bytes
        b[6] = (b[6] & 0x0F) | 0x80
        b[8] = (b[8] & 0x3F) | 0x80
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}

/// The reading side of one import, on the producer thread: the plan, then each planned commit's
/// changes turned into events.
struct GitHistoryReader {
    let repo: GitRepository
    let settings: GitImporter.Settings
    let sink: ImportSink
    /// The kind of every path (within the glob) in the tree of the last commit read.
    private var kinds: [String: GitPathKind] = [:]
    private var passedOver: [String: Int] = [:]
    private var notes: [String] = []
    private var read = 0
    private var datesReplaced = 0

    init(repo: GitRepository, settings: GitImporter.Settings, sink: ImportSink) {
        (self.repo, self.settings, self.sink) = (repo, settings, sink)
    }

    mutating func run(tip: String) -> ProducerReport {
        do {
            sink.analysing("reading the commit graph")
            let history = try GitHistory.read(repo, tip: tip) { count in
                sink.analysing("reading the commit graph: \(count.formatted()) commits")
            }
            let plan = history.plan(tip: tip)
            if repo.firstLine(["rev-parse", "--is-shallow-repository"]) == "true" {
                notes.append("\(repo.path) is a shallow clone: its history is cut, so the files of the oldest commit it has are published as that commit's, and what came before is missing")
            }
            sink.finishedAnalysis()
            try importChanges(plan)
        } catch let error as LedgerError {
            return report(error: error)
        } catch let failure as GitRepository.Failure {
            return report(error: LedgerError(.invalidInput, failure.message))
        } catch {
            return report(error: LedgerError(.invalidInput, "\(error)"))
        }
        return report(error: nil)
    }

    private func report(error: LedgerError?) -> ProducerReport {
        var notes = notes
        if datesReplaced > 0 {
            notes.append("\(datesReplaced) commit\(datesReplaced == 1 ? " has" : "s have") an invalid author date; the committer date was used")
        }
        return ProducerReport(inputBytes: read, passedOver: passedOver, error: error, notes: notes)
    }

    /// Reads each planned commit's changes (one `diff-tree --stdin` for all of them, streamed) and
    /// emits its events.
    private mutating func importChanges(_ plan: [GitHistory.PlannedCommit]) throws {
        guard !plan.isEmpty else { return }
        let request = plan.map { planned in planned.parent.map { "\(planned.commit) \($0)" } ?? planned.commit }.joined(separator: "\n") + "\n"
        let diffs = try GitProcess(
            repository: repo.path, arguments: ["diff-tree", "--stdin", "--always", "-r", "-z", "-M", "--raw", "--root"],
            input: Data(request.utf8))
        let objects = try GitObjectReader(repository: repo.path)
        var pendingHeader: ArraySlice<UInt8>? = try diffs.field(terminatedBy: 0)
        for planned in plan {
            if sink.isCancelled { return }
            let location = "commit \(planned.commit.prefix(12))"
            guard let header = pendingHeader, String(decoding: header, as: UTF8.self) == planned.commit else {
                throw diffs.failure(context: "did not list the changes of \(location)")
            }
            var records: [GitRawChange] = []
            pendingHeader = nil
            while let field = try diffs.field(terminatedBy: 0) {
                guard field.first == UInt8(ascii: ":") else {
                    pendingHeader = field
                    break
                }
                let status = Array(field)
                let fields = String(decoding: status.dropFirst(), as: UTF8.self).split(separator: " ")
                guard fields.count >= 5, let letter = fields[4].first,
                    let firstPath = try diffs.field(terminatedBy: 0).map(Array.init)
                else { throw diffs.failure(context: "printed a change it did not finish (\(location))") }
                var change = GitRawChange(
                    status: letter, oldMode: fields[0], newMode: fields[1], oldBlob: String(fields[2]), newBlob: String(fields[3]),
                    path: try decodePath(firstPath, location: location), sourcePath: nil)
                if letter == "R" || letter == "C" {
                    guard let second = try diffs.field(terminatedBy: 0).map(Array.init) else {
                        throw diffs.failure(context: "printed a rename it did not finish (\(location))")
                    }
                    change.sourcePath = change.path
                    change.path = try decodePath(second, location: location)
                }
                records.append(change)
            }
            try importCommit(planned, records: records, objects: objects, location: location)
            sink.read(upTo: read)
        }
        try diffs.finish()
    }

    private func decodePath(_ bytes: [UInt8], location: String) throws(LedgerError) -> String {
        if let path = String(validating: bytes, as: UTF8.self) { return path }
        if let encoding = settings.encoding, let path = String(bytes: bytes, encoding: encoding) { return path }
        let shown = bytes.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
        throw LedgerError(.invalidInput, "\(location): the path \"\(shown)\" is not valid UTF-8; name its encoding with --encoding (e.g. latin1)")
    }

    /// One commit: its changes grouped by path into transitions, each turned into at most one event.
    private mutating func importCommit(_ planned: GitHistory.PlannedCommit, records: [GitRawChange], objects: GitObjectReader, location: String) throws {
        var transitions: [GitPathTransition] = []
        var at: [String: Int] = [:]
        func upsert(_ t: GitPathTransition) {
            if let i = at[t.path] {
                // The same path twice in one commit (a type change split into a deletion and an
                // addition): one transition from the first's old side to the second's new side.
                transitions[i].new = t.new
                transitions[i].newBlob = t.newBlob
                transitions[i].from = transitions[i].from ?? t.from
                transitions[i].renamedTo = t.new == .absent ? (t.renamedTo ?? transitions[i].renamedTo) : nil
            } else {
                at[t.path] = transitions.count
                transitions.append(t)
            }
        }
        var texts: [String: String] = [:]
        let absentBlob = String(repeating: "0", count: 40)
        for record in records {
            let inGlob = settings.glob.map { GitImporter.matches($0, record.path) } ?? true
            var source: (path: String, kind: GitPathKind, isCopy: Bool)? = nil
            if let sourcePath = record.sourcePath, settings.glob.map({ GitImporter.matches($0, sourcePath) }) ?? true {
                let kind = try reading(sourcePath, location) { me in
                    try me.oldKind(of: sourcePath, mode: record.oldMode, blob: record.oldBlob, objects: objects)
                }
                source = (sourcePath, kind, record.status == "C")
                if record.status == "R" {
                    upsert(GitPathTransition(
                        path: sourcePath, old: kind, new: .absent, oldBlob: record.oldBlob, newBlob: absentBlob,
                        from: nil, renamedTo: inGlob ? record.path : nil))
                }
            }
            guard inGlob else { continue }
            // The destination of a rename or copy was absent from the parent's tree.
            let old = record.sourcePath != nil
                ? (kinds[record.path] ?? .absent)
                : try reading(record.path, location) { me in
                    try me.oldKind(of: record.path, mode: record.oldMode, blob: record.oldBlob, objects: objects)
                }
            let (new, text) = try reading(record.path, location) { me in try me.newKind(record, objects: objects, location: location) }
            if let text { texts[record.path] = text }
            upsert(GitPathTransition(
                path: record.path, old: old, new: new, oldBlob: record.sourcePath != nil ? absentBlob : record.oldBlob,
                newBlob: record.newBlob, from: source, renamedTo: nil))
        }
        guard !transitions.isEmpty else { return }
        let header = try CommitHeader(
            try reading(nil, location) { _ in try objects.content(planned.commit) }, location: location)
        if header.authorDateReplaced { datesReplaced += 1 }
        for transition in transitions {
            let action = transition.action
            if transition.new == .absent { kinds[transition.path] = nil } else { kinds[transition.path] = transition.new }
            let document = settings.prefix + transition.path
            if case .passOver(let reason) = action {
                passedOver[reason, default: 0] += 1
                continue
            }
            if DocumentID.problem(with: document) != nil {
                passedOver["paths the ledger cannot take as document IDs", default: 0] += 1
                continue
            }
            let change: Palimpsest.Change
            switch action {
            case .publish(let variantOf, _):
                change = .publish(text: texts[transition.path] ?? "", variantOf: variantOf.map { settings.prefix + $0 })
            case .edit:
                change = .edit(text: texts[transition.path] ?? "")
            case .retract(let reason, _):
                change = .retract(reason: "\(reason) in \(planned.commit.prefix(12))", kind: .deleted)
            case .passOver:
                continue
            }
            var event = NewEvent(
                document: document, change: change, at: header.authorDate, actor: header.authorName,
                source: "\(settings.repoName)@\(planned.commit)", message: header.subject,
                metadata: ["commit": planned.commit, "authorEmail": header.authorEmail],
                eventID: GitImporter.eventID(repo: settings.repoName, commit: planned.commit, path: document, kind: action.eventKind))
            event.allowBackdated = true
            sink.emit(event, location: location)
        }
    }

    /// Runs a read of git objects for `path` in a commit; a failure of git (a corrupt or missing
    /// object) names the commit and the path.
    private mutating func reading<T>(_ path: String?, _ location: String, _ body: (inout Self) throws -> T) throws -> T {
        do {
            return try body(&self)
        } catch let failure as GitRepository.Failure {
            throw LedgerError(.invalidInput, "\(location)\(path.map { ", \($0)" } ?? ""): \(failure.message)")
        }
    }

    /// The kind of a path in the parent's tree: known from the commit before (the plan is one chain
    /// of trees), else from its mode, else from its bytes.
    private mutating func oldKind(of path: String, mode: Substring, blob: String, objects: GitObjectReader) throws -> GitPathKind {
        if let known = kinds[path] { return known }
        if let kind = GitPathKind.fromMode(mode) { return kind }
        return try fileKind(blob, objects: objects).kind
    }

    /// The kind of a path in the commit's tree, and its text when it is text.
    private mutating func newKind(_ record: GitRawChange, objects: GitObjectReader, location: String) throws -> (GitPathKind, String?) {
        if let kind = GitPathKind.fromMode(record.newMode) { return (kind, nil) }
        let (kind, bytes) = try fileKind(record.newBlob, objects: objects)
        guard kind == .text, let bytes else { return (kind, nil) }
        if let utf8 = String(validating: bytes, as: UTF8.self) { return (.text, utf8) }
        if let encoding = settings.encoding, let decoded = String(bytes: bytes, encoding: encoding) { return (.text, decoded) }
        throw LedgerError(.invalidInput, "\(location): \(record.path) is not valid UTF-8; name its encoding with --encoding (e.g. latin1)")
    }

    /// A regular file's kind from its size and bytes (read only when within the limit).
    private mutating func fileKind(_ blob: String, objects: GitObjectReader) throws -> (kind: GitPathKind, bytes: [UInt8]?) {
        let size = try objects.size(blob)
        guard size <= settings.maximumFileBytes else { return (.tooLarge, nil) }
        let bytes = try objects.content(blob)
        read += bytes.count
        if bytes.prefix(8000).contains(0) { return (.binary, nil) }
        return (.text, bytes)
    }
}

/// One line of `git diff-tree --raw`: for a rename or copy, `sourcePath` is where it came from.
struct GitRawChange {
    let status: Character
    let oldMode: Substring, newMode: Substring
    let oldBlob: String, newBlob: String
    var path: String
    var sourcePath: String?
}

/// The fields of a commit object the importer uses.
struct CommitHeader {
    var authorName = "unknown"
    var authorEmail = ""
    var authorDate = Timestamp(milliseconds: 0)
    var subject: String?
    /// The author date was missing or invalid, and the committer date stands in.
    var authorDateReplaced = false

    /// Dates git can write and the ledger can show: years 1 to 9999.
    static let validSeconds: ClosedRange<Int64> = -62_135_596_800...253_402_300_799

    init(_ content: [UInt8], location: String) throws(LedgerError) {
        let text = String(decoding: content, as: UTF8.self)
        let end = text.range(of: "\n\n")
        let head = end.map { text[..<$0.lowerBound] } ?? text[...]
        var author: Int64?? = nil  // nil: no author line; .some(nil): a date that does not parse
        var committer: Int64? = nil
        for line in head.split(separator: "\n") {
            if line.hasPrefix("author ") {
                let (name, email, seconds) = Self.identity(line.dropFirst("author ".count))
                authorName = name.isEmpty ? "unknown" : name
                authorEmail = email
                author = .some(seconds)
            } else if line.hasPrefix("committer ") {
                committer = Self.identity(line.dropFirst("committer ".count)).seconds
            }
        }
        if let seconds = author ?? nil {
            authorDate = Timestamp(milliseconds: seconds * 1000)
        } else if let committer {
            authorDate = Timestamp(milliseconds: committer * 1000)
            authorDateReplaced = true
        } else {
            throw LedgerError(.invalidInput, "\(location) has neither a valid author date nor a valid committer date")
        }
        if let end {
            subject = text[end.upperBound...].split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init)
        }
    }

    /// "Name <email> 1700000000 +0100": the name, the email and the seconds (nil when invalid).
    static func identity(_ rest: Substring) -> (name: String, email: String, seconds: Int64?) {
        guard let open = rest.lastIndex(of: "<"), let close = rest.lastIndex(of: ">"), open < close else {
            return (rest.trimmingCharacters(in: .whitespaces), "", nil)
        }
        let name = rest[..<open].trimmingCharacters(in: .whitespaces)
        let email = String(rest[rest.index(after: open)..<close])
        let stamp = rest[rest.index(after: close)...].split(separator: " ")
        let seconds = stamp.first.flatMap { Int64($0) }.flatMap { validSeconds.contains($0) ? $0 : nil }
        return (name, email, seconds)
    }
}
