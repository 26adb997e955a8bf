import BasaltCore
@testable import BasaltStorage
import Testing

/// Each memtable is switched at its own random share of the size limit, so replicas given the same
/// writes do not flush at the same moment.
@Suite("Memtable flush jitter")
struct MemtableFlushJitterTests {
    let schema = TestSchemas.keyValue()

    /// Writes 1 KiB values until `flushes` memtables were switched; returns the share of the
    /// limit each one was switched at.
    func switchPoints(jitter: Double, flushes: Int) throws -> [Double] {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 10_000_000)
        c.memtableSizeLimitBytes = 256 << 10
        c.memtableFlushJitter = jitter
        c.automaticCompaction = false
        let (e, _) = try StorageEngine.open(directory: dir.path, config: c, tables: [schema], logger: .test)
        defer { e.close() }
        let t = try e.table(schema.id)
        var shares: [Double] = []
        var i = 0
        while shares.count < flushes && i < 100_000 {
            let before = t.writeLock.withLock { t.memtableBytes }
            try e.apply(kvMutation(schema, i, value: [UInt8](repeating: 1, count: 1024)))
            let after = t.writeLock.withLock { t.memtableBytes }
            if after < before { shares.append(Double(before) / Double(c.memtableSizeLimitBytes)) }
            i += 1
        }
        return shares
    }

    @Test func memtablesAreSwitchedAtDifferentSizesWithinTheJitter() throws {
        let shares = try switchPoints(jitter: 0.5, flushes: 8)
        #expect(shares.count == 8)
        // Switched once a write took it past its share: at most one write (about 1.1 KiB) over.
        #expect(shares.allSatisfy { $0 >= 0.5 && $0 <= 1.01 }, "\(shares)")
        #expect(Set(shares.map { Int($0 * 50) }).count > 1, "every memtable switched at the same size: \(shares)")
    }

    @Test func withoutJitterEveryMemtableIsSwitchedAtTheLimit() throws {
        let shares = try switchPoints(jitter: 0, flushes: 4)
        #expect(shares.count == 4)
        #expect(shares.allSatisfy { $0 >= 1 && $0 <= 1.01 }, "\(shares)")
    }
}
