import BasaltCore
@testable import BasaltStorage
import Testing

/// Writing, reading back, delivering, limits and forgetting, in one process.
@Suite("HintStore")
struct HintStoreTests {
    typealias T = HintTesting

    @Test func hintsComeBackInWriteOrderPerTarget() throws {
        try T.withStore(T.config(segmentBytes: 8192)) { store, dir in
            for i in 0 ..< 300 {
                let target = [T.a, T.b, T.c][i % 3]
                try store.write(mutation: T.mutation(i, size: 10 + i % 50), for: target, createdAtMicros: Int64(i))
            }
            #expect(store.targets() == [T.a, T.b, T.c])
            for (n, target) in [T.a, T.b, T.c].enumerated() {
                let hints = T.drain(store, target, maxBytes: 500)
                let expected = Array(stride(from: n, to: 300, by: 3))
                #expect(T.indexes(hints) == expected)
                #expect(hints.map(\.createdAtMicros) == expected.map(Int64.init))
                #expect(hints.map(\.mutation) == expected.map { T.mutation($0, size: 10 + $0 % 50) })
            }
            #expect(store.targets().isEmpty)
            let c = store.counters
            #expect(c.written == 300 && c.delivered == 300 && c.pendingHints == 0 && c.pendingBytes == 0)
            #expect(c.bytesWritten == (0 ..< 300).reduce(0) { $0 + 10 + $1 % 50 })
            #expect(c.segments == 0 && c.diskBytes == 0 && c.segmentsDeleted == c.segmentsCreated)
        }
    }

    @Test func batchesAreBoundedByMaxBytesAndRepeatUntilDelivered() throws {
        try T.withStore() { store, dir in
            try T.write(store, T.a, 0 ..< 100)
            try store.write(mutation: T.mutation(100, size: 10_000), for: T.a, createdAtMicros: 0)
            let first = try #require(store.nextBatch(for: T.a, maxBytes: 1000))
            #expect(T.indexes(first.hints) == Array(0 ..< 10))
            #expect(first.byteCount == 1000)
            // Not delivered: the same batch again.
            #expect(store.nextBatch(for: T.a, maxBytes: 1000)?.hints == first.hints)
            store.markDelivered(first)
            store.markDelivered(first) // a repeated report changes nothing
            #expect(store.counters.delivered == 10)
            let one = try #require(store.nextBatch(for: T.a, maxBytes: 1))
            #expect(T.indexes(one.hints) == [10])
            store.markDelivered(one)
            let rest = try #require(store.nextBatch(for: T.a, maxBytes: 8_900))
            #expect(T.indexes(rest.hints) == Array(11 ..< 100))
            store.markDelivered(rest)
            // A hint larger than maxBytes still comes, alone.
            let big = try #require(store.nextBatch(for: T.a, maxBytes: 100))
            #expect(T.indexes(big.hints) == [100] && big.byteCount == 10_000)
            store.markDelivered(big)
            #expect(store.nextBatch(for: T.a, maxBytes: 100) == nil)
            #expect(store.nextBatch(for: T.b, maxBytes: 100) == nil)
            #expect(store.pendingBytes(for: T.a) == 0)
        }
    }

    @Test func deliveredSegmentsAreDeleted() throws {
        // 120-byte records after a 36-byte header: 33 a segment.
        try T.withStore(T.config(segmentBytes: 4096)) { store, dir in
            try T.write(store, T.a, 0 ..< 100)
            let files = T.segmentFiles(dir.path, T.a)
            #expect(files.count == 4)
            #expect(store.pendingBytes(for: T.a) == 100 * 120)
            let first = try #require(store.nextBatch(for: T.a, maxBytes: 2000))
            store.markDelivered(first)
            #expect(T.segmentFiles(dir.path, T.a) == files)
            #expect(store.pendingBytes(for: T.a) == 80 * 120)
            let second = try #require(store.nextBatch(for: T.a, maxBytes: 2000))
            #expect(T.indexes(second.hints) == Array(20 ..< 40))
            store.markDelivered(second)
            #expect(T.segmentFiles(dir.path, T.a) == Array(files.dropFirst()))
            #expect(T.indexes(T.drain(store, T.a)) == Array(40 ..< 100))
            // The open segment, wholly delivered, is closed and deleted too.
            #expect(T.segmentFiles(dir.path, T.a).isEmpty)
            #expect(store.counters.segmentsDeleted == 4)
            // The next write starts a new segment, after the old ones.
            try T.write(store, T.a, 100 ..< 101)
            let ids = T.segmentIds(dir.path, T.a)
            #expect(ids.count == 1 && ids[0] > HintSegmentFormat.parse(fileName: files.last!)!.segment)
            #expect(T.indexes(T.drain(store, T.a)) == [100])
        }
    }

