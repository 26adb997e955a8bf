import BasaltCore
import BasaltStorage
import Testing
@testable import BasaltCluster

/// The receiving stream session, driven by hand: every chunk, loss, duplicate, corruption, timeout,
/// retry and source death is an explicit event, and time is a number.
struct StreamSessionStateMachineTests {
    typealias M = StreamSessionStateMachine
    static let table = UUIDValue(msb: 7, lsb: 7)

    static func task(_ i: Int) -> StreamTask {
        StreamTask(keyspace: "ks", table: "t", tableId: table, range: TokenRange(start: Token(Int64(i) * 100), end: Token(Int64(i) * 100 + 100)))
    }

    static func settings(window: Int = 4, attempts: Int = 3) -> M.Settings {
        var s = M.Settings()
        s.window = window
        s.maxAttempts = attempts
        s.rowsPerChunk = 2
        s.chunkTimeoutNanos = 10_000
        s.retryDelayNanos = 100
        return s
    }

    /// A chunk payload holding partitions with these keys, continuing after `next` (nil: the end).
    static func chunk(_ keys: [UInt8], next: UInt8?) -> (payload: [UInt8], crc: UInt32) {
        let partitions = keys.map { PartitionResult(partitionKey: [$0], update: PartitionUpdate()) }
        let position = next.map { ScanPosition(token: Murmur3.token([$0]), partitionKey: [$0]) }
        let payload = ScanResult(partitions: partitions, next: position).encoded()
        return (payload, CRC32C.checksum(payload))
    }

    static func requests(_ actions: [M.Action]) -> [M.ChunkRequest] {
        actions.compactMap { if case let .request(r) = $0 { r } else { nil } }
    }

    static func applies(_ actions: [M.Action]) -> [UInt64] {
        actions.compactMap { if case let .apply(id, _, _) = $0 { id } else { nil } }
    }

    static func completed(_ actions: [M.Action]) -> Bool {
        actions.contains { if case .complete = $0 { true } else { false } }
    }

    static func failed(_ actions: [M.Action]) -> Bool {
        actions.contains { if case .fail = $0 { true } else { false } }
    }

    @Test func everyTaskIsFetchedInOrderAndCompletesOnceAfterTheLastApply() {
        var m = M(tasks: [Self.task(1), Self.task(2)], settings: Self.settings())
        let first = Self.requests(m.start(now: 0))
        #expect(first.count == 2 && first.allSatisfy { $0.after == nil && $0.attempt == 1 && $0.rows == 2 })
        // Task 1: two chunks; task 2: one.
        let a = Self.chunk([1, 2], next: 2)
        #expect(Self.applies(m.onChunk(id: first[0].id, payload: a.payload, checksum: a.crc, now: 1)) == [first[0].id])
        let next = Self.requests(m.onApplied(first[0].id, now: 2))
        #expect(next.count == 1 && next[0].taskIndex == 0 && next[0].after?.partitionKey == [2])
        let b = Self.chunk([9], next: nil)
        #expect(Self.applies(m.onChunk(id: first[1].id, payload: b.payload, checksum: b.crc, now: 3)) == [first[1].id])
        #expect(!Self.completed(m.onApplied(first[1].id, now: 4)))
        let c = Self.chunk([3], next: nil)
        _ = m.onChunk(id: next[0].id, payload: c.payload, checksum: c.crc, now: 5)
        // Everything arrived, but the last chunk is not applied yet: not complete.
        #expect(m.outcome == .running)
        let end = m.onApplied(next[0].id, now: 6)
        #expect(Self.completed(end) && m.outcome == .completed)
        #expect(m.summary.partitions == 4 && m.summary.chunks == 3 && m.summary.tasksCompleted == 2)
        #expect(m.remainingTasks.isEmpty)
        // Nothing after completion.
        #expect(m.onTick(now: 1_000_000).isEmpty && m.onSourceDown(now: 1_000_001).isEmpty)
    }

