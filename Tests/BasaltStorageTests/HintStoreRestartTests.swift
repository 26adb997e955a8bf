import BasaltCore
@testable import BasaltStorage
import Testing

/// What survives closing and reopening the store, cleanly or not.
@Suite("HintStore restart")
struct HintStoreRestartTests {
    typealias T = HintTesting

    @Test func reopeningReturnsEveryUndeliveredHint() throws {
        let dir = TemporaryDirectory("hints")
        defer { dir.remove() }
        let config = T.config(segmentBytes: 4096) // 33 hints a segment
        var store = try HintStore(directory: dir.path, config: config, logger: .test)
        try T.write(store, T.a, 0 ..< 100)
        try T.write(store, T.b, 0 ..< 50)
        let batch = try #require(store.nextBatch(for: T.a, maxBytes: 4000))
        #expect(T.indexes(batch.hints) == Array(0 ..< 40))
        store.markDelivered(batch)
        let idsBefore = T.segmentIds(dir.path, T.a) + T.segmentIds(dir.path, T.b)
        store.close()

        store = try HintStore(directory: dir.path, config: config, logger: .test)
        defer { store.close() }
        #expect(store.targets() == [T.a, T.b])
        // The first segment was delivered and deleted; the second, partly delivered, comes again.
        #expect(store.counters.pendingHints == 67 + 50)
        #expect(store.pendingBytes(for: T.a) == 67 * 120)
        let again = T.drain(store, T.a, maxBytes: 1000)
        #expect(T.indexes(again) == Array(33 ..< 100))
        #expect(again.map(\.createdAtMicros) == (33 ..< 100).map { Int64(1000 + $0) })
        #expect(T.indexes(T.drain(store, T.b)) == Array(0 ..< 50))
        // Segment ids keep growing.
        try T.write(store, T.a, 100 ..< 101)
        #expect(T.segmentIds(dir.path, T.a).allSatisfy { $0 > idsBefore.max()! })
    }

    @Test func segmentIdsGrowWhenEverythingWasDelivered() throws {
        let dir = TemporaryDirectory("hints")
        defer { dir.remove() }
        var store = try HintStore(directory: dir.path, config: T.config(), logger: .test)
        try T.write(store, T.a, 0 ..< 5)
        let first = try #require(T.segmentIds(dir.path, T.a).first)
        _ = T.drain(store, T.a)
        store.close()
        store = try HintStore(directory: dir.path, config: T.config(), logger: .test)
        defer { store.close() }
        #expect(store.targets().isEmpty)
        try T.write(store, T.a, 5 ..< 6)
        #expect(try #require(T.segmentIds(dir.path, T.a).first) > first)
        #expect(T.indexes(T.drain(store, T.a)) == [5])
    }

    /// A crash simulated by copying the files of a store that is still open.
    @Test func syncedHintsSurviveACrashAndATornTailIsSkipped() throws {
        let dir = TemporaryDirectory("hints")
        let copy = TemporaryDirectory("hints-copy")
        let torn = TemporaryDirectory("hints-torn")
        defer { dir.remove(); copy.remove(); torn.remove() }
        let store = try HintStore(directory: dir.path, config: T.config(segmentBytes: 4096), logger: .test)
        defer { store.close() }
        try T.write(store, T.a, 0 ..< 50)
        try store.sync()
        for name in T.segmentFiles(dir.path, T.a) {
            let bytes = try FileSystem.readAll(dir.path + "/" + name)
            try FileSystem.writeFile(copy.path + "/" + name, bytes)
            // A write cut short: the last record lacks its last 7 bytes.
            try FileSystem.writeFile(torn.path + "/" + name, name == T.segmentFiles(dir.path, T.a).last ? bytes.dropLast(7) : bytes)
        }
        let recovered = try HintStore(directory: copy.path, config: T.config(segmentBytes: 4096), logger: .test)
        #expect(T.indexes(T.drain(recovered, T.a)) == Array(0 ..< 50))
        #expect(recovered.counters.droppedCorrupt == 0)
        recovered.close()

        let logs = HintLogCapture()
        let tornStore = try HintStore(directory: torn.path, config: T.config(segmentBytes: 4096), logger: logs.logger)
        defer { tornStore.close() }
        #expect(T.indexes(T.drain(tornStore, T.a)) == Array(0 ..< 49))
        #expect(tornStore.counters.droppedCorrupt == 1)
        #expect(tornStore.counters.droppedCorruptBytes == 120 - 7)
        let last = torn.path + "/" + T.segmentFiles(dir.path, T.a).last!
        #expect(logs.lines(with: ["path": last, "offset": "\(36 + 16 * 120)"]).count == 1)
    }

    @Test func oneStorePerDirectory() throws {
        let dir = TemporaryDirectory("hints")
        defer { dir.remove() }
        let store = try HintStore(directory: dir.path, config: T.config(), logger: .test)
        #expect(throws: HintStoreError.self) { _ = try HintStore(directory: dir.path, config: T.config(), logger: .test) }
        store.close()
        let again = try HintStore(directory: dir.path, config: T.config(), logger: .test)
        again.close()
    }
}
