import BasaltCore
@testable import BasaltCluster
import BasaltStorage
import Testing

@Suite("Repair sessions")
struct RepairSessionTests {
    static let a = NodeAddress(host: "10.0.0.1", port: 7000)
    static let b = NodeAddress(host: "10.0.0.2", port: 7000)
    static let c = NodeAddress(host: "10.0.0.3", port: 7000)
    static let r0 = TokenRange(start: Token(0), end: Token(1_000_000))
    static let r1 = TokenRange(start: Token(1_000_000), end: Token(2_000_000))

    static func settings(depth: Int = 4, parallel: Int = 1) -> RepairSession.Settings {
        var s = RepairSession.Settings()
        s.depth = depth
        s.treeTimeoutNanos = 1_000
        s.parallelRanges = parallel
        return s
    }

    /// A tree over `range` with one partition digest per given token.
    static func tree(_ range: TokenRange, _ tokens: [Int64], depth: Int = 4, salt: UInt64 = 0) -> MerkleTree {
        var t = MerkleTree(range: range, depth: depth)
        for token in tokens { t.add(token: Token(token), digest: ResultDigest((UInt64(bitPattern: token) ^ salt, 1))) }
        return t
    }

    static func requests(_ actions: [RepairSession.Action]) -> [(Int, NodeAddress)] {
        actions.compactMap { if case let .requestTree(i, _, r, _) = $0 { (i, r) } else { nil } }
    }

    static func syncs(_ actions: [RepairSession.Action]) -> [RepairSession.SyncTask] {
        actions.compactMap { if case let .sync(t) = $0 { t } else { nil } }
    }

    static func outcome(_ actions: [RepairSession.Action]) -> RepairSession.Outcome? {
        actions.compactMap { if case let .finished(o) = $0 { o } else { nil } }.first
    }

    @Test func identicalTreesNeedNoSyncAndRangesGoOneAtATime() {
        var s = RepairSession(jobs: [.init(range: Self.r0, replicas: [Self.a, Self.b, Self.c]), .init(range: Self.r1, replicas: [Self.a, Self.b])],
                              settings: Self.settings())
        let first = s.start(now: 0)
        #expect(Self.requests(first).map(\.0) == [0, 0, 0])  // range 1 waits for range 0
        #expect(first.contains(.scheduleTick(atNanos: 1_000)))
        let data = Self.tree(Self.r0, [5, 500_000, 999_999])
        #expect(s.onTree(rangeIndex: 0, replica: Self.a, tree: data, now: 1).isEmpty)
        #expect(s.onTree(rangeIndex: 0, replica: Self.b, tree: data, now: 2).isEmpty)
        let next = s.onTree(rangeIndex: 0, replica: Self.c, tree: data, now: 3)
        #expect(Self.syncs(next).isEmpty)
        #expect(Self.requests(next).map(\.0) == [1, 1])
        #expect(s.onTree(rangeIndex: 1, replica: Self.a, tree: Self.tree(Self.r1, []), now: 4).isEmpty)
        let done = s.onTree(rangeIndex: 1, replica: Self.b, tree: Self.tree(Self.r1, []), now: 5)
        #expect(Self.outcome(done) == RepairSession.Outcome(ranges: [.init(range: Self.r0, status: .inSync), .init(range: Self.r1, status: .inSync)]))
        #expect(s.isFinished)
        #expect(s.onTick(now: 10_000).isEmpty)  // nothing after the end
    }

