import BasaltCore

/// The node's metrics, served as Prometheus text on the admin endpoint's `/metrics`.
///
/// Each subsystem registers a collector once (messaging, gossip and membership at start-up; storage,
/// the coordinator and the CQL server when they are added). A collector reads its live counters and
/// writes its families when the endpoint is scraped, so nothing is computed between scrapes.
/// Collectors run on the admin endpoint's loop: they must be quick and must not block.
public final class MetricsRegistry: @unchecked Sendable {
    // @unchecked: `collectors` is guarded by `lock`.
    public typealias Collector = @Sendable (inout PrometheusText) -> Void

    private let lock = Lock()
    private var collectors: [(name: String, collect: Collector)] = []

    public init() {}

    /// Adds a collector; `name` (the subsystem) orders the output. Registering a name again replaces
    /// its collector.
    public func register(_ name: String, _ collect: @escaping Collector) {
        lock.withLock {
            collectors.removeAll { $0.name == name }
            collectors.append((name, collect))
            collectors.sort { $0.name < $1.name }
        }
    }

    /// Every collector's output, in name order.
    public func render() -> String {
        let list = lock.withLock { collectors }
        var out = PrometheusText()
        for c in list { c.collect(&out) }
        return out.text
    }
}
