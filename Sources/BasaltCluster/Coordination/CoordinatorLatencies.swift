import BasaltCore

/// How long the requests this node coordinates take, by kind and consistency level, in
/// nanoseconds: from the coordinator being asked to its answer (failures included). Every
/// histogram exists from the start, so recording never allocates or locks.
public final class CoordinatorLatencies: Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case read
        case write
        case rangeRead = "range_read"
    }

    private let histograms: [Kind: [ConsistencyLevel: BucketHistogram]]

    public init() {
        var all: [Kind: [ConsistencyLevel: BucketHistogram]] = [:]
        for kind in Kind.allCases {
            all[kind] = Dictionary(uniqueKeysWithValues: ConsistencyLevel.allCases.map { ($0, BucketHistogram.latency()) })
        }
        histograms = all
    }

    public func record(_ kind: Kind, _ level: ConsistencyLevel, since startNanos: UInt64, now: UInt64) {
        histograms[kind]?[level]?.recordElapsed(since: startNanos, now: now)
    }

    /// Every (kind, level) that saw a request, with its counts.
    public func seen() -> [(kind: Kind, level: ConsistencyLevel, snapshot: BucketHistogram.Snapshot)] {
        Kind.allCases.flatMap { kind in
            ConsistencyLevel.allCases.compactMap { level -> (Kind, ConsistencyLevel, BucketHistogram.Snapshot)? in
                guard let s = histograms[kind]?[level]?.snapshot(), s.count > 0 else { return nil }
                return (kind, level, s)
            }
        }
    }

    /// An empty snapshot with the latency buckets, made once (the start of every ``combined(_:)``).
    private static let emptyLatency = BucketHistogram.latency().snapshot()

    /// One kind's counts over every level.
    public func combined(_ kind: Kind) -> BucketHistogram.Snapshot {
        var out = Self.emptyLatency
        for level in ConsistencyLevel.allCases {
            guard let s = histograms[kind]?[level]?.snapshot() else { continue }
            for i in out.bucketCounts.indices { out.bucketCounts[i] += s.bucketCounts[i] }
            out.sum += s.sum
        }
        return out
    }
}
