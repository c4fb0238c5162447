/// Everything the ledger reports as failure: a code (what kind of failure, and the CLI's exit code),
/// one plain sentence naming the input at fault, and the underlying error when there is one.
///
/// "Not found" for a lookup is `nil`, not an error; `.notFound` is for commands that need the thing
/// to exist (editing an unknown document, opening a ledger that is not there).
public struct LedgerError: Error, CustomStringConvertible, Sendable {
    /// Opaque and extensible; each code maps to one exit code of DESIGN.md §7.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public let exitCode: Int32

        public static let notFound = Code(name: "notFound", exitCode: 1)
        public static let invalidInput = Code(name: "invalidInput", exitCode: 2)
        public static let conflict = Code(name: "conflict", exitCode: 3)
        public static let integrity = Code(name: "integrity", exitCode: 4)
        public static let storage = Code(name: "storage", exitCode: 5)
        /// A following projection is behind the log of a ledger opened read-only, which cannot fold
        /// it (exit 5, as `.storage`). Opened writable, the same read would catch it up first.
        public static let projectionBehind = Code(name: "projectionBehind", exitCode: 5)

        public var description: String { name }
    }

    public let code: Code
    public let message: String
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }

    /// The same error with `context` in front of its sentence ("line 12: …").
    public func prefixed(_ context: String) -> LedgerError {
        LedgerError(code, "\(context): \(message)", underlying: underlying)
    }
}
