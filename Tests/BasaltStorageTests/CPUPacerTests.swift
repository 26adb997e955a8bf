import BasaltCore
@testable import BasaltStorage
import Testing

/// Pacing of background work (`background_cpu_share`): the arithmetic, the pauses a busy thread
/// takes, and which flushes pace.
@Suite("CPU pacer")
struct CPUPacerTests {
    @Test func pauseKeepsTheJobToItsShare() {
        #expect(CPUPacer.pause(afterWorking: 1_000_000, share: 0.25) == 3_000_000)
        #expect(CPUPacer.pause(afterWorking: 2_000_000, share: 0.5) == 2_000_000)
        #expect(CPUPacer.pause(afterWorking: 5_000_000, share: 1) == 0)
        // Out-of-range shares are clamped: never a division by zero, never a negative pause.
        #expect(CPUPacer(share: 0).share == 0.01)
        #expect(CPUPacer(share: 7).share == 1)
        #expect(CPUPacer(share: .nan).share == 1)
    }

    /// Burns CPU, checkpointing often; returns the CPU it used and the pacer.
    private func busy(share: Double, mayPace: Bool, cpuNanos: UInt64) -> (UInt64, CPUPacer, Int) {
        var slept = 0
        var pacer = CPUPacer(share: share, sleep: { _ in slept += 1 })
        let start = CPUPacer.threadCPUNanos()
        var x: UInt64 = 1
        while CPUPacer.threadCPUNanos() &- start < cpuNanos {
            for i in 0 ..< 1_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
            pacer.checkpoint { mayPace }
        }
        #expect(x != 0)
        return (CPUPacer.threadCPUNanos() &- start, pacer, slept)
    }

    /// A busy job pauses (1 − share) / share of the CPU it used, once per quantum, give or take the
    /// quantum still running at the end.
    @Test func aBusyJobPausesInProportion() {
        let (cpu, pacer, sleeps) = busy(share: 0.25, mayPace: true, cpuNanos: 30_000_000)
        let q = CPUPacer.quantumNanos
        #expect(pacer.pausedNanos >= 3 * (cpu - q) - 3 * q / 2)
        #expect(pacer.pausedNanos <= 3 * cpu)
        // About one pause per quantum (a loaded machine only makes each stretch longer).
        #expect(sleeps >= 1 && sleeps <= Int(cpu / q))
    }

    @Test func aJobThatIsBehindRunsFlatOut() {
        let (_, behind, sleptBehind) = busy(share: 0.25, mayPace: false, cpuNanos: 10_000_000)
        #expect(behind.pausedNanos == 0 && sleptBehind == 0)
        let (_, unpaced, sleptUnpaced) = busy(share: 1, mayPace: true, cpuNanos: 10_000_000)
        #expect(unpaced.pausedNanos == 0 && sleptUnpaced == 0)
    }

    private func config(share: Double) -> StorageConfig {
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 100_000_000)
        c.memtableSizeLimitBytes = 4 << 20
        c.automaticCompaction = false
        c.backgroundCPUShare = share
        return c
    }

    /// A flush started by a full memtable paces while it is ahead of the new memtable; one that
    /// someone waits for (`flush(tableId:)`, drain, `nodetool flush`) does not. Both keep every write.
    @Test func automaticFlushesPaceAndRequestedOnesDoNot() throws {
        let schema = TestSchemas.keyValue()
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(share: 0.25), tables: [schema], logger: .test)
        defer { e.close() }
        for i in 0 ..< 20_000 { try e.apply(kvMutation(schema, i)) }
        try e.flush(tableId: schema.id)
        #expect(e.counters.flushes == 1)
        #expect(e.counters.backgroundPausedNanos == 0)
        // Enough for a full memtable (4 MiB) and then some: its flush is automatic.
        var i = 20_000
        while e.counters.flushes < 2 || i < 150_000 {
            try e.apply(kvMutation(schema, i))
            i += 1
            #expect(i < 2_000_000)
            if i >= 2_000_000 { break }
        }
        e.waitForBackgroundWork()
        #expect(e.counters.flushes >= 2)
        #expect(e.counters.backgroundPausedNanos > 0)
        for k in [0, 19_999, 20_000, i / 2, i - 1] { #expect(try kvValue(e, schema, k) == Array("value-\(k)".utf8)) }
    }

    /// While someone waits for background work (drain, `nodetool flush`, a snapshot, a major
    /// compaction, shutdown), flushes and compactions already running stop pacing.
    @Test func waitersStopThePacing() throws {
        let schema = TestSchemas.keyValue()
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(share: 0.25), tables: [schema], logger: .test)
        defer { e.close() }
        let t = try e.table(schema.id)
        #expect(e.flushIsAhead(t, progress: 0.5))
        #expect(e.compactionIsAhead(t))
        e.awaitingBackgroundWork {
            #expect(!e.flushIsAhead(t, progress: 0.5))
            #expect(!e.compactionIsAhead(t))
        }
        #expect(e.flushIsAhead(t, progress: 0.1))
        // The new memtable (a quarter or more of its 4 MiB) is fuller than a flush 10 % along is done:
        // that flush is behind, one done with all of its memtable is not.
        for i in 0 ..< 20_000 { try e.apply(kvMutation(schema, i)) }
        #expect(!e.flushIsAhead(t, progress: 0.1))
        #expect(e.flushIsAhead(t, progress: 1))
    }
}
