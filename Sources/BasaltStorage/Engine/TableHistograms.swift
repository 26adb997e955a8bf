import BasaltCore

/// One table's local request figures, as `nodetool tablehistograms` shows them: local read and write
/// latency (nanoseconds, exported in seconds), SSTables touched per partition read (those whose
/// token range and bloom filter let the key through) and cells per partition read.
///
/// Recording is two relaxed atomic adds per observation (``BucketHistogram``): the handles live in the
/// table's store, so the read and write paths do no lookup.
public final class TableHistograms: Sendable {
    public let readLatency = BucketHistogram.latency()
    public let writeLatency = BucketHistogram.latency()
    public let sstablesPerRead = BucketHistogram(upperBounds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17, 20, 24, 29, 35, 42, 50, 60, 72, 86, 103, 124])
    public let cellsPerRead = BucketHistogram(upperBounds: TableHistograms.sizeBounds(upTo: 1 << 20))

    init() {}

    /// 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, … up to `limit`: steps of about 20 %, as Cassandra's estimated
    /// histograms use for sizes and counts.
    public static func sizeBounds(upTo limit: UInt64) -> [UInt64] {
        var bounds: [UInt64] = [1]
        while bounds.last! < limit {
            let last = bounds.last!
            bounds.append(max(last + 1, last * 6 / 5))
        }
        return bounds
    }
}

/// One SSTable's partitions, for a partition-size estimate (the metadata keeps a count and the data
/// stream's length, not a histogram).
public struct SSTablePartitionFigures: Sendable, Equatable {
    public var partitions: Int
    /// Uncompressed data bytes per partition, on average.
    public var meanPartitionBytes: Int
}

extension StorageEngine {
    /// The local request histograms of a table.
    public func histograms(tableId: UUIDValue) throws -> TableHistograms { try table(tableId).histograms }

    /// Each live SSTable's partition count and mean partition size.
    public func partitionFigures(tableId: UUIDValue) throws -> [SSTablePartitionFigures] {
        try table(tableId).view.sstables.map { s in
            SSTablePartitionFigures(partitions: s.stats.partitionCount,
                                    meanPartitionBytes: s.stats.partitionCount > 0 ? s.stats.uncompressedSize / s.stats.partitionCount : 0)
        }
    }
}
