import ArgumentParser
import BasaltCore
import BasaltStorage
import Foundation
import Logging
import Synchronization

/// `basalt bench storage`: the storage engine under RocksDB `db_bench`'s workloads (fillrandom,
/// readrandom, seekrandom) with the same key and value shapes, printing db_bench-style lines.
///
/// Keys are db_bench's: the key number as 8 big-endian bytes padded with '0' to `--key-size`, drawn
/// uniformly from [0, num). Values are db_bench's compressible strings (half random bytes, half
/// repetition). Each write is one cell in a key-value table (`key blob PRIMARY KEY, value blob`).
/// seekrandom is a token-range scan of one partition starting at a random key's token.
struct BenchStorageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Storage engine benchmark mirroring db_bench (fillrandom, readrandom, seekrandom)."
    )

    @Option(help: "Comma-separated: fillrandom, fillseq, readrandom, seekrandom, waitcompaction, compact, stats.")
    var benchmarks = "fillrandom,readrandom,seekrandom,stats"
    @Option(help: "Number of keys (and of operations per benchmark).")
    var num = 1_000_000
    @Option(name: .customLong("key-size"))
    var keySize = 16
    @Option(name: .customLong("value-size"))
    var valueSize = 100
    @Option(help: "Data directory (default: a new directory under /tmp, deleted afterwards).")
    var dir: String?
    @Option(help: "Commit-log sync: periodic (fsync every 10 s, as db_bench's sync=0), group or batch.")
    var sync = "periodic"
    @Option(name: .customLong("chunk-kib"), help: "SSTable chunk length in KiB.")
    var chunkKiB = 16
    @Option(help: "Snappy compression on or off.")
    var compression = "on"
    @Option(name: .customLong("memtable-mib"))
    var memtableMiB = 64
    @Option(name: .customLong("memtable-total-mib"), help: "All memtables together: the largest is flushed above it, writes wait above twice it.")
    var memtableTotalMiB = 512
    @Option(name: .customLong("cache-mib"), help: "Decompressed-chunk cache size.")
    var cacheMiB = 8
    @Option(name: .customLong("compaction-mib"), help: "Compaction throughput limit, MiB/s (0: unlimited).")
    var compactionMiB = 0
    @Option(help: "Random seed.")
    var seed: UInt64 = 301
    @Option(help: "Writer threads for fillrandom (with --sync group, concurrent writers share fsyncs).")
    var threads = 1

    static let schemaId = UUIDValue(msb: 0xBE4C, lsb: 1)

    func run() throws {
        var logger = Logger(label: "basalt.bench.storage")
        logger.logLevel = .warning
        let path = dir ?? "/tmp/basalt-bench-storage-\(getpid())"
        var params = TableParams()
        params.chunkLengthKiB = chunkKiB
        params.compressionEnabled = compression != "off"
        let schema = TableSchema(keyspace: "bench", name: "kv", id: Self.schemaId, columns: [
            ColumnDefinition(name: "key", type: .blob, kind: .partitionKey, position: 0),
            ColumnDefinition(name: "value", type: .blob, kind: .regular),
        ], params: params)
        var config = StorageConfig()
        switch sync {
        case "group": config.commitLogSync = .default
        case "batch": config.commitLogSync = .batch
        default: config.commitLogSync = .periodic(intervalNanos: 10_000_000_000)
        }
        config.memtableSizeLimitBytes = memtableMiB << 20
        config.memtableTotalLimitBytes = memtableTotalMiB << 20
        config.chunkCacheBytes = cacheMiB << 20
        config.compactionThroughputBytesPerSecond = compactionMiB << 20
        let (engine, _) = try StorageEngine.open(directory: path, config: config, tables: [schema], logger: logger)
        defer {
            engine.close(flush: false)
            if dir == nil { try? FileManager.default.removeItem(atPath: path) }
        }
        print("Keys:       \(keySize) bytes each")
        print("Values:     \(valueSize) bytes each (\(valueSize / 2) bytes after compression)")
        print("Entries:    \(num)")
        print("Compression: \(params.compressionEnabled ? "Snappy" : "none"), chunk \(chunkKiB) KiB, commit log \(sync)")
        var rng = SplitMix64(seed: seed)
        let values = CompressibleValues(seed: seed, size: 1 << 20)
        var key = [UInt8](repeating: UInt8(ascii: "0"), count: max(8, keySize))
        func makeKey(_ k: Int) {
            var be = UInt64(k).bigEndian
            withUnsafeBytes(of: &be) { b in for i in 0 ..< 8 { key[i] = b[i] } }
        }
        var timestamp: Int64 = 1
        for name in benchmarks.split(separator: ",").map(String.init) {
            let start = DispatchTime.now().uptimeNanoseconds
            var ops = 0
            var found = 0
            var bytes = 0
            switch name {
            case "fillrandom" where threads > 1:
                let per = num / threads
                let group = DispatchGroup()
                let failures = Atomic<Int>(0)
                for t in 0 ..< threads {
                    group.enter()
                    Thread.detachNewThread { [keySize, valueSize, seed] in
                        defer { group.leave() }
                        var r = SplitMix64(seed: seed &+ UInt64(t) &* 7919)
                        var k = [UInt8](repeating: UInt8(ascii: "0"), count: max(8, keySize))
                        var valuePos = t * 997
                        for i in 0 ..< per {
                            var be = UInt64(r.next(below: num)).bigEndian
                            withUnsafeBytes(of: &be) { b in for j in 0 ..< 8 { k[j] = b[j] } }
                            let v = values.slice(&valuePos, valueSize)
                            let ts = Int64(t) << 40 | Int64(i + 1)
                            do {
                                try engine.apply(Mutation(keyspace: "bench", table: "kv", tableId: Self.schemaId, partitionKey: k,
                                                          update: PartitionUpdate(rows: [Row(clustering: [], cells: [.live(column: "value", timestamp: ts, value: v)])])))
                            } catch { failures.add(1, ordering: .relaxed) }
                        }
                    }
                }
                group.wait()
                if failures.load(ordering: .relaxed) > 0 { throw ValidationError("\(failures.load(ordering: .relaxed)) writes failed") }
                ops = per * threads
                bytes = ops * (keySize + valueSize)
            case "fillrandom", "fillseq":
                var valuePos = 0
                for i in 0 ..< num {
                    makeKey(name == "fillseq" ? i : rng.next(below: num))
                    let v = values.slice(&valuePos, valueSize)
                    timestamp += 1
                    try engine.apply(Mutation(keyspace: "bench", table: "kv", tableId: Self.schemaId, partitionKey: key,
                                              update: PartitionUpdate(rows: [Row(clustering: [], cells: [.live(column: "value", timestamp: timestamp, value: v)])])))
                    bytes += keySize + valueSize
                }
                ops = num
            case "readrandom":
                for _ in 0 ..< num {
                    makeKey(rng.next(below: num))
                    let r = try engine.read(ReadCommand(keyspace: "bench", table: "kv", tableId: Self.schemaId, partitionKey: key, nowSeconds: 0))
                    if let c = r.update.rows.first?.cells.first, !c.isTombstone {
                        found += 1
                        bytes += keySize + c.value.count
                    }
                }
                ops = num
            case "seekrandom":
                for _ in 0 ..< num {
                    makeKey(rng.next(below: num))
                    let t = Murmur3.token(key)
                    let after = ScanPosition(token: Token(t.value &- 1), partitionKey: [])
                    let r = try engine.scan(TokenScanCommand(keyspace: "bench", table: "kv", tableId: Self.schemaId,
                                                             range: TokenRange(start: .min, end: .min), after: t.value == .min ? nil : after,
                                                             pageSize: 1, nowSeconds: 0))
                    if let p = r.partitions.first, p.partitionKey == key { found += 1 }
                }
                ops = num
            case "waitcompaction":
                engine.waitForBackgroundWork()
            case "compact":
                try engine.flush(tableId: Self.schemaId)
                try engine.compact(tableId: Self.schemaId)
            case "stats":
                let c = engine.counters
                print(String(format: "stats        : %d SSTables, %d flushes (%.1f MB), %d compactions (%.1f MB written), write amplification %.2f (SSTable bytes per flushed byte), %.2f (disk bytes incl. commit log and its preallocation per user byte), commit log %.1f MB (%.1f MB zeros, %d segments reused), bloom negatives %d, false positives %d, seek index %.1f MB, peak RSS %d MB, flushes took %.2f s on average",
                             c.liveSSTables, c.flushes, Double(c.bytesFlushed) / 1e6, c.compactions, Double(c.compactionBytesWritten) / 1e6,
                             c.compactionWriteAmplification,
                             Double(c.commitLogBytes + c.commitLogPreallocatedBytes + c.bytesFlushed + c.compactionBytesWritten) / Double(max(1, num * (keySize + valueSize))),
                             Double(c.commitLogBytes) / 1e6, Double(c.commitLogPreallocatedBytes) / 1e6, c.commitLogSegmentsReused,
                             c.bloomNegatives, c.bloomFalsePositives, Double(c.seekIndexBytes) / 1e6, peakResidentMiB(),
                             { let f = engine.flushDurations.snapshot(); return Double(f.sum) / 1e9 / Double(max(1, f.count)) }()))
                continue
            default:
                throw ValidationError("unknown benchmark \(name)")
            }
            let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard ops > 0 else {
                print(pad(name) + String(format: " : %.3f seconds", secs))
                continue
            }
            var line = pad(name) + String(format: " : %11.3f micros/op %ld ops/sec %.3f seconds %ld operations;", secs * 1e6 / Double(ops), Int(Double(ops) / secs), secs, ops)
            if bytes > 0 { line += String(format: " %6.1f MB/s", Double(bytes) / 1_048_576 / secs) }
            if name == "readrandom" || name == "seekrandom" { line += " (\(found) of \(ops) found)" }
            print(line)
            fflush(nil)
        }
    }

    func pad(_ s: String) -> String { s.count >= 12 ? s : s + String(repeating: " ", count: 12 - s.count) }

    func peakResidentMiB() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
        }
        return 0
    }
}

extension SplitMix64 {
    /// A uniform integer in [0, n) (modulo bias is negligible for benchmark key choice).
    mutating func next(below n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// db_bench-style value data: pieces of 100 bytes whose first half is random printable bytes and
/// second half repeats it, so Snappy compresses values to about half.
struct CompressibleValues {
    let data: [UInt8]

    init(seed: UInt64, size: Int) {
        var r = SplitMix64(seed: seed ^ 0xABCDEF)
        var d: [UInt8] = []
        d.reserveCapacity(size + 100)
        while d.count < size {
            let half = (0 ..< 50).map { _ in UInt8(32 + r.next(below: 95)) }
            d += half
            d += half
        }
        data = d
    }

    func slice(_ pos: inout Int, _ n: Int) -> [UInt8] {
        if pos + n > data.count { pos = 0 }
        defer { pos += n }
        return Array(data[pos ..< pos + n])
    }
}
