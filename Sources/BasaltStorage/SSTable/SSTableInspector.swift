import BasaltCore

/// Offline inspection of SSTable files (`basalt sstable verify|dump`): every check a reader makes,
/// over every chunk and partition, reported instead of thrown.
public enum SSTableInspector {
    /// What verifying one SSTable found.
    public struct Report: Sendable, CustomStringConvertible {
        public var dataPath: String
        public var partitions = 0
        public var chunks = 0
        public var statistics: SSTableStatistics?
        /// Problems found, each naming file and offset; empty when the SSTable is intact.
        public var errors: [StorageError] = []

        public var isIntact: Bool { errors.isEmpty }

        public var description: String {
            var s = "\(dataPath): \(chunks) chunks, \(partitions) partitions"
            if let st = statistics {
                s += ", tokens [\(st.minToken), \(st.maxToken)], timestamps [\(st.minTimestamp), \(st.maxTimestamp)], \(st.tombstoneCount) tombstones"
            }
            s += errors.isEmpty ? ": OK" : ": \(errors.count) error(s)"
            for e in errors { s += "\n  \(e)" }
            return s
        }
    }

    /// The SSTable descriptor for any of its component paths.
    public static func descriptor(forPath path: String) throws -> SSTableDescriptor {
        guard let (d, _) = SSTableDescriptor.parse(path: path) else {
            throw StorageError.invalid("\(path) is not an SSTable component (expected bs-<generation>-<Component>)")
        }
        return d
    }

    /// Checks every component's checksum and structure, every chunk's CRC, that index and data
    /// agree, that partitions are in (token, key) order and that every body decodes.
    public static func verify(path: String) -> Report {
        var report = Report(dataPath: path)
        let d: SSTableDescriptor
        do { d = try descriptor(forPath: path) } catch let e as StorageError {
            report.errors.append(e)
            return report
        } catch { return report }
        report.dataPath = d.path(.data)
        let reader: SSTableReader
        do { reader = try SSTableReader(descriptor: d, cache: nil, persistsBuiltFilter: false) } catch let e as StorageError {
            report.errors.append(e)
            return report
        } catch {
            report.errors.append(.invalid("\(error)"))
            return report
        }
        report.statistics = reader.stats
        report.chunks = reader.chunkCount
        for i in 0 ..< reader.chunkCount {
            do { _ = try reader.chunk(i, useCache: false) } catch let e as StorageError { report.errors.append(e) } catch {}
        }
        var previous: (Int64, [UInt8])?
        do {
            try reader.forEachEntry { token, key, position, rowIndex in
                if let p = previous, p.0 > token || (p.0 == token && !p.1.lexicographicallyPrecedes(key)) {
                    report.errors.append(.corrupt(path: d.path(.index), offset: 0, reason: "partition \(key.hexString) out of order after \(p.1.hexString)"))
                }
                if Murmur3.token(key).value != token {
                    report.errors.append(.corrupt(path: d.path(.index), offset: 0, reason: "partition \(key.hexString) stored with token \(token), its key hashes to \(Murmur3.token(key))"))
                }
                previous = (token, key)
                do {
                    let p = try key.withUnsafeBytes { try reader.readPartition(at: position, key: $0, useCache: false) }
                    if let ri = rowIndex {
                        // Every block must start at a row boundary with the clustering it names.
                        for (i, first) in ri.firstClusterings.enumerated() {
                            let start = ClusteringSlice(start: ClusteringBound(first, inclusive: true), end: ClusteringBound(first, inclusive: true))
                            let ok = p.rows.contains { $0.clustering == first } && ri.offsets[i] < ri.bodyLength
                            if !ok { report.errors.append(.corrupt(path: d.path(.index), offset: 0, reason: "row index block \(i) of \(key.hexString) names a row the partition lacks (\(start))")) }
                        }
                    }
                    report.partitions += 1
                } catch let e as StorageError {
                    report.errors.append(e)
                }
            }
        } catch let e as StorageError {
            report.errors.append(e)
        } catch {
            report.errors.append(.invalid("\(error)"))
        }
        if report.partitions != reader.stats.partitionCount && report.errors.isEmpty {
            report.errors.append(.corrupt(path: d.path(.statistics), offset: 0, reason: "statistics count \(reader.stats.partitionCount) partitions, index has \(report.partitions)"))
        }
        return report
    }

    /// Calls `body` with each partition (key, token, content) in file order.
    public static func dump(path: String, _ body: (PartitionResult) throws -> Void) throws {
        let d = try descriptor(forPath: path)
        let reader = try SSTableReader(descriptor: d, cache: nil, persistsBuiltFilter: false)
        try reader.forEachEntry { token, key, position, _ in
            let p = try key.withUnsafeBytes { try reader.readPartition(at: position, key: $0, useCache: false) }
            try body(PartitionResult(partitionKey: key, token: Token(token), update: p))
        }
    }

    /// The statistics component of an SSTable.
    public static func statistics(path: String) throws -> SSTableStatistics {
        let d = try descriptor(forPath: path)
        return try SSTableStatistics.deserialize(FileSystem.readAll(d.path(.statistics)), path: d.path(.statistics))
    }
}