    @Test func theWindowBoundsChunksInFlightOrBeingApplied() {
        var m = M(tasks: (0 ..< 10).map(Self.task), settings: Self.settings(window: 3))
        var outstanding = Self.requests(m.start(now: 0))
        #expect(outstanding.count == 3 && m.inFlight == 3)
        var finished = 0
        var now: UInt64 = 1
        while !outstanding.isEmpty {
            let r = outstanding.removeFirst()
            let c = Self.chunk([UInt8(r.taskIndex)], next: nil)
            _ = m.onChunk(id: r.id, payload: c.payload, checksum: c.crc, now: now)
            #expect(m.inFlight <= 3)
            let more = m.onApplied(r.id, now: now + 1)
            finished += 1
            outstanding += Self.requests(more)
            #expect(m.inFlight <= 3)
            if finished == 10 { #expect(Self.completed(more)) }
            now += 2
        }
        #expect(m.outcome == .completed && finished == 10)
    }

    @Test func aLostChunkIsAskedAgainAndItsLateAnswerIsIgnored() {
        var m = M(tasks: [Self.task(1)], settings: Self.settings())
        let r1 = Self.requests(m.start(now: 0))[0]
        // No answer within the chunk timeout: the tick retries after the retry delay.
        #expect(Self.requests(m.onTick(now: 5_000)).isEmpty)
        #expect(Self.requests(m.onTick(now: 10_000)).isEmpty)  // timed out; waiting for the retry delay
        let r2 = Self.requests(m.onTick(now: 10_100))
        #expect(r2.count == 1 && r2[0].id != r1.id && r2[0].attempt == 2 && r2[0].after == nil)
        #expect(m.summary.timeouts == 1)
        // The first request's answer arrives late: a duplicate.
        let c = Self.chunk([5], next: nil)
        #expect(m.onChunk(id: r1.id, payload: c.payload, checksum: c.crc, now: 10_200).isEmpty)
        #expect(m.summary.duplicates == 1)
        #expect(Self.applies(m.onChunk(id: r2[0].id, payload: c.payload, checksum: c.crc, now: 10_300)) == [r2[0].id])
        #expect(Self.completed(m.onApplied(r2[0].id, now: 10_400)))
    }

    @Test func aDuplicateChunkIsAppliedOnce() {
        var m = M(tasks: [Self.task(1)], settings: Self.settings())
        let r = Self.requests(m.start(now: 0))[0]
        let c = Self.chunk([1, 2], next: 2)
        #expect(Self.applies(m.onChunk(id: r.id, payload: c.payload, checksum: c.crc, now: 1)).count == 1)
        #expect(m.onChunk(id: r.id, payload: c.payload, checksum: c.crc, now: 2).isEmpty)
        let next = Self.requests(m.onApplied(r.id, now: 3))
        #expect(m.onChunk(id: r.id, payload: c.payload, checksum: c.crc, now: 4).isEmpty)
        #expect(next.count == 1 && m.summary.duplicates == 2 && m.summary.chunks == 1)
    }

    @Test func aCorruptChunkIsRetriedAndTooManyFailuresFailTheSession() {
        var m = M(tasks: [Self.task(1)], settings: Self.settings(attempts: 2))
        let r1 = Self.requests(m.start(now: 0))[0]
        let c = Self.chunk([1], next: nil)
        #expect(Self.applies(m.onChunk(id: r1.id, payload: c.payload, checksum: c.crc ^ 1, now: 1)).isEmpty)
        #expect(m.summary.checksumFailures == 1)
        let r2 = Self.requests(m.onTick(now: 1_000))
        #expect(r2.count == 1 && r2[0].attempt == 2)
        // Second attempt refused by the source: no attempts left.
        let out = m.onChunkFailed(id: r2[0].id, reason: "refused", now: 1_001)
        #expect(Self.failed(out))
        guard case .failed = m.outcome else { Issue.record("expected failure, got \(m.outcome)"); return }
        #expect(m.onChunk(id: r2[0].id, payload: c.payload, checksum: c.crc, now: 1_002).isEmpty)
        #expect(m.onTick(now: 100_000).isEmpty)
        #expect(m.remainingTasks.count == 1)
    }

    @Test func aDeadSourceFailsTheSessionAndARestartContinuesFromTheCursor() {
        var m = M(tasks: [Self.task(1), Self.task(2)], settings: Self.settings())
        let rs = Self.requests(m.start(now: 0))
        let a = Self.chunk([1, 2], next: 2)
        _ = m.onChunk(id: rs[0].id, payload: a.payload, checksum: a.crc, now: 1)
        _ = m.onApplied(rs[0].id, now: 2)
        let b = Self.chunk([7], next: nil)
        _ = m.onChunk(id: rs[1].id, payload: b.payload, checksum: b.crc, now: 3)
        _ = m.onApplied(rs[1].id, now: 4)
        #expect(Self.failed(m.onSourceDown(now: 5)))
        #expect(!Self.completed(m.onTick(now: 6)))
        // Task 2 finished; task 1 continues after key 2 in a new session (e.g. from another source).
        let left = m.remainingTasks
        #expect(left.count == 1 && left[0].task == Self.task(1) && left[0].cursor?.partitionKey == [2])
        var again = M(tasks: left.map(\.task), cursors: left.map(\.cursor), settings: Self.settings())
        let r = Self.requests(again.start(now: 10))
        #expect(r.count == 1 && r[0].after?.partitionKey == [2])
        let c = Self.chunk([3], next: nil)
        _ = again.onChunk(id: r[0].id, payload: c.payload, checksum: c.crc, now: 11)
        #expect(Self.completed(again.onApplied(r[0].id, now: 12)))
    }

    @Test func aChunkThatDoesNotAdvanceFailsInsteadOfLooping() {
        var m = M(tasks: [Self.task(1)], settings: Self.settings())
        let r = Self.requests(m.start(now: 0))[0]
        let c = Self.chunk([1], next: 1)
        _ = m.onChunk(id: r.id, payload: c.payload, checksum: c.crc, now: 1)
        let r2 = Self.requests(m.onApplied(r.id, now: 2))[0]
        #expect(Self.failed(m.onChunk(id: r2.id, payload: c.payload, checksum: c.crc, now: 3)))
    }

    @Test func aFailedApplyFailsTheSessionAndNoTasksCompleteAtOnce() {
        var m = M(tasks: [Self.task(1)], settings: Self.settings())
        let r = Self.requests(m.start(now: 0))[0]
        let c = Self.chunk([1], next: nil)
        _ = m.onChunk(id: r.id, payload: c.payload, checksum: c.crc, now: 1)
        #expect(Self.failed(m.onApplyFailed(r.id, reason: "overloaded", now: 2)))
        #expect(m.remainingTasks.count == 1)
        var empty = M(tasks: [], settings: Self.settings())
        #expect(Self.completed(empty.start(now: 0)))
    }

    @Test func codecsRoundTripAndRefuseGarbage() throws {
        let pull = StreamPullRequest(session: UUIDValue(msb: 1, lsb: 2), source: NodeAddress(host: "127.0.0.9", port: 7000),
                                     tasks: [Self.task(1), Self.task(3)])
        #expect(try StreamPullRequest.decode(pull.encoded()) == pull)
        for cut in 0 ..< pull.encoded().count {
            #expect(throws: DecodeError.self) { try StreamPullRequest.decode(Array(pull.encoded().prefix(cut))) }
        }
        let c = Self.chunk([1, 2], next: nil)
        let response = StreamVerbs.chunkResponse(try ScanResult.decode(c.payload))
        let (payload, crc) = try StreamVerbs.decodeChunkResponse(response)
        #expect(payload == c.payload && crc == c.crc)
        var summary = StreamSummary()
        summary.bytes = 123_456
        summary.retries = 3
        #expect(try StreamSummary.decode(summary.encoded()) == summary)
        let (host, status) = try StreamVerbs.decodeSeesRequest(StreamVerbs.seesRequest(host: UUIDValue(msb: 5, lsb: 6), status: .leaving))
        #expect(host == UUIDValue(msb: 5, lsb: 6) && status == .leaving)
        let h = try StreamVerbs.decodeHintHandoff(StreamVerbs.hintHandoff(target: UUIDValue(msb: 1, lsb: 1), createdAtMicros: 42, mutation: [1, 2, 3]))
        #expect(h.createdAtMicros == 42 && h.mutation == [1, 2, 3])
    }

    @Test func throttleHoldsTheLongRunRate() {
        var t = StreamThrottle(bytesPerSecond: 1_000_000)
        let start: UInt64 = 10_000_000_000
        // One second of burst goes at once, then each megabyte waits a second more.
        #expect(t.reserve(1_000_000, now: start) == 0)
        #expect(t.reserve(1_000_000, now: start) == 1_000_000_000)
        #expect(t.reserve(500_000, now: start) == 1_500_000_000)
        // Time passing pays the debt off.
        #expect(t.reserve(1, now: start + 5_000_000_000) == 0)
        t.setRate(bytesPerSecond: 0)
        #expect(t.reserve(1 << 30, now: start) == 0)
    }
}
