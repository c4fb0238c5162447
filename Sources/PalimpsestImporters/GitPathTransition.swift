/// What a path is in one tree, as the importer sees it.
enum GitPathKind: String, CaseIterable, Sendable {
    case absent
    /// A regular file whose bytes are text (no NUL in the first 8,000 bytes, git's own test) and
    /// within the ledger's limit for one version.
    case text
    case binary
    case symbolicLink
    case submodule
    /// A regular file larger than the ledger takes in one version (never read, so text or not).
    case tooLarge

    /// The kind of a tree entry from its mode alone, when that decides it (nil: a regular file,
    /// whose bytes decide between text, binary and too large).
    static func fromMode(_ mode: Substring) -> GitPathKind? {
        switch mode {
        case "000000": .absent
        case "120000": .symbolicLink
        case "160000": .submodule
        case _ where mode.hasPrefix("100"): nil
        default: .binary  // any other entry (git writes none today): never text
        }
    }

    /// How a change of this kind is counted when it is passed over.
    var passedOverReason: String {
        switch self {
        case .binary: "changes to binary files passed over"
        case .symbolicLink: "changes to symbolic links passed over"
        case .submodule: "changes to submodules passed over"
        case .tooLarge: "changes to files over the size limit a version passed over"
        case .absent, .text: "other changes passed over"
        }
    }

    /// Why a document was retracted when its path became this kind.
    var becameReason: String {
        switch self {
        case .absent: "deleted"
        case .text: "changed"
        case .binary: "became a binary file"
        case .symbolicLink: "became a symbolic link"
        case .submodule: "became a submodule"
        case .tooLarge: "became larger than the limit a version"
        }
    }
}

/// One path's change in one commit: its kind before and after, whether its content changed, and the
/// path it was renamed or copied from (when git paired it) or renamed to.
struct GitPathTransition: Equatable, Sendable {
    var path: String
    var old: GitPathKind
    var new: GitPathKind
    var oldBlob: String
    var newBlob: String
    /// The source of a rename or copy onto this path, and that source's kind before the commit.
    var from: (path: String, kind: GitPathKind, isCopy: Bool)?
    /// The destination of a rename away from this path.
    var renamedTo: String?

    static func == (a: Self, b: Self) -> Bool {
        a.path == b.path && a.old == b.old && a.new == b.new && a.oldBlob == b.oldBlob && a.newBlob == b.newBlob
            && a.from?.path == b.from?.path && a.from?.kind == b.from?.kind && a.from?.isCopy == b.from?.isCopy && a.renamedTo == b.renamedTo
    }

    /// What the ledger records for it. The whole rule of the importer, in one place:
    /// - a path that becomes text is published (recorded as a restoration when its document was
    ///   retracted before), with `variantOf` the path it was renamed or copied from when that was text;
    /// - a path that stays text and changes is edited (a change of file mode alone records nothing);
    /// - a path that stops being text — deleted, renamed away, or turned into a link, a submodule, a
    ///   binary file or a file over the limit — is retracted (kind `deleted`), the reason saying which;
    /// - a change among non-text kinds is passed over and counted under the kind it concerns.
    var action: GitPathAction {
        switch (old, new) {
        case (.text, .text):
            return oldBlob == newBlob ? .passOver("changes of file mode alone passed over") : .edit
        case (_, .text):
            let source = from.flatMap { $0.kind == .text ? $0.path : nil }
            return .publish(variantOf: source, renamed: from != nil && from?.isCopy == false)
        case (.text, _):
            if new == .absent, let renamedTo { return .retract(reason: "renamed to \(renamedTo)", renamed: true) }
            return .retract(reason: new.becameReason, renamed: false)
        default:
            return .passOver((new == .absent ? old : new).passedOverReason)
        }
    }
}

/// What one path transition records in the ledger.
enum GitPathAction: Equatable, Sendable {
    /// Publish (or restore) the path's text; `variantOf` the text it was renamed or copied from.
    case publish(variantOf: String?, renamed: Bool)
    case edit
    case retract(reason: String, renamed: Bool)
    /// Nothing recorded; counted under this reason.
    case passOver(String)

    /// The part of the event ID that says what happened to the path in its commit. The values are
    /// those earlier versions of the importer used, so a ledger they filled is continued, not doubled.
    var eventKind: String {
        switch self {
        case .publish(_, let renamed): renamed ? "R+" : "A"
        case .edit: "M"
        case .retract(_, let renamed): renamed ? "R-" : "D"
        case .passOver: ""
        }
    }
}
