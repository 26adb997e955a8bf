import Testing
@testable import BasaltStorage

struct CommitLogWriteGateTests {
    let enospc = StorageError.io(path: "/d/commitlog/CommitLog-7.log", operation: "write", errno: 28)
    let eio = StorageError.io(path: "/d/commitlog/CommitLog-7.log", operation: "fdatasync", errno: 5)
    let second: UInt64 = 1_000_000_000

    @Test func stopRefusesWritesProbesEverySecondAndResumesOnceTheDiskWorks() {
        var g = CommitLogWriteGate(policy: .stop)
        #expect(g.refusal == nil)
        #expect(g.onWriteFailure(enospc, nowNanos: 10 * second) == [.logRefusing(enospc)])
        // The writer's error says what cannot be done and why, in words.
        #expect(g.refusal?.description.contains("the commit log cannot be written: no space left on device") == true)
        // A second failure already under way says nothing new.
        #expect(g.onWriteFailure(enospc, nowNanos: 10 * second + 5).isEmpty)
        #expect(!g.isProbeDue(nowNanos: 10 * second + second / 2))
        #expect(g.nanosUntilProbe(nowNanos: 10 * second + second / 2) == second / 2)
        #expect(g.isProbeDue(nowNanos: 11 * second))
        // Failed probes keep refusing, quietly, with the newest error, one second apart.
        #expect(g.onProbe(.failure(eio), nowNanos: 11 * second).isEmpty)
        #expect(g.refusal?.description.contains("input/output error") == true)
        #expect(!g.isProbeDue(nowNanos: 11 * second + 1))
        #expect(g.isProbeDue(nowNanos: 12 * second))
        #expect(g.onProbe(.success(()), nowNanos: 12 * second) == [.logResumed(refusedNanos: 2 * second, probes: 2)])
        #expect(g.refusal == nil)
        #expect(g.state == .open)
        #expect(g.failures == 2)
        // A later failure closes it again.
        #expect(g.onWriteFailure(eio, nowNanos: 20 * second) == [.logRefusing(eio)])
        #expect(g.refusal != nil)
    }

    @Test func stopCommitRefusesUntilRestartAndNeverProbes() {
        var g = CommitLogWriteGate(policy: .stopCommit)
        #expect(g.onWriteFailure(enospc, nowNanos: 0) == [.logRefusing(enospc)])
        for s in 1 ... 100 { #expect(!g.isProbeDue(nowNanos: UInt64(s) * second)) }
        #expect(g.nanosUntilProbe(nowNanos: second) == nil)
        #expect(g.refusal != nil)
    }

    @Test func dieExitsAndNeverProbes() {
        var g = CommitLogWriteGate(policy: .die)
        #expect(g.onWriteFailure(eio, nowNanos: 0) == [.logRefusing(eio), .exitProcess(eio)])
        #expect(!g.isProbeDue(nowNanos: 100 * second))
        #expect(g.refusal != nil)
    }

    @Test func ignoreNeverRefusesAndLogsAtMostEveryTenSeconds() {
        var g = CommitLogWriteGate(policy: .ignore)
        #expect(g.onWriteFailure(enospc, nowNanos: 0) == [.logIgnored(enospc)])
        #expect(g.refusal == nil)
        #expect(g.onWriteFailure(enospc, nowNanos: 9 * second).isEmpty)
        #expect(g.onWriteFailure(enospc, nowNanos: 10 * second) == [.logIgnored(enospc)])
        #expect(g.refusal == nil)
        #expect(g.failures == 3)
    }

    @Test func customProbeInterval() {
        var g = CommitLogWriteGate(policy: .stop, probeIntervalNanos: 250_000_000)
        _ = g.onWriteFailure(enospc, nowNanos: 0)
        #expect(!g.isProbeDue(nowNanos: 249_999_999))
        #expect(g.isProbeDue(nowNanos: 250_000_000))
    }

    @Test func diskFailurePolicyResponses() {
        #expect(DiskFailurePolicy.bestEffort.response(to: .io) == nil)
        #expect(DiskFailurePolicy.bestEffort.response(to: .corruptSSTable) == nil)
        #expect(DiskFailurePolicy.ignore.response(to: .io) == nil)
        #expect(!DiskFailurePolicy.ignore.retriesCompaction)
        #expect(DiskFailurePolicy.bestEffort.retriesCompaction)
        #expect(DiskFailurePolicy.stop.response(to: .io) == .stopNode)
        #expect(DiskFailurePolicy.stop.response(to: .corruptSSTable) == nil)
        #expect(DiskFailurePolicy.stopParanoid.response(to: .corruptSSTable) == .stopNode)
        #expect(DiskFailurePolicy.die.response(to: .io) == .exitProcess)
        #expect(DiskFailurePolicy.die.response(to: .corruptSSTable) == .exitProcess)
        #expect(DiskFailurePolicy(rawValue: "stop_paranoid") == .stopParanoid)
        #expect(CommitFailurePolicy(rawValue: "stop_commit") == .stopCommit)
    }
}
