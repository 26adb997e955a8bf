import Foundation

/// What the admin endpoint answers, as a pure function of the request and the node's state
/// (testable without sockets): `GET /status`, `GET /ring` (plain text, or JSON with
/// `?format=json`) and `GET /metrics` (Prometheus text). `HEAD` is answered like `GET` without the
/// body; other methods get 405, other paths 404, an unknown format 400.
public struct AdminRoutes: Sendable {
    public let snapshot: @Sendable () -> MembershipSnapshot
    public let metrics: MetricsRegistry
    /// Further routes (data movement's operations), asked first.
    public let providers: [any AdminRouteProvider]
    /// Routes the node's subsystems registered (snapshots, repair, …), served off the loop.
    public let actions: AdminActions
    /// Live peers' clock offsets from this node by address, ms (the status report's column).
    public let clockOffsets: @Sendable () -> [String: Double]

    public init(snapshot: @escaping @Sendable () -> MembershipSnapshot, metrics: MetricsRegistry, providers: [any AdminRouteProvider] = [],
                actions: AdminActions = AdminActions(), clockOffsets: @escaping @Sendable () -> [String: Double] = { [:] }) {
        self.snapshot = snapshot
        self.clockOffsets = clockOffsets
        self.metrics = metrics
        self.providers = providers
        self.actions = actions
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
        case "/":
            let more = actions.listing.map { ", " + $0 }.joined()
            return HTTPResponse(status: 200, text: "basalt admin endpoint: GET /status, /ring (?format=json), /metrics\(more)\n")
        default:
            return .error(404, "no such path \(request.path); try /status, /ring or /metrics")
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
