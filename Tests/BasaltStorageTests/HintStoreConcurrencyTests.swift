import BasaltCore
@testable import BasaltStorage
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Writers on several threads, to shared and to their own targets, while one delivery thread per
/// target reads and delivers, segments rotate and are deleted, and syncs run.
@Suite("HintStore concurrency")
struct HintStoreConcurrencyTests {
    typealias T = HintTesting

    /// What the threads report (guarded by `lock`).
    final class Shared: @unchecked Sendable {
        // @unchecked: every field is accessed with `lock` held.
        let lock = Lock()
        var writersDone = 0
        var delivered: [UUIDValue: [Hint]] = [:]
        var failures: [String] = []
    }

    @Test func everyHintIsDeliveredOnceInWriteOrder() throws {
        var config = T.config(segmentBytes: 16 << 10)
        config.syncIntervalNanos = 1_000_000
        try T.withStore(config) { store, dir in
            let writers = 4, perWriter = 5000
            let own = (0 ..< writers).map { UUIDValue(msb: 0x5000 + UInt64($0), lsb: 1) }
            let targets = [T.a] + own
            let shared = Shared()
            var threads: [WorkerThread] = []
            for w in 0 ..< writers {
                threads.append(WorkerThread(name: "hint-writer") {
                    var g = SplitMix64(seed: UInt64(w + 1))
                    for i in 0 ..< perWriter {
                        // Even hints to the shared target, odd ones to the writer's own.
                        let target = i % 2 == 0 ? T.a : own[w]
                        let m = T.mutation(i, tag: UInt8(w), size: Int.random(in: 20 ... 200, using: &g))
                        do {
                            try store.write(mutation: m, for: target, createdAtMicros: Int64(i))
                            if i % 1000 == 999 { try store.sync() }
                        } catch {
                            shared.lock.withLock { shared.failures.append("writer \(w) hint \(i): \(error)") }
                        }
                    }
                    shared.lock.withLock { shared.writersDone += 1 }
                })
            }
            for (n, target) in targets.enumerated() {
                threads.append(WorkerThread(name: "hint-reader") {
                    var g = SplitMix64(seed: UInt64(100 + n))
                    var got: [Hint] = []
                    while true {
                        let finished = shared.lock.withLock { shared.writersDone == writers }
                        if let batch = store.nextBatch(for: target, maxBytes: Int.random(in: 1 ... 20_000, using: &g)) {
                            got += batch.hints
                            store.markDelivered(batch)
                        } else if finished {
                            break
                        } else {
                            usleep(200)
                        }
                    }
                    shared.lock.withLock { shared.delivered[target] = got }
                })
            }
            for t in threads { t.join() }
            #expect(shared.failures.isEmpty)
            for target in targets {
                let hints = shared.delivered[target] ?? []
                var byWriter: [UInt8: [Int]] = [:]
                for h in hints {
                    let (tag, index) = T.decode(h.mutation)
                    byWriter[tag, default: []].append(index)
                    #expect(h.createdAtMicros == Int64(index))
                }
                for w in 0 ..< writers {
                    let expected: [Int] = if target == T.a {
                        Array(stride(from: 0, to: perWriter, by: 2))
                    } else {
                        target == own[w] ? Array(stride(from: 1, to: perWriter, by: 2)) : []
                    }
                    #expect((byWriter[UInt8(w)] ?? []) == expected, "writer \(w) to \(target)")
                }
            }
            let c = store.counters
            #expect(c.written == writers * perWriter && c.delivered == writers * perWriter)
            #expect(c.pendingHints == 0 && c.segments == 0 && c.diskBytes == 0)
            #expect(c.segmentsCreated == c.segmentsDeleted && c.segmentsCreated > 20)
            let left = try FileSystem.list(dir.path)
            #expect(left == ["LOCK"])
        }
    }
}