    @Test func rotationAcrossManySmallSegments() throws {
        // Smaller than one record: every hint gets a segment of its own.
        try T.withStore(T.config(segmentBytes: 64)) { store, dir in
            try T.write(store, T.a, 0 ..< 500, size: 30)
            #expect(T.segmentFiles(dir.path, T.a).count == 500)
            var seen: [Int] = []
            var sizes = [1, 31, 100, 1000].makeIterator()
            var wroteMore = false
            while let batch = store.nextBatch(for: T.a, maxBytes: sizes.next() ?? 3000) {
                seen += T.indexes(batch.hints)
                store.markDelivered(batch)
                // Writes continue between deliveries.
                if seen.count > 100 && !wroteMore {
                    try T.write(store, T.a, 500 ..< 600, size: 30)
                    wroteMore = true
                }
            }
            #expect(seen == Array(0 ..< 600))
            #expect(T.segmentFiles(dir.path, T.a).isEmpty)
            #expect(store.counters.segmentsCreated == 600)
        }
    }

    @Test func perTargetLimitRefusesAndDeliveryFrees() throws {
        try T.withStore(T.config(segmentBytes: 1024, perTarget: 4096)) { store, dir in
            var stored = 0
            while true {
                do {
                    try T.write(store, T.a, stored ..< stored + 1)
                    stored += 1
                } catch let e as HintStoreError {
                    #expect(e == .full(target: T.a, limitBytes: 4096))
                    break
                }
            }
            #expect(stored > 20 && stored < 34)
            #expect(store.counters.diskBytes <= 4096)
            #expect(store.counters.droppedFull == 1)
            // Other targets are not affected.
            try T.write(store, T.b, 0 ..< 10)
            // Delivering the first segment frees room.
            let batch = try #require(store.nextBatch(for: T.a, maxBytes: 800))
            store.markDelivered(batch)
            try T.write(store, T.a, stored ..< stored + 5)
            #expect(T.indexes(T.drain(store, T.a)) == Array(batch.hints.count ..< stored + 5))
        }
    }

    @Test func totalLimitRefusesAcrossTargets() throws {
        try T.withStore(T.config(segmentBytes: 1024, perTarget: 1 << 20, total: 6000)) { store, dir in
            try T.write(store, T.a, 0 ..< 30)
            #expect(throws: HintStoreError.full(target: T.b, limitBytes: 6000)) {
                try T.write(store, T.b, 0 ..< 30)
            }
            #expect(store.counters.diskBytes <= 6000)
            #expect(store.counters.droppedFull == 1)
            _ = T.drain(store, T.a)
            #expect(store.counters.diskBytes < 3000)
            try T.write(store, T.b, 100 ..< 120)
        }
    }

    @Test func deleteAllForgetsEveryHintOfOneTarget() throws {
        try T.withStore(T.config(segmentBytes: 2048)) { store, dir in
            try T.write(store, T.a, 0 ..< 100)
            try T.write(store, T.b, 0 ..< 10)
            let stale = try #require(store.nextBatch(for: T.a, maxBytes: 500))
            store.deleteAll(for: T.a)
            #expect(T.segmentFiles(dir.path, T.a).isEmpty)
            #expect(store.targets() == [T.b])
            #expect(store.nextBatch(for: T.a, maxBytes: 500) == nil)
            #expect(store.pendingBytes(for: T.a) == 0)
            #expect(store.counters.droppedDeleted == 100)
            #expect(store.counters.diskBytes == store.counters.pendingBytes + HintSegmentFormat.headerSize)
            // New hints after the deletion are not affected by a batch read before it.
            try T.write(store, T.a, 200 ..< 210)
            store.markDelivered(stale)
            #expect(store.counters.delivered == 0)
            #expect(T.indexes(T.drain(store, T.a)) == Array(200 ..< 210))
            #expect(T.indexes(T.drain(store, T.b)) == Array(0 ..< 10))
            store.deleteAll(for: T.c) // unknown target: nothing happens
        }
    }

    @Test func closedStoreRefusesWrites() throws {
        let dir = TemporaryDirectory("hints")
        defer { dir.remove() }
        let store = try HintStore(directory: dir.path, config: T.config(), logger: .test)
        try T.write(store, T.a, 0 ..< 3)
        store.close()
        store.close()
        #expect(throws: HintStoreError.io("closed")) { try T.write(store, T.a, 3 ..< 4) }
        #expect(T.indexes(T.drain(store, T.a)) == [0, 1, 2])
    }
}
