import BasaltCore
@testable import BasaltStorage
import Foundation
import Testing

@Suite("Concurrency")
struct ConcurrencyTests {
    /// Writers, readers and scanners on several threads while memtables switch, flush and compact
    /// in the background: no read fails, no value goes backwards for a reader, and the final state
    /// holds every writer's last value.
    @Test func writersReadersAndBackgroundWork() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var params = TableParams()
        params.compaction = .sizeTiered(minThreshold: 2, maxThreshold: 4)
        params.chunkLengthKiB = 1
        let s = TestSchemas.keyValue(params: params)
        var c = StorageConfig()
        c.commitLogSync = .group(windowNanos: 200_000)
        c.memtableSizeLimitBytes = 16 << 10
        c.compactionThroughputBytesPerSecond = 0
        c.chunkCacheBytes = 32 << 10
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [s], logger: .test)
        defer { e.close() }
        let writers = 3, keysPerWriter = 20, rounds = 40
        let failures = FailureLog()
        let group = DispatchGroup()
        for w in 0 ..< writers {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for round in 1 ... rounds {
                    for k in 0 ..< keysPerWriter {
                        let m = Mutation(schema: s, partitionKey: Array("w\(w)-\(k)".utf8), update: PartitionUpdate(rows: [
                            Row(clustering: [], cells: [.live(column: "value", timestamp: Int64(round), value: TestSchemas.int32(round))]),
                        ]))
                        do { try e.apply(m) } catch { failures.add("write: \(error)") }
                    }
                }
            }
        }
        let done = Flag()
        for r in 0 ..< 2 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var seen: [String: Int32] = [:]
                var g = SplitMix64(seed: UInt64(r + 1))
                let cmp = ClusteringComparator(s)
                while !done.isSet {
                    let key = "w\(Int.random(in: 0 ..< writers, using: &g))-\(Int.random(in: 0 ..< keysPerWriter, using: &g))"
                    do {
                        let result = try e.read(ReadCommand(schema: s, partitionKey: Array(key.utf8), nowSeconds: 0))
                        if let v = result.live(now: 0, cmp).rows.first?.cells.first?.value {
                            var rd = ByteReader(v)
                            let n = try rd.readInt32()
                            if n < seen[key, default: 0] { failures.add("\(key) went back from \(seen[key]!) to \(n)") }
                            seen[key] = n
                        }
                        if Int.random(in: 0 ..< 20, using: &g) == 0 {
                            var after: ScanPosition?
                            var pages = 0
                            repeat {
                                let page = try e.scan(TokenScanCommand(schema: s, range: TokenRange(start: .min, end: .min), after: after, pageSize: 7, nowSeconds: 0))
                                after = page.next
                                pages += 1
                            } while after != nil && pages < 1000
                        }
                    } catch { failures.add("read: \(error)") }
                }
            }
        }
        // Writers finish first; then stop the readers.
        let writersDone = DispatchTime.now() + .seconds(120)
        while e.counters.writes < writers * keysPerWriter * rounds && DispatchTime.now() < writersDone { usleep(10_000) }
        done.set()
        #expect(group.wait(timeout: .now() + .seconds(60)) == .success)
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        e.waitForBackgroundWork()
        let cmp = ClusteringComparator(s)
        for w in 0 ..< writers {
            for k in 0 ..< keysPerWriter {
                let r = try e.read(ReadCommand(schema: s, partitionKey: Array("w\(w)-\(k)".utf8), nowSeconds: 0))
                #expect(r.live(now: 0, cmp).rows.first?.cells.first?.value == TestSchemas.int32(rounds))
            }
        }
        #expect(e.counters.flushes > 0)
    }

    @Test func throughputLimiterSleepsToTheRate() {
        let limiter = ThroughputLimiter(bytesPerSecond: 4 << 20)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0 ..< 128 { limiter.acquire(64 << 10) } // 8 MiB: 4 MiB of burst, then 1 s at 4 MiB/s
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        #expect(elapsed >= 0.9)
    }
}

final class FailureLog: @unchecked Sendable {
    // @unchecked: `items` is guarded by `lock`.
    private let lock = Lock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

final class Flag: @unchecked Sendable {
    // @unchecked: `value` is guarded by `lock`.
    private let lock = Lock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

@Suite("Memtable memory bound")
struct MemtableMemoryTests {
    @Test func globalLimitFlushesTheLargestMemtable() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let a = TestSchemas.keyValue(id: UUIDValue(msb: 7, lsb: 1))
        let b = TestSchemas.keyValue(id: UUIDValue(msb: 7, lsb: 2))
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 5_000_000)
        c.memtableSizeLimitBytes = 256 << 20
        c.memtableTotalLimitBytes = 1 << 20
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [a, b], logger: .test)
        defer { e.close() }
        var peak = 0
        for i in 0 ..< 8000 {
            try e.apply(kvMutation(a, i, value: [UInt8](repeating: 3, count: 300)))
            if i % 10 == 0 { try e.apply(kvMutation(b, i)) }
            peak = max(peak, e.memtableMemory.current)
        }
        e.waitForBackgroundWork()
        #expect(e.counters.flushes >= 2)
        #expect(peak <= 2 * (1 << 20) + (64 << 10))
        #expect(try e.sstablePaths(tableId: a.id).count >= 1)
        #expect(try kvValue(e, a, 7999) == [UInt8](repeating: 3, count: 300))
    }
}
