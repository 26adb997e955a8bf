import Synchronization

/// A distribution of non-negative integer observations (latencies in nanoseconds, sizes in bytes)
/// over fixed bucket upper bounds, shaped for Prometheus' histogram type: cumulative
/// `_bucket{le=…}` counts, `_sum` and `_count`.
///
/// Cheap enough for hot paths: `record` is a binary search over the bounds and two relaxed atomic
/// adds, with no lock and no allocation; any thread may record while another takes a snapshot.
/// A snapshot is not transactional: its sum may include an observation its buckets do not yet
/// show, which Prometheus tolerates.
public final class BucketHistogram: @unchecked Sendable {
    // @unchecked: `counts` points at atomics allocated once in init and freed in deinit; every
    // access after init goes through them.

    /// Upper bounds of the buckets in the recorded unit, strictly ascending; a last `+Inf` bucket
    /// is implied.
    public let upperBounds: [UInt64]
    /// Divisor from the recorded unit to the exported one (1e9 for nanoseconds exported as
    /// seconds, as Prometheus names them).
    public let exportDivisor: Double
    private let counts: UnsafeMutablePointer<Atomic<UInt64>>
    private let total = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - upperBounds: bucket bounds in the recorded unit (sorted and deduplicated here).
    ///   - exportDivisor: what bounds and the sum are divided by when exported.
    public init(upperBounds: [UInt64], exportDivisor: Double = 1) {
        let sorted = Array(Set(upperBounds)).sorted()
        self.upperBounds = sorted
        self.exportDivisor = exportDivisor
        counts = .allocate(capacity: sorted.count + 1)
        for i in 0 ... sorted.count { (counts + i).initialize(to: Atomic<UInt64>(0)) }
    }

    deinit {
        _ = counts.deinitialize(count: upperBounds.count + 1)
        counts.deallocate()
    }

    /// Latencies in nanoseconds exported in seconds, 1-2.5-5 steps from 10 µs to 10 s: fine enough
    /// to read a p99 of a few milliseconds, coarse enough to stay a few dozen series.
    public static func latency() -> BucketHistogram {
        var bounds: [UInt64] = []
        var decade: UInt64 = 10_000
        while decade <= 1_000_000_000 {
            bounds += [decade, decade * 5 / 2, decade * 5]
            decade *= 10
        }
        bounds.append(10_000_000_000)
        return BucketHistogram(upperBounds: bounds, exportDivisor: 1e9)
    }

    /// Adds one observation.
    @inline(__always)
    public func record(_ value: UInt64) {
        var lo = 0, hi = upperBounds.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if value <= upperBounds[mid] { hi = mid } else { lo = mid + 1 }
        }
        counts[lo].add(1, ordering: .relaxed)
        total.add(value, ordering: .relaxed)
    }

    /// Adds the time since `startNanos` (a monotonic reading) as one observation.
    @inline(__always)
    public func recordElapsed(since startNanos: UInt64, now: UInt64) {
        record(now >= startNanos ? now - startNanos : 0)
    }

    /// The counts so far.
    public func snapshot() -> Snapshot {
        var buckets: [UInt64] = []
        buckets.reserveCapacity(upperBounds.count + 1)
        for i in 0 ... upperBounds.count { buckets.append(counts[i].load(ordering: .relaxed)) }
        return Snapshot(upperBounds: upperBounds, exportDivisor: exportDivisor, bucketCounts: buckets, sum: total.load(ordering: .relaxed))
    }

    /// A copy of a histogram's counts.
    public struct Snapshot: Hashable, Sendable {
        public var upperBounds: [UInt64]
        public var exportDivisor: Double
        /// Per bucket (not cumulative), the last one being `+Inf`.
        public var bucketCounts: [UInt64]
        /// Sum of the observations in the recorded unit.
        public var sum: UInt64

        public var count: UInt64 { bucketCounts.reduce(0, +) }

        /// The smallest bucket bound at or above the `q` quantile (0...1) of the observations, in
        /// the recorded unit; nil without observations, `UInt64.max` when it falls in `+Inf`.
        public func quantileUpperBound(_ q: Double) -> UInt64? {
            let n = count
            guard n > 0 else { return nil }
            let rank = UInt64((Double(n) * min(1, max(0, q))).rounded(.up))
            var seen: UInt64 = 0
            for (i, c) in bucketCounts.enumerated() {
                seen += c
                if seen >= max(1, rank) { return i < upperBounds.count ? upperBounds[i] : .max }
            }
            return .max
        }
    }
}
