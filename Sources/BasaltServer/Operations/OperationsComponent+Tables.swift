import BasaltCluster
import BasaltCore
import BasaltStorage

/// `basalt admin status KEYSPACE`, `tablehistograms` and the compaction throttle.
extension OperationsComponent {
    func status(_ request: HTTPRequest) -> HTTPResponse {
        guard let context = lock.withLock({ context }) else { return .error(503, "the node is not started") }
        let snapshot = context.membership()
        let offsets = context.clockOffsets.offsetsMillis()
        guard let name = request.queryValue("keyspace").flatMap({ $0.isEmpty ? nil : $0 }) else {
            return .report(StatusReport(snapshot, clockOffsetsMillis: offsets, mode: mode), format: request.queryValue("format")) { $0.text }
        }
        guard let keyspace = schema()?.keyspace(name) else { return .error(400, "keyspace \(name) does not exist") }
        let local = NodeIdentity(hostId: context.hostId, address: snapshot.localAddress)
        let owned = EffectiveOwnership.compute(ring: snapshot.ring, replication: keyspace.params.replication, localNode: local)
        let report = StatusReport(snapshot, clockOffsetsMillis: offsets, keyspace: name, effectiveOwnership: owned, mode: mode)
        return .report(report, format: request.queryValue("format")) { $0.text }
    }

    func tableHistograms(_ request: HTTPRequest) -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        switch tables(request) {
        case let .refused(response): return response
        case let .tables(tables):
            guard tables.count == 1, let t = tables.first else { return .error(400, "tablehistograms needs one table: KEYSPACE.TABLE or KEYSPACE TABLE") }
            guard let h = try? engine.histograms(tableId: t.id) else { return .error(503, "table \(t.keyspace).\(t.name) is not open here") }
            let report = TableHistogramsReport(keyspace: t.keyspace, table: t.name, histograms: h,
                                               partitions: (try? engine.partitionFigures(tableId: t.id)) ?? [])
            return .report(report, format: request.queryValue("format")) { $0.text }
        }
    }

    func compactionThroughput(_ request: HTTPRequest) -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        let report = CompactionThroughputReport(megabytesPerSecond: engine.compactionThroughputBytesPerSecond >> 20)
        return .report(report, format: request.queryValue("format")) { $0.text }
    }

    func setCompactionThroughput(_ request: HTTPRequest) -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        guard let text = request.queryValue("mb"), let mb = Int(text), mb >= 0, mb < 1 << 30 else {
            return .error(400, "setcompactionthroughput needs a whole number of MB/s, 0 for unthrottled")
        }
        engine.setCompactionThroughput(bytesPerSecond: mb << 20)
        lock.withLock { context }?.logger.notice("compaction throughput set", metadata: ["mb_per_sec": "\(mb)"])
        return HTTPResponse(status: 200, text: "compaction throughput set to \(CompactionThroughputReport.describe(mb))\n")
    }
}

/// `basalt admin getcompactionthroughput`.
struct CompactionThroughputReport: Encodable {
    /// MiB per second (the unit of `compaction_throughput_mb_per_sec`); 0 = unthrottled.
    var megabytesPerSecond: Int
    var text: String { "Current compaction throughput: \(Self.describe(megabytesPerSecond))\n" }

    static func describe(_ mb: Int) -> String { mb == 0 ? "unthrottled (0)" : "\(mb) MB/s" }
}

/// `basalt admin tablehistograms KS.T`, laid out as `nodetool tablehistograms`: per percentile,
/// local read and write latency (µs), SSTables touched per read, partition size (bytes) and cells per
/// partition read. Latencies, SSTables and cells are bucket bounds ("at most"); the partition size
/// is estimated from each live SSTable's mean, weighted by its partition count.
struct TableHistogramsReport: Encodable {
    struct Row: Encodable {
        var percentile: String
        var readLatencyMicros: Double?
        var writeLatencyMicros: Double?
        var sstables: Double?
        var partitionSizeBytes: Double?
        var cellCount: Double?
    }

    static let percentiles: [(String, Double)] = [("50%", 0.5), ("75%", 0.75), ("95%", 0.95), ("98%", 0.98), ("99%", 0.99), ("Min", 0), ("Max", 1)]
    var keyspace: String
    var table: String
    var reads: UInt64
    var writes: UInt64
    var rows: [Row]

    init(keyspace: String, table: String, histograms h: TableHistograms, partitions: [SSTablePartitionFigures]) {
        self.keyspace = keyspace
        self.table = table
        let read = h.readLatency.snapshot(), write = h.writeLatency.snapshot()
        let sstables = h.sstablesPerRead.snapshot(), cells = h.cellsPerRead.snapshot()
        reads = read.count
        writes = write.count
        func value(_ s: BucketHistogram.Snapshot, _ q: Double, divisor: Double = 1) -> Double? {
            s.quantileUpperBound(q).flatMap { $0 == .max ? nil : Double($0) / divisor }
        }
        rows = Self.percentiles.map { name, q in
            Row(percentile: name, readLatencyMicros: value(read, q, divisor: 1000), writeLatencyMicros: value(write, q, divisor: 1000),
                sstables: value(sstables, q), partitionSizeBytes: Self.weightedQuantile(partitions, q), cellCount: value(cells, q))
        }
    }

    /// The `q` quantile of partition size over all partitions, each SSTable's taken as its mean.
    static func weightedQuantile(_ figures: [SSTablePartitionFigures], _ q: Double) -> Double? {
        let sorted = figures.filter { $0.partitions > 0 }.sorted { $0.meanPartitionBytes < $1.meanPartitionBytes }
        let total = sorted.reduce(0) { $0 + $1.partitions }
        guard total > 0 else { return nil }
        let rank = max(1, Int((Double(total) * q).rounded(.up)))
        var seen = 0
        for f in sorted {
            seen += f.partitions
            if seen >= rank { return Double(f.meanPartitionBytes) }
        }
        return sorted.last.map { Double($0.meanPartitionBytes) }
    }

    var text: String {
        func cell(_ v: Double?) -> String { v.map { "\(Int($0.rounded()))" } ?? "-" }
        let body = rows.map { [$0.percentile, cell($0.readLatencyMicros), cell($0.writeLatencyMicros), cell($0.sstables), cell($0.partitionSizeBytes), cell($0.cellCount)] }
        return "\(keyspace)/\(table) histograms\n"
            + StatusReport.table(header: ["Percentile", "Read Latency", "Write Latency", "SSTables", "Partition Size", "Cell Count"],
                                 rows: [["", "(micros)", "(micros)", "", "(bytes)", ""]] + body)
            + "local reads: \(reads), local writes: \(writes)\n"
    }
}
