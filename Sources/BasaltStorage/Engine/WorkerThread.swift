#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated OS thread running one closure (the commit-log sync loop, a flush or compaction
/// worker, an index build). Storage work never runs on an event-loop thread or the cooperative pool.
public final class WorkerThread: @unchecked Sendable {
    // @unchecked: `thread` is written once in init and read only by join().
    private final class Box {
        let body: () -> Void
        let name: String
        init(_ name: String, _ body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    private var thread = pthread_t()

    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            // Named threads would need pthread_setname_np, which Glibc's module map does not export.
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    public func join() {
        pthread_join(thread, nil)
    }

    /// Lets the thread end on its own; nobody will join it.
    public func detach() {
        pthread_detach(thread)
    }
}
