import Synchronization

/// Admin requests that subsystems serve beside the built-in `/status`, `/ring` and `/metrics`:
/// snapshots, repair and other work that touches data. A component registers its handlers in
/// ``NodeComponent/prepare(_:)`` through ``NodeContext/admin``.
///
/// A handler runs in its own task, off the admin endpoint's loop, so it may take long (a flush, a
/// repair); the connection is answered when it returns.
public final class AdminActions: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    private struct Route: Hashable { var method: String; var path: String }
    private let routes = Mutex<[Route: Handler]>([:])

    public init() {}

    /// Serves `method path` (e.g. `POST /snapshot`) with `handler`; a later registration of the same
    /// route replaces the earlier one.
    public func register(_ method: String, _ path: String, handler: @escaping Handler) {
        routes.withLock { $0[Route(method: method, path: path)] = handler }
    }

    /// The handler of a request, if one is registered (`HEAD` finds `GET` handlers).
    public func handler(for request: HTTPRequest) -> Handler? {
        let method = request.method == "HEAD" ? "GET" : request.method
        return routes.withLock { $0[Route(method: method, path: request.path)] }
    }

    /// Whether any method is registered for the path.
    public func serves(path: String) -> Bool {
        routes.withLock { $0.keys.contains { $0.path == path } }
    }

    /// The registered routes, `METHOD /path`, sorted.
    public var listing: [String] {
        routes.withLock { $0.keys.map { "\($0.method) \($0.path)" }.sorted() }
    }
}
