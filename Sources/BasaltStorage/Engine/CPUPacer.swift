#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps a background job (a memtable flush, a compaction) from holding a core for long stretches
/// while it is not behind: each time the thread has used another ``quantumNanos`` of CPU, it sleeps
/// long enough that it runs at most `share` of the wall time. Request-handling threads then find a
/// core within about a quantum, whatever process or scheduling group they are in; thread priorities
/// (nice, `SCHED_IDLE`) do not reach across the kernel's per-session groups, so on a machine
/// shared by several nodes they cannot keep one node's flush off another's event loops.
///
/// The job says at each pause whether it may pace (it is ahead of the work that would otherwise
/// wait for it); when it is behind it runs flat out. Not thread-safe: one per job.
struct CPUPacer {
    /// CPU time between pauses.
    static let quantumNanos: UInt64 = 1_000_000

    /// Fraction of the wall time the job may run while pacing, in (0, 1]; 1 never sleeps.
    let share: Double
    /// Nanoseconds slept so far.
    private(set) var pausedNanos: UInt64 = 0
    private var cpuAtLastPause: UInt64
    private let sleep: (UInt64) -> Void

    /// `sleep` waits the given nanoseconds (injected by tests).
    init(share: Double, sleep: @escaping (UInt64) -> Void = CPUPacer.sleepNanos) {
        self.share = share.isFinite ? min(1, max(0.01, share)) : 1
        self.sleep = sleep
        cpuAtLastPause = Self.threadCPUNanos()
    }

    /// How long to sleep after `worked` nanoseconds of CPU so that the job runs `share` of the time.
    static func pause(afterWorking worked: UInt64, share: Double) -> UInt64 {
        guard share < 1 else { return 0 }
        return UInt64(Double(worked) * (1 - share) / share)
    }

    /// Called between units of work: once a quantum of CPU has been used since the last pause,
    /// asks `mayPace` and, when it allows, sleeps.
    mutating func checkpoint(mayPace: () -> Bool) {
        guard share < 1 else { return }
        let cpu = Self.threadCPUNanos()
        let worked = cpu &- cpuAtLastPause
        guard worked >= Self.quantumNanos else { return }
        if mayPace() {
            let nanos = Self.pause(afterWorking: worked, share: share)
            sleep(nanos)
            pausedNanos &+= nanos
        }
        cpuAtLastPause = cpu
    }

    /// Sleeps the calling thread about `nanos` nanoseconds (at most a second).
    @Sendable static func sleepNanos(_ nanos: UInt64) {
        usleep(UInt32(min(nanos / 1000, 1_000_000)))
    }

    /// CPU time the calling thread has used, nanoseconds.
    static func threadCPUNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
