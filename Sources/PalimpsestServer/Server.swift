import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Palimpsest
import PalimpsestPresentation
import PalimpsestText
import Synchronization

/// How `palimpsest serve` runs.
public struct ServeOptions: Sendable {
    public var ledgerPath: String
    public var host: String = "127.0.0.1"
    public var port: Int = 8750
    /// Where the server is reached from outside (links in feeds); default `http://HOST:PORT`.
    public var baseURL: String?
    /// Accept `POST /api/v1/events` and cosignatures, with `token`.
    public var allowWrites = false
    /// The bearer token writes must carry (read from `--token-file`).
    public var token: String?
    /// The largest request body accepted, in bytes.
    public var maxBodyBytes = 16 << 20
    /// Idle connections (a client that sends nothing) are closed after this long.
    public var idleTimeoutSeconds: Int64 = 30
    /// Called once the server listens, with the port it listens on.
    public var onListening: (@Sendable (Int) -> Void)?

    public init(ledgerPath: String) { self.ledgerPath = ledgerPath }
}

/// Every response's security headers: no script or asset from anywhere (the pages need none), no
/// framing, no sniffing.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var postOnly: Set<String> { ["/api/v1/events", "/api/v1/cosignatures"] }

    static var policy: String {
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        // GET and HEAD everywhere but the two writes, which take POST only: any other method is
        // refused as such (405, with the methods the path takes), not as a missing page.
        let path = request.uri.path
        let allowed = Self.postOnly.contains(path) ? "POST" : "GET, HEAD"
        let method = request.method == .head ? HTTPRequest.Method.get : request.method
        if !allowed.contains(method.rawValue) {
            response = Responses.error(
                LedgerError(.invalidInput, "the method \(request.method.rawValue) is not allowed at \(path); it takes \(allowed)"),
                status: .methodNotAllowed, api: path.hasPrefix("/api/"))
            response.headers[.allow] = allowed
            return secured(response)
        }
        let head = request.method == .head
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            // Hummingbird's own refusals (no route, body too large) in our error shape.
            let message = error.body ?? (error.status == .notFound ? "there is no page at \(request.uri.path)" : error.status.reasonPhrase)
            response = Responses.error(LedgerError(error.status == .notFound ? .notFound : .invalidInput, message), status: error.status, api: request.uri.path.hasPrefix("/api/"))
        }
        if head {
            // The GET answer's length, and no bytes.
            response.body = ResponseBody(contentLength: response.body.contentLength) { _ in }
        }
        return secured(response)
    }

    func secured(_ response: Response) -> Response {
        var response = response
        response.headers[.contentSecurityPolicy] = Self.policy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return response
    }
}

/// Builds and runs the server.
public enum PalimpsestWebServer {
    /// Serves until the process is told to stop (SIGINT or SIGTERM).
    public static func run(_ options: ServeOptions) async throws {
        // Opened writable when the directory allows, though HTTP writes stay refused without
        // --allow-writes: provenance and the phrase index follow the log, and another process's
        // appends leave them behind until a writable handle catches them up (derived data only;
        // no event is written). A ledger the server may not write to is served read-only.
        var ledgerOptions = Ledger.Options()
        let ledger: Ledger
        do {
            ledger = try Ledger.open(at: options.ledgerPath, options: ledgerOptions)
        } catch {
            if options.allowWrites { throw error }
            ledgerOptions.readOnly = true
            ledger = try Ledger.open(at: options.ledgerPath, options: ledgerOptions)
        }
        let site = Site(ledger: ledger, options: options)
        let router = Router()
        router.add(middleware: SecurityHeadersMiddleware())
        site.addRoutes(to: router)
        var app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(options.idleTimeoutSeconds))),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            onServerRunning: { channel in options.onListening?(channel.localAddress?.port ?? options.port) },
            logger: {
                var logger = Logger(label: "palimpsest.serve")
                logger.logLevel = .warning
                return logger
            }()
        )
        app.logger.logLevel = .warning
        do {
            try await app.runService()
        } catch let error as IOError {
            // Binding fails here (the port taken, a privileged port, an address not on this machine).
            throw LedgerError(.invalidInput, "cannot listen on \(options.host):\(options.port): \(String(cString: strerror(error.errnoCode)))")
        }
    }
}

extension RouterMethods {
    /// A GET route that answers HEAD too (the router matches methods exactly; the security
    /// middleware drops the body of a HEAD answer).
    @discardableResult
    func page(_ path: RouterPath, _ handler: @escaping @Sendable (Request, Context) async throws -> Response) -> Self {
        on(path, method: .get, use: handler)
        return on(path, method: .head, use: handler)
    }
}
