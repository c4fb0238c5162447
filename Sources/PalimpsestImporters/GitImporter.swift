import Foundation
import Palimpsest

/// Imports the history of the text files in a git repository: the first-parent history of a branch,
/// oldest first, one event per changed file — added = published, modified = edited, deleted =
/// retracted (kind `deleted`), renamed = the old path retracted and the new one published with
/// `variantOf` the old. Actor = author name, `at` = author date, `source` = "<repo>@<commit>",
/// message = the commit's subject.
///
/// A merge whose side branch is linear and could have been fast-forwarded is replaced by the side
/// branch's own commits, so that changes are credited to who wrote them (any difference between the
/// merge and the side branch's tip is then the merge's own event).
///
/// Binary files (a NUL byte in their first 8,000 bytes, git's own test), symbolic links and
/// submodules are passed over and counted. Files that are not valid UTF-8 are decoded with
/// `encoding`, or refused with the file and commit named.
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

    public init(ledger: Ledger) { bulk = BulkImporter(ledger: ledger) }

    /// Imports the repository at `path`.
    public func run(repository path: String, progress: (@Sendable (ImportProgress) -> Void)? = nil) throws(ImportFailure) -> ImportSummary {
        let repo = GitRepository(path: path)
        let plan: [PlannedCommit]
        let repoName: String
        do {
            guard (try? repo.run(["rev-parse", "--git-dir"])) != nil else {
                throw LedgerError(.notFound, "\(path) is not a git repository")
            }
            let top = (try? repo.lines(["rev-parse", "--show-toplevel"]).first) ?? nil
            repoName = URL(fileURLWithPath: top ?? path).standardizedFileURL.lastPathComponent.replacingOccurrences(of: ".git", with: "")
            let tip = branch ?? "HEAD"
            guard let commit = try? repo.lines(["rev-parse", "--verify", "--quiet", tip + "^{commit}"]).first else {
                throw LedgerError(.notFound, "the branch or commit \"\(tip)\" does not exist in \(path)")
            }
            plan = try Self.plan(repo, tip: commit)
        } catch let error as LedgerError {
            throw ImportFailure(error: error, committed: ImportSummary())
        } catch let failure as GitRepository.Failure {
            throw ImportFailure(error: LedgerError(.invalidInput, "\(path): \(failure.message)"), committed: ImportSummary())
        } catch {
            throw ImportFailure(error: LedgerError(.invalidInput, "\(path): \(error)"), committed: ImportSummary())
        }
        let options = (glob: pathGlob, encoding: encoding, prefix: documentPrefix)
        return try bulk.run(sourceName: path, progress: progress) { sink in
            Self.produce(repo, repoName: repoName, plan: plan, options: options, into: sink)
        }
    }

    /// A commit to import and the commit its changes are measured against (nil for a root commit).
    struct PlannedCommit: Sendable {
        let commit: String
        let parent: String?
    }

    /// The first-parent history, oldest first, with fast-forwardable linear side branches inlined.
    static func plan(_ repo: GitRepository, tip: String) throws(GitRepository.Failure) -> [PlannedCommit] {
        var plan: [PlannedCommit] = []
        for line in try repo.lines(["rev-list", "--first-parent", "--reverse", "--parents", tip]) {
            let ids = line.split(separator: " ").map(String.init)
            let commit = ids[0]
            let parents = Array(ids.dropFirst())
            if parents.count == 2, let side = try inlinableSideBranch(repo, mainline: parents[0], side: parents[1]) {
                plan += side
                // Whatever the merge itself changed beyond the side branch's tip.
                plan.append(PlannedCommit(commit: commit, parent: parents[1]))
            } else {
                plan.append(PlannedCommit(commit: commit, parent: parents.first))
            }
        }
        return plan
    }

    /// The side branch's commits, oldest first, when the merge could have been a fast-forward (the
    /// mainline parent is an ancestor of the side parent) and the side branch is linear.
    static func inlinableSideBranch(_ repo: GitRepository, mainline: String, side: String) throws(GitRepository.Failure) -> [PlannedCommit]? {
        guard repo.isAncestor(mainline, of: side) else { return nil }
        let rows = try repo.lines(["rev-list", "--reverse", "--parents", "\(mainline)..\(side)"])
        var expectedParent = mainline
        var commits: [PlannedCommit] = []
        for row in rows {
            let ids = row.split(separator: " ").map(String.init)
            guard ids.count == 2, ids[1] == expectedParent else { return nil }
            commits.append(PlannedCommit(commit: ids[0], parent: ids[1]))
            expectedParent = ids[0]
        }
        return commits.isEmpty ? nil : commits
    }

    /// One changed path in a commit, from `git diff-tree --raw`.
    struct Change {
        let status: Character
        let oldMode: String, newMode: String
        let newBlob: String
        let path: String
        let oldPath: String?
    }

    static func produce(
        _ repo: GitRepository, repoName: String, plan: [PlannedCommit],
        options: (glob: String?, encoding: String.Encoding?, prefix: String), into sink: ImportSink
    ) -> ProducerReport {
        var passedOver: [String: Int] = [:]
        var read = 0
        do {
            let objects = try GitObjectReader(repository: repo.path)
            // Every commit's changes, from one diff-tree process.
            let request = plan.map { planned in planned.parent.map { "\(planned.commit) \($0)" } ?? planned.commit }.joined(separator: "\n") + "\n"
            let raw = try repo.run(["diff-tree", "--stdin", "-r", "-z", "-M", "--raw", "--root"], input: Data(request.utf8))
            let diffs = parseDiffTree(raw)
            for planned in plan {
                if sink.isCancelled { break }
                let commitObject = try objects.object(planned.commit)
                let header = CommitHeader(commitObject.content)
                let location = "commit \(planned.commit.prefix(12))"
                for change in diffs[planned.commit] ?? [] {
                    let mode = change.status == "D" ? change.oldMode : change.newMode
                    if !(mode.hasPrefix("100")) {
                        passedOver[mode == "120000" ? "symbolic links" : mode == "160000" ? "submodules" : "non-file entries", default: 0] += 1
                        continue
                    }
                    if let glob = options.glob, !matches(glob, change.path), !(change.oldPath.map { matches(glob, $0) } ?? false) {
                        continue
                    }
                    let document = options.prefix + change.path
                    func event(_ doc: String, _ change: Palimpsest.Change, kind: String) -> NewEvent {
                        var e = NewEvent(
                            document: doc, change: change, at: header.authorDate, actor: header.authorName,
                            source: "\(repoName)@\(planned.commit)", message: header.subject,
                            metadata: ["commit": planned.commit, "authorEmail": header.authorEmail],
                            eventID: eventID(repo: repoName, commit: planned.commit, path: doc, kind: kind))
                        e.allowBackdated = true
                        return e
                    }
                    if change.status == "D" {
                        sink.emit(event(document, .retract(reason: "deleted in \(planned.commit.prefix(12))", kind: .deleted), kind: "D"), location: location)
                        continue
                    }
                    let blob = try objects.object(change.newBlob).content
                    read += blob.count
                    if blob.prefix(8000).contains(0) {
                        passedOver["binary files", default: 0] += 1
                        continue
                    }
                    let text: String
                    if let utf8 = String(validating: blob, as: UTF8.self) {
                        text = utf8
                    } else if let encoding = options.encoding, let decoded = String(bytes: blob, encoding: encoding) {
                        text = decoded
                    } else {
                        throw LedgerError(.invalidInput, "\(location): \(change.path) is not valid UTF-8; name its encoding with --encoding (e.g. latin1)")
                    }
                    switch change.status {
                    case "A":
                        sink.emit(event(document, .publish(text: text), kind: "A"), location: location)
                    case "R":
                        let old = options.prefix + (change.oldPath ?? change.path)
                        sink.emit(event(old, .retract(reason: "renamed to \(change.path)", kind: .deleted), kind: "R-"), location: location)
                        sink.emit(event(document, .publish(text: text, variantOf: old), kind: "R+"), location: location)
                    default:  // M, T
                        sink.emit(event(document, .edit(text: text), kind: "M"), location: location)
                    }
                }
                sink.read(upTo: read)
            }
            return ProducerReport(inputBytes: read, passedOver: passedOver)
        } catch let error as LedgerError {
            return ProducerReport(inputBytes: read, passedOver: passedOver, error: error)
        } catch let failure as GitRepository.Failure {
            return ProducerReport(inputBytes: read, passedOver: passedOver, error: LedgerError(.invalidInput, failure.message))
        } catch {
            return ProducerReport(inputBytes: read, passedOver: passedOver, error: LedgerError(.invalidInput, "\(error)"))
        }
    }

    /// Parses `git diff-tree --stdin -z --raw` output: a commit ID, then its changes.
    static func parseDiffTree(_ raw: Data) -> [String: [Change]] {
        let tokens = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        var result: [String: [Change]] = [:]
        var current = ""
        var i = 0
        while i < tokens.count {
            let token = tokens[i]
            if token.hasPrefix(":") {
                let fields = token.dropFirst().split(separator: " ")
                guard fields.count >= 5, let status = fields[4].first else { i += 1; continue }
                if status == "R" || status == "C" {
                    guard i + 2 < tokens.count else { break }
                    result[current, default: []].append(Change(status: status == "C" ? "A" : "R", oldMode: String(fields[0]), newMode: String(fields[1]), newBlob: String(fields[3]), path: tokens[i + 2], oldPath: tokens[i + 1]))
                    i += 3
                } else {
                    guard i + 1 < tokens.count else { break }
                    result[current, default: []].append(Change(status: status, oldMode: String(fields[0]), newMode: String(fields[1]), newBlob: String(fields[3]), path: tokens[i + 1], oldPath: nil))
                    i += 2
                }
            } else {
                if !token.isEmpty { current = token.trimmingCharacters(in: .whitespacesAndNewlines) }
                i += 1
            }
        }
        return result
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

/// The fields of a commit object the importer uses.
struct CommitHeader {
    var authorName = "unknown"
    var authorEmail = ""
    var authorDate = Timestamp(milliseconds: 0)
    var subject: String?

    init(_ content: [UInt8]) {
        let text = String(decoding: content, as: UTF8.self)
        let parts = text.components(separatedBy: "\n\n")
        for line in parts[0].split(separator: "\n") where line.hasPrefix("author ") {
            // author Name <email> 1700000000 +0100
            let rest = line.dropFirst("author ".count)
            guard let open = rest.lastIndex(of: "<"), let close = rest.lastIndex(of: ">") else { continue }
            let name = rest[..<open].trimmingCharacters(in: .whitespaces)
            authorName = name.isEmpty ? "unknown" : name
            authorEmail = String(rest[rest.index(after: open)..<close])
            let stamp = rest[rest.index(after: close)...].split(separator: " ")
            if let seconds = stamp.first.flatMap({ Int64($0) }) { authorDate = Timestamp(milliseconds: seconds * 1000) }
        }
        if parts.count > 1 {
            let message = parts.dropFirst().joined(separator: "\n\n")
            subject = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init)
        }
    }
}
