import BasaltCore
@testable import BasaltStorage
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Shared pieces of the hint store tests.
enum HintTesting {
    static let a = UUIDValue(msb: 0x1111, lsb: 0xa)
    static let b = UUIDValue(msb: 0x2222, lsb: 0xb)
    static let c = UUIDValue(msb: 0x3333, lsb: 0xc)

    static func config(segmentBytes: Int = 16 << 20, perTarget: Int = 256 << 20, total: Int = 1 << 30) -> HintStoreConfig {
        var c = HintStoreConfig()
        c.segmentBytes = segmentBytes
        c.maxBytesPerTarget = perTarget
        c.maxTotalBytes = total
        c.syncIntervalNanos = 5_000_000
        return c
    }

    /// A recognisable mutation: `tag`, then `index` (u32 BE), padded to `size` bytes.
    static func mutation(_ index: Int, tag: UInt8 = 0, size: Int = 100) -> [UInt8] {
        var w = ByteWriter(capacity: size)
        w.writeUInt8(tag)
        w.writeUInt32(UInt32(index))
        while w.count < size { w.writeUInt8(UInt8(truncatingIfNeeded: index &+ w.count)) }
        return w.bytes
    }

    /// The (tag, index) a ``mutation(_:tag:size:)`` carries.
    static func decode(_ mutation: [UInt8]) -> (tag: UInt8, index: Int) {
        var r = ByteReader(mutation)
        let tag = (try? r.readUInt8()) ?? 0xff
        return (tag, Int((try? r.readUInt32()) ?? UInt32.max))
    }

    static func write(_ store: HintStore, _ target: UUIDValue, _ range: Range<Int>, tag: UInt8 = 0, size: Int = 100) throws {
        for i in range {
            try store.write(mutation: mutation(i, tag: tag, size: size), for: target, createdAtMicros: Int64(1_000 + i))
        }
    }

    /// Reads and delivers every hint of `target`, batch by batch.
    static func drain(_ store: HintStore, _ target: UUIDValue, maxBytes: Int = 4096) -> [Hint] {
        var out: [Hint] = []
        while let batch = store.nextBatch(for: target, maxBytes: maxBytes) {
            out += batch.hints
            store.markDelivered(batch)
        }
        return out
    }

    /// The indexes the hints carry.
    static func indexes(_ hints: [Hint]) -> [Int] { hints.map { decode($0.mutation).index } }

    /// Segment file names of `target` in `directory`, in segment order.
    static func segmentFiles(_ directory: String, _ target: UUIDValue) -> [String] {
        ((try? FileSystem.list(directory)) ?? [])
            .compactMap { name in HintSegmentFormat.parse(fileName: name).flatMap { $0.target == target ? (name, $0.segment) : nil } }
            .sorted { $0.1 < $1.1 }.map(\.0)
    }

    static func segmentIds(_ directory: String, _ target: UUIDValue) -> [UInt64] {
        segmentFiles(directory, target).compactMap { HintSegmentFormat.parse(fileName: $0)?.segment }
    }

    /// Overwrites one byte of a file in place.
    static func flipByte(_ path: String, at offset: Int) throws {
        var bytes = try FileSystem.readAll(path)
        bytes[offset] ^= 0x5a
        try FileSystem.writeFile(path, bytes)
    }
}

/// Log lines at warning level and above, kept for checking what was reported.
final class HintLogCapture: @unchecked Sendable {
    // @unchecked: `lines` is guarded by `lock`.
    private let lock = Lock()
    private var lines: [(message: String, metadata: [String: String])] = []

    var logger: Logger { Logger(label: "hints.test") { _ in Handler(sink: self) } }

    /// Lines whose metadata holds every given pair.
    func lines(with metadata: [String: String]) -> [String] {
        lock.withLock {
            lines.filter { l in metadata.allSatisfy { l.metadata[$0.key] == $0.value } }.map(\.message)
        }
    }

    var count: Int { lock.withLock { lines.count } }

    private struct Handler: LogHandler {
        let sink: HintLogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
            sink.lock.withLock { sink.lines.append(("\(event.message)", all)) }
        }
    }
}

extension HintTesting {
    /// Runs `body` with a store on a fresh directory; the store is closed and the directory
    /// removed afterwards.
    static func withStore(_ config: HintStoreConfig = config(), logger: Logger = .test, _ body: (HintStore, TemporaryDirectory) throws -> Void) throws {
        let dir = TemporaryDirectory("hints")
        defer { dir.remove() }
        let store = try HintStore(directory: dir.path, config: config, logger: logger)
        defer { store.close() }
        try body(store, dir)
    }
}
