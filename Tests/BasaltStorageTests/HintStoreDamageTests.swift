import BasaltCore
@testable import BasaltStorage
import Testing

/// Damaged and foreign files: reported with file and offset, counted, never a trap, and only the
/// damaged segment loses hints.
@Suite("HintStore damage")
struct HintStoreDamageTests {
    typealias T = HintTesting
    /// 33 records of 120 bytes a segment.
    let config = T.config(segmentBytes: 4096)

    /// 100 hints for `T.a` in four segments (33, 33, 33, 1); returns the segment paths.
    func fourSegments(_ store: HintStore, _ dir: TemporaryDirectory) throws -> [String] {
        try T.write(store, T.a, 0 ..< 100)
        let files = T.segmentFiles(dir.path, T.a).map { dir.path + "/" + $0 }
        #expect(files.count == 4)
        return files
    }

    @Test func flippedByteFoundAtStartupEndsThatSegmentOnly() throws {
        let dir = TemporaryDirectory("hints")
        defer { dir.remove() }
        var store = try HintStore(directory: dir.path, config: config, logger: .test)
        let files = try fourSegments(store, dir)
        store.close()
        // Inside the payload of the 11th record of the second segment (hint 43).
        try T.flipByte(files[1], at: 36 + 10 * 120 + 50)
        let logs = HintLogCapture()
        store = try HintStore(directory: dir.path, config: config, logger: logs.logger)
        defer { store.close() }
        #expect(store.counters.droppedCorrupt == 1)
        #expect(store.counters.droppedCorruptBytes == 23 * 120)
        #expect(logs.lines(with: ["path": files[1], "offset": "\(36 + 10 * 120)"]).count == 1)
        #expect(T.indexes(T.drain(store, T.a)) == Array(0 ..< 43) + Array(66 ..< 100))
        #expect(T.segmentFiles(dir.path, T.a).isEmpty)
    }

    @Test func flippedByteFoundWhileReadingEndsThatSegmentOnly() throws {
        let logs = HintLogCapture()
        try T.withStore(config, logger: logs.logger) { store, dir in
            let files = try fourSegments(store, dir)
            // The length field of the 5th record of the third segment (hint 70).
            try T.flipByte(files[2], at: 36 + 4 * 120 + 1)
            #expect(T.indexes(T.drain(store, T.a, maxBytes: 1000)) == Array(0 ..< 70) + Array(99 ..< 100))
            #expect(store.counters.droppedCorrupt == 1)
            #expect(store.counters.droppedCorruptBytes == 29 * 120)
            #expect(logs.lines(with: ["path": files[2], "offset": "\(36 + 4 * 120)", "droppedHints": "29"]).count == 1)
            #expect(store.counters.pendingHints == 0 && store.counters.segments == 0)
        }
    }

    @Test func damageInTheOpenSegmentSealsIt() throws {
        try T.withStore(config) { store, dir in
            try T.write(store, T.a, 0 ..< 10)
            let file = dir.path + "/" + T.segmentFiles(dir.path, T.a)[0]
            try T.flipByte(file, at: 36 + 5 * 120 + 100)
            #expect(T.indexes(T.drain(store, T.a)) == Array(0 ..< 5))
            #expect(store.counters.droppedCorrupt == 1)
            // Later hints go to a new segment and are delivered.
            try T.write(store, T.a, 10 ..< 20)
            #expect(T.segmentFiles(dir.path, T.a).count == 1)
            #expect(T.indexes(T.drain(store, T.a)) == Array(10 ..< 20))
        }
    }

