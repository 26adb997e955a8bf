import BasaltCluster
import BasaltCore
import CoreMetrics

/// This node's vector index searches, timed: every local search (for the node's own coordinator or
/// for a peer's) is recorded in the swift-metrics timer `basalt_vector_index_search_seconds`, a
/// Prometheus histogram on `/metrics`. The timer is made once; a search costs two clock readings and
/// one histogram update more.
struct TimedVectorSearch: LocalVectorSearch {
    let base: any LocalVectorSearch
    let clock: any BasaltCore.Clock
    let latency: Timer
    let failures: Counter

    init(_ base: any LocalVectorSearch, clock: any BasaltCore.Clock, factory: any MetricsFactory) {
        self.base = base
        self.clock = clock
        latency = Timer(label: "basalt_vector_index_search_seconds", dimensions: [], factory: factory)
        failures = Counter(label: "basalt_vector_index_search_failures_total", dimensions: [], factory: factory)
    }

    func nearestRows(_ command: NearestRowsCommand) throws -> [NearestRow] {
        let started = clock.monotonicNanos()
        defer { latency.recordNanoseconds(clock.monotonicNanos() &- started) }
        do { return try base.nearestRows(command) } catch {
            failures.increment()
            throw error
        }
    }
}
