#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMalloc

/// A dedicated OS thread running one closure (the commit-log sync loop, a flush or compaction
/// worker, an index build). Storage work never runs on an event-loop thread or the cooperative pool.
public final class WorkerThread: @unchecked Sendable {
    // @unchecked: `thread` is written once in init and read only by join().
    private final class Box {
        let body: () -> Void
        let name: String
        let niceness: Int32
        init(_ name: String, _ niceness: Int32, _ body: @escaping () -> Void) {
            self.name = name
            self.niceness = niceness
            self.body = body
        }
    }

    private var thread = pthread_t()

    /// `niceness` above zero lowers the thread's CPU priority (background work that must not take
    /// the cores from request handling while it has spare time; Linux gives each thread its own).
    public init(name: String, niceness: Int32 = 0, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name, niceness, body)).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            _ = basalt_set_thread_name(b.name)
            if b.niceness > 0 { WorkerThread.lowerPriority(by: b.niceness) }
            b.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    public func join() {
        pthread_join(thread, nil)
    }

    /// Raises the calling thread's nice value by `niceness` (failure leaves it as it was: lowering
    /// one's own priority is always allowed, so failure means a platform without per-thread nice).
    static func lowerPriority(by niceness: Int32) {
        #if os(Linux)
        // On Linux, PRIO_PROCESS with id 0 names the calling thread, not the whole process.
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        if errno == 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, min(19, current + niceness)) }
        #endif
    }

    /// Lets the thread end on its own; nobody will join it.
    public func detach() {
        pthread_detach(thread)
    }
}