    @Test func garbageAndForeignFilesDoNotStopTheStore() throws {
        let dir = TemporaryDirectory("hints")
        defer { dir.remove() }
        var store = try HintStore(directory: dir.path, config: config, logger: .test)
        try T.write(store, T.a, 0 ..< 40)
        store.close()
        func name(_ t: UUIDValue, _ id: UInt64) -> String { dir.path + "/" + HintSegmentFormat.fileName(target: t, segment: id) }
        var g = SplitMix64(seed: 7)
        try FileSystem.writeFile(name(T.a, 5), (0 ..< 500).map { _ in UInt8.random(in: 0 ... 255, using: &g) })
        // A valid header naming another target, followed by a valid record.
        var foreign = HintSegmentFormat.header(target: T.b, segment: 6)
        var payload: [UInt8] = []
        HintSegmentFormat.appendRecord(createdAtMicros: 1, mutation: T.mutation(999), payload: &payload, to: &foreign)
        try FileSystem.writeFile(name(T.a, 6), foreign)
        try FileSystem.writeFile(name(T.a, 7), [])
        try FileSystem.writeFile(name(T.b, 8), HintSegmentFormat.header(target: T.b, segment: 8))
        try FileSystem.writeFile(dir.path + "/notes.txt", Array("keep me".utf8))
        try FileSystem.writeFile(dir.path + "/tmp-" + HintSegmentFormat.fileName(target: T.a, segment: 9), [1, 2, 3])

        let logs = HintLogCapture()
        store = try HintStore(directory: dir.path, config: config, logger: logs.logger)
        defer { store.close() }
        #expect(store.counters.droppedCorrupt == 2)
        #expect(logs.lines(with: ["path": name(T.a, 5), "offset": "0"]).count == 1)
        #expect(logs.lines(with: ["path": name(T.a, 6), "offset": "8"]).count == 1)
        let left = try FileSystem.list(dir.path)
        #expect(left.contains("notes.txt") && !left.contains { $0.hasPrefix("tmp-") })
        #expect(!FileSystem.exists(name(T.a, 5)) && !FileSystem.exists(name(T.a, 7)) && !FileSystem.exists(name(T.b, 8)))
        #expect(store.targets() == [T.a])
        #expect(T.indexes(T.drain(store, T.a)) == Array(0 ..< 40))
        try T.write(store, T.b, 0 ..< 3)
        #expect(T.indexes(T.drain(store, T.b)) == Array(0 ..< 3))
    }

    /// Random damage of every kind to random files: the store opens, returns hints in order, each
    /// one intact, and never traps.
    @Test func randomDamageNeverTraps() throws {
        var g = SplitMix64(seed: 0x4849_4e54)
        for round in 0 ..< 40 {
            let dir = TemporaryDirectory("hints")
            defer { dir.remove() }
            var store = try HintStore(directory: dir.path, config: T.config(segmentBytes: 1024), logger: .test)
            var written: [UUIDValue: [Int]] = [:]
            for i in 0 ..< 60 {
                let target = i % 3 == 0 ? T.b : T.a
                let size = Int.random(in: 5 ... 300, using: &g)
                try store.write(mutation: T.mutation(i, size: size), for: target, createdAtMicros: Int64(i))
                written[target, default: []].append(i)
            }
            store.close()
            let files = try FileSystem.list(dir.path).filter { $0.hasSuffix(".hints") }.map { dir.path + "/" + $0 }
            for _ in 0 ..< Int.random(in: 1 ... 3, using: &g) {
                let path = files[Int.random(in: 0 ..< files.count, using: &g)]
                var bytes = try FileSystem.readAll(path)
                guard !bytes.isEmpty else { continue }
                switch Int.random(in: 0 ..< 4, using: &g) {
                case 0: bytes[Int.random(in: 0 ..< bytes.count, using: &g)] ^= UInt8.random(in: 1 ... 255, using: &g)
                case 1: bytes.removeLast(Int.random(in: 1 ... bytes.count, using: &g))
                case 2: bytes += (0 ..< Int.random(in: 1 ... 40, using: &g)).map { _ in UInt8.random(in: 0 ... 255, using: &g) }
                default:
                    let at = Int.random(in: 0 ..< bytes.count, using: &g)
                    for i in at ..< min(bytes.count, at + 8) { bytes[i] = 0xff }
                }
                try FileSystem.writeFile(path, bytes)
            }
            store = try HintStore(directory: dir.path, config: T.config(segmentBytes: 1024), logger: .test)
            for target in [T.a, T.b] {
                let hints = T.drain(store, target, maxBytes: Int.random(in: 1 ... 2000, using: &g))
                let got = T.indexes(hints)
                #expect(got == got.sorted() && Set(got).count == got.count, "round \(round)")
                #expect(Set(got).isSubset(of: written[target]!), "round \(round)")
                for h in hints {
                    let i = T.decode(h.mutation).index
                    #expect(h.mutation == T.mutation(i, size: h.mutation.count) && h.createdAtMicros == Int64(i), "round \(round)")
                }
            }
            #expect(store.counters.pendingHints == 0 && store.counters.segments == 0, "round \(round)")
            store.close()
        }
    }
}
