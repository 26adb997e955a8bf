import Foundation

/// What the admin endpoint answers, as a pure function of the request and the node's state
/// (testable without sockets): `GET /status`, `GET /ring` (plain text, or JSON with
/// `?format=json`), `GET /metrics` (Prometheus text), and the probes of container orchestrators:
/// `GET /health` (200 while the process answers) and `GET /ready` (200 once the node is up and
/// normal in the ring and serving CQL, 503 with the reason before). `HEAD` is answered like `GET`
/// without the body; other methods get 405, other paths 404, an unknown format 400.
public struct AdminRoutes: Sendable {
    public let snapshot: @Sendable () -> MembershipSnapshot
    public let metrics: MetricsRegistry
    /// Further routes (data movement's operations), asked first.
    public let providers: [any AdminRouteProvider]
    /// Routes the node's subsystems registered (snapshots, repair, …), served off the loop.
    public let actions: AdminActions
    /// Why the node does not serve clients yet (CQL not started), or nil once it does.
    public let notServing: @Sendable () -> String?
    /// Live peers' clock offsets from this node by address, ms (the status report's column).
    public let clockOffsets: @Sendable () -> [String: Double]

    public init(snapshot: @escaping @Sendable () -> MembershipSnapshot, metrics: MetricsRegistry, providers: [any AdminRouteProvider] = [],
                actions: AdminActions = AdminActions(), notServing: @escaping @Sendable () -> String? = { nil },
                clockOffsets: @escaping @Sendable () -> [String: Double] = { [:] }) {
        self.snapshot = snapshot
        self.clockOffsets = clockOffsets
        self.metrics = metrics
        self.providers = providers
        self.actions = actions
        self.notServing = notServing
    }

    /// Nil when the node is ready for clients (up and normal in its own view, serving CQL), else why not.
    public func notReady() -> String? {
        let status = snapshot().local?.status
        guard status == .normal else { return "this node is \(status?.rawValue ?? "starting"), not NORMAL" }
        return notServing()
    }

    /// What to answer: at once, or by running a registered action's handler.
    public enum Answer: Sendable {
        case now(HTTPResponse)
        case later(AdminActions.Handler)
    }

    /// The answer to a request: a registered action's handler when one serves the request's
    /// method and path, else ``respond(to:)``.
    public func answer(_ request: HTTPRequest) -> Answer {
        if let handler = actions.handler(for: request) { return .later(handler) }
        if actions.serves(path: request.path) {
            return .now(.error(405, "method \(request.method) not allowed on \(request.path)"))
        }
        return .now(respond(to: request))
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse {
        for p in providers {
            if let response = p.respond(to: request) { return response }
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return .error(405, "method \(request.method) not allowed; use GET")
        }
        switch request.path {
        case "/status":
            return render(StatusReport(snapshot(), clockOffsetsMillis: clockOffsets()), format: request.queryValue("format")) { $0.text }
        case "/ring":
            return render(RingReport(snapshot().ring), format: request.queryValue("format")) { $0.text }
        case "/metrics":
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", text: metrics.render())
        case "/health":
            return HTTPResponse(status: 200, text: "alive\n")
        case "/ready":
            if let reason = notReady() { return .error(503, "not ready: \(reason)") }
            return HTTPResponse(status: 200, text: "ready\n")
        case "/":
            let more = actions.listing.map { ", " + $0 }.joined()
            return HTTPResponse(status: 200, text: "basalt admin endpoint: GET /status, /ring (?format=json), /metrics, /health, /ready\(more)\n")
        default:
            return .error(404, "no such path \(request.path); try /status, /ring, /metrics, /health or /ready")
        }
    }

    private func render<T: Encodable>(_ value: T, format: String?, text: (T) -> String) -> HTTPResponse {
        .report(value, format: format, text: text)
    }
}

/// A component answering some admin paths (its operations): the answer, or nil when `request` is
/// not one of its routes. Called on the admin loop: must not block (long work starts a task).
public protocol AdminRouteProvider: Sendable {
    func respond(to request: HTTPRequest) -> HTTPResponse?
}