    @Test func differingTreesGiveSyncTasksBothWaysForTheDifferingSubRangesOnly() {
        var s = RepairSession(jobs: [.init(range: Self.r0, replicas: [Self.a, Self.b, Self.c])], settings: Self.settings())
        _ = s.start(now: 0)
        let common: [Int64] = [10, 300_000, 700_000]
        _ = s.onTree(rangeIndex: 0, replica: Self.a, tree: Self.tree(Self.r0, common), now: 1)
        _ = s.onTree(rangeIndex: 0, replica: Self.b, tree: Self.tree(Self.r0, common + [800_000]), now: 1)  // b has one more
        let actions = s.onTree(rangeIndex: 0, replica: Self.c, tree: Self.tree(Self.r0, common), now: 1)
        let tasks = Self.syncs(actions)
        // a≠b and b≠c, a=c, in the one leaf holding token 800,000, where only b has data: b sends
        // it to a and to c; a and c have nothing there to send.
        #expect(Set(tasks.map { [$0.source, $0.target] }) == [[Self.b, Self.a], [Self.b, Self.c]])
        for t in tasks {
            #expect(t.ranges.count == 1 && t.ranges[0].contains(Token(800_000)))
            #expect(!t.ranges[0].contains(Token(700_000)))
        }
        #expect(Self.outcome(actions) == nil)
        #expect(s.progress.syncTasksStarted == 2 && s.progress.validated == 1 && s.progress.outOfSync == 1)
        for t in tasks.dropLast() { #expect(Self.outcome(s.onSyncFinished(taskId: t.id, error: nil, now: 2)) == nil) }
        let end = s.onSyncFinished(taskId: tasks.last!.id, error: nil, now: 2)
        #expect(Self.outcome(end)?.ranges == [.init(range: Self.r0, status: .synced(differingRanges: 1, tasks: 2))])
        #expect(Self.outcome(end)?.succeeded == true)
    }

    @Test func aMissingReplyFailsItsRangeAtTheDeadlineAndTheOthersGoOn() {
        var s = RepairSession(jobs: [.init(range: Self.r0, replicas: [Self.a, Self.b]), .init(range: Self.r1, replicas: [Self.a, Self.b])],
                              settings: Self.settings())
        _ = s.start(now: 0)
        _ = s.onTree(rangeIndex: 0, replica: Self.a, tree: Self.tree(Self.r0, [1]), now: 1)
        #expect(s.onTick(now: 999).isEmpty)  // before the deadline nothing happens
        let late = s.onTick(now: 1_000)
        #expect(Self.requests(late).map(\.0) == [1, 1])
        // The late tree is ignored; the range stays failed.
        #expect(s.onTree(rangeIndex: 0, replica: Self.b, tree: Self.tree(Self.r0, [1]), now: 1_001).isEmpty)
        _ = s.onTree(rangeIndex: 1, replica: Self.a, tree: Self.tree(Self.r1, [1_500_000]), now: 1_002)
        let end = s.onTree(rangeIndex: 1, replica: Self.b, tree: Self.tree(Self.r1, [1_500_000]), now: 1_003)
        let outcome = Self.outcome(end)
        #expect(outcome?.succeeded == false)
        guard case let .failed(reason)? = outcome?.ranges.first?.status else {
            Issue.record("range 0 should have failed: \(String(describing: outcome))")
            return
        }
        #expect(reason.contains("\(Self.b)") && reason.contains("no Merkle tree"))
        #expect(outcome?.ranges.last?.status == .inSync)
    }

    @Test func peerDeathFailsTheRangesWaitingOnItOrSyncingWithIt() {
        var s = RepairSession(jobs: [.init(range: Self.r0, replicas: [Self.a, Self.b]), .init(range: Self.r1, replicas: [Self.a, Self.c])],
                              settings: Self.settings(parallel: 2))
        let first = s.start(now: 0)
        #expect(Self.requests(first).count == 4)  // two ranges at once
        _ = s.onTree(rangeIndex: 0, replica: Self.a, tree: Self.tree(Self.r0, [1]), now: 1)
        let tasks = Self.syncs(s.onTree(rangeIndex: 0, replica: Self.b, tree: Self.tree(Self.r0, [2]), now: 1))
        #expect(tasks.count == 2)
        let down = s.onPeerDown(Self.b, now: 2)  // syncing with b: range 0 fails; range 1 does not involve b
        #expect(Self.outcome(down) == nil)
        #expect(s.onSyncFinished(taskId: tasks[0].id, error: nil, now: 3).isEmpty)  // of a failed range: ignored
        _ = s.onTree(rangeIndex: 1, replica: Self.a, tree: Self.tree(Self.r1, []), now: 3)
        let end = s.onPeerDown(Self.c, now: 4)
        let outcome = Self.outcome(end)
        #expect(outcome?.ranges.count == 2)
        for r in outcome?.ranges ?? [] {
            guard case let .failed(reason) = r.status else { Issue.record("\(r) should have failed"); continue }
            #expect(reason.contains("went down"))
        }
    }

    @Test func rangesNotYetStartedFailAtOnceWhenTheyNeedADeadReplica() {
        let r2 = TokenRange(start: Token(2_000_000), end: Token(3_000_000))
        var s = RepairSession(jobs: [.init(range: Self.r0, replicas: [Self.a, Self.c]), .init(range: Self.r1, replicas: [Self.a, Self.c]),
                                     .init(range: r2, replicas: [Self.a, Self.b])],
                              settings: Self.settings())
        _ = s.start(now: 0)
        let after = s.onPeerDown(Self.c, now: 1)
        // Range 0 (asked) and range 1 (waiting) fail without asking c again; range 2 goes on.
        #expect(Self.requests(after).map(\.0) == [2, 2])
        #expect(s.onTick(now: 2).isEmpty)
        _ = s.onTree(rangeIndex: 2, replica: Self.a, tree: Self.tree(r2, []), now: 3)
        let outcome = Self.outcome(s.onTree(rangeIndex: 2, replica: Self.b, tree: Self.tree(r2, []), now: 4))
        #expect(outcome?.ranges.map(\.status) == [.failed("replica \(Self.c) went down during validation"), .failed("replica \(Self.c) is down"), .inSync])
    }

    @Test func aFailedSyncOrABadTreeFailsOnlyItsRange() {
        var s = RepairSession(jobs: [.init(range: Self.r0, replicas: [Self.a, Self.b]), .init(range: Self.r1, replicas: [Self.a, Self.b]),
                                     .init(range: Self.r1, replicas: [Self.a])],
                              settings: Self.settings())
        _ = s.start(now: 0)
        _ = s.onTree(rangeIndex: 0, replica: Self.a, tree: Self.tree(Self.r0, [1]), now: 1)
        let compared = s.onTree(rangeIndex: 0, replica: Self.b, tree: Self.tree(Self.r0, [1], salt: 9), now: 1)
        let tasks = Self.syncs(compared)
        #expect(tasks.count == 2)
        #expect(Self.requests(compared).map(\.0) == [1, 1])  // range 0 syncs while range 1 validates
        let next = s.onSyncFinished(taskId: tasks[0].id, error: "connection reset", now: 2)
        #expect(Self.requests(next).isEmpty && Self.outcome(next) == nil)
        let bad = s.onTree(rangeIndex: 1, replica: Self.a, tree: Self.tree(Self.r0, []), now: 3)  // a tree over another range
        let outcome = Self.outcome(bad)
        #expect(outcome?.ranges.map(\.status).count == 3)
        if case let .failed(r)? = outcome?.ranges[0].status { #expect(r.contains("connection reset")) } else { Issue.record("range 0") }
        if case let .failed(r)? = outcome?.ranges[1].status { #expect(r.contains("returned a tree over")) } else { Issue.record("range 1") }
        #expect(outcome?.ranges[2].status == .inSync)  // one replica: nothing to compare
    }
}
