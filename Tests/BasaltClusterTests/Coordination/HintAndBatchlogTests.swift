import BasaltCore
import BasaltStorage
import Testing
@testable import BasaltCluster

struct HintDeliverySchedulerTests {
    let a = UUIDValue(msb: 1, lsb: 1), b = UUIDValue(msb: 2, lsb: 2)

    func scheduler() -> HintDeliveryScheduler {
        var s = HintDeliveryScheduler.Settings()
        s.throttleBytesPerSecond = 1000
        s.batchBytes = 500
        s.retryDelayNanos = 1_000
        s.maxRetryDelayNanos = 4_000
        return HintDeliveryScheduler(settings: s)
    }

    @Test func deliversOnlyToLiveTargetsOneBatchAtATimeAtTheThrottledRate() {
        var s = scheduler()
        s.onHintsStored(for: a)
        s.onHintsStored(for: b)
        #expect(s.onTick(nowNanos: 0, alive: [b]) == [.deliver(target: b, maxBytes: 500)])
        #expect(s.onTick(nowNanos: 1, alive: [b]).isEmpty)  // in flight
        s.onDelivered(target: b, bytes: 500, more: true, nowNanos: 10)
        // 500 bytes at 1000 B/s: the next batch waits half a second.
        #expect(s.onTick(nowNanos: 400_000_000, alive: [b]).isEmpty)
        #expect(s.onTick(nowNanos: 500_000_010, alive: [a, b]) == [.deliver(target: a, maxBytes: 500), .deliver(target: b, maxBytes: 500)])
        s.onDelivered(target: b, bytes: 10, more: false, nowNanos: 600_000_000)
        s.onDelivered(target: a, bytes: 10, more: false, nowNanos: 600_000_000)
        #expect(s.targetsWithHints.isEmpty)
        #expect(s.onTick(nowNanos: 9_000_000_000, alive: [a, b]).isEmpty)
    }

    @Test func failuresBackOffExponentiallyUntilTheTargetComesBack() {
        var s = scheduler()
        s.onHintsStored(for: a)
        var now: UInt64 = 0
        var waits: [UInt64] = []
        for _ in 0 ..< 5 {
            _ = s.onTick(nowNanos: now, alive: [a])
            s.onDeliveryFailed(target: a, nowNanos: now)
            var t = now + 1
            while s.onTick(nowNanos: t, alive: [a]).isEmpty { t += 1 }
            waits.append(t - now)
            now = t
            s.onDeliveryFailed(target: a, nowNanos: now)
            now += 10_000
        }
        #expect(waits[0] == 1_000)
        #expect(waits.allSatisfy { $0 <= 4_000 })
        // Down, then up again: delivered at once.
        _ = s.onTick(nowNanos: now, alive: [])
        #expect(s.onTick(nowNanos: now + 1, alive: [a]) == [.deliver(target: a, maxBytes: 500)])
        s.onHintsForgotten(for: a)
        #expect(s.targetsWithHints.isEmpty)
    }
}

struct BatchlogEntryTests {
    typealias F = CoordinationFixtures

    @Test func entriesRoundTripAndDamageIsRejected() throws {
        let m1 = Mutation(schema: F.table, partitionKey: F.int32(1), update: PartitionUpdate(rows: [F.row(1, 1, ts: 5)]))
        let m2 = Mutation(schema: F.table, partitionKey: F.int32(2), update: PartitionUpdate(rows: [F.deletedRow(3, ts: 6)]))
        let entry = BatchlogEntry(id: UUIDValue.timeBased(unixMicros: 1_700_000_000_000_000, sequenceAndNode: 7), createdAtMicros: 1_700_000_000_000_000,
                                  mutations: [m1, m2])
        let bytes = entry.encoded()
        #expect(try BatchlogEntry.decode(bytes) == entry)
        var rng = SplitMix64(seed: 7)
        for cut in 0 ..< bytes.count { #expect(throws: DecodeError.self) { try BatchlogEntry.decode(Array(bytes[..<cut])) } }
        for _ in 0 ..< 2000 {
            var damaged = bytes
            damaged[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 + rng.next() % 255)
            _ = try? BatchlogEntry.decode(damaged)  // never traps
        }
        let store = BatchlogTable.store(entry)
        #expect(store.tableId == BatchlogTable.schema.id && store.partitionKey == entry.id.bytes)
        let (id, ts) = try BatchlogTable.decodeRemovePayload(BatchlogTable.removePayload(entry.id, timestampMicros: 42))
        #expect(id == entry.id && ts == 42)
    }
}
