import BasaltCore
import CoreMetrics
import Prometheus

/// The node's metrics, served as Prometheus text on the admin endpoint's `/metrics`.
///
/// Two sources, one page:
/// - **swift-metrics** handles (`Counter`, `Gauge`, `Timer` from CoreMetrics) made with ``factory``,
///   backed by this node's own ``prometheus`` registry (swift-prometheus). Event-driven figures of the
///   server layer use these: the handle is made once, when the subsystem starts, and recording is an
///   atomic update with no lookup. The factory is the node's, not the process-wide `MetricsSystem`, so
///   several nodes in one process (tests) keep apart; `basalt server` also bootstraps `MetricsSystem`
///   with it, so libraries using the global API report on the same page.
/// - **Collectors** registered by each subsystem (messaging, gossip and membership at start-up;
///   storage, the coordinator and the CQL server when they are added): a collector reads its live
///   counters (relaxed atomics and ``BucketHistogram``s in the lower layers, which do not depend on a
///   metrics API) and writes its families when the endpoint is scraped, so nothing is computed
///   between scrapes. Collectors run on the admin endpoint's loop: they must be quick and must not
///   block.
///
/// A family name belongs to one source only.
public final class MetricsRegistry: @unchecked Sendable {
    // @unchecked: `collectors` is guarded by `lock`; the Prometheus registry is thread-safe.
    public typealias Collector = @Sendable (inout PrometheusText) -> Void

    private let lock = Lock()
    private var collectors: [(name: String, collect: Collector)] = []
    /// The swift-prometheus registry behind ``factory``.
    public let prometheus = PrometheusCollectorRegistry()
    /// The swift-metrics factory of this node: `Timer(label:dimensions:factory:)` and the like.
    public let factory: PrometheusMetricsFactory

    public init() {
        var factory = PrometheusMetricsFactory(registry: prometheus)
        factory.defaultDurationHistogramBuckets = MetricsRegistry.latencyBuckets
        self.factory = factory
    }

    /// 1-2.5-5 steps from 10 µs to 10 s, the bounds of ``BucketHistogram/latency()``, for timers.
    public static let latencyBuckets: [Duration] = {
        var out: [Duration] = []
        var decade = 10_000
        while decade <= 1_000_000_000 {
            out += [.nanoseconds(decade), .nanoseconds(decade * 5 / 2), .nanoseconds(decade * 5)]
            decade *= 10
        }
        return out + [.seconds(10)]
    }()

    /// Adds a collector; `name` (the subsystem) orders the output. Registering a name again replaces
    /// its collector.
    public func register(_ name: String, _ collect: @escaping Collector) {
        lock.withLock {
            collectors.removeAll { $0.name == name }
            collectors.append((name, collect))
            collectors.sort { $0.name < $1.name }
        }
    }

    /// Every collector's output, in name order, then the swift-metrics families.
    public func render() -> String {
        let list = lock.withLock { collectors }
        var out = PrometheusText()
        for c in list { c.collect(&out) }
        return out.text + prometheus.emitToString()
    }
}
