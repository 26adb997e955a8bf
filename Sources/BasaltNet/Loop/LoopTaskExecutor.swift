import Dispatch

/// A task executor on an event loop: a task created with `Task(executorPreference:)` on it runs its
/// non-isolated code on the loop's thread, so a request handled in a task stays on its connection's
/// loop across awaits instead of moving through Swift's global thread pool (a thread wake-up per
/// hop). Work done this way competes with the loop's I/O: keep it short and non-blocking.
///
/// Jobs that arrive after the loop stopped accepting tasks run on the global concurrent executor,
/// so tasks still in flight when a node shuts down finish instead of being lost.
public final class LoopTaskExecutor: TaskExecutor {
    public let loop: EventLoop

    public init(loop: EventLoop) { self.loop = loop }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        let accepted = loop.execute { unownedJob.runSynchronously(on: self.asUnownedTaskExecutor()) }
        if !accepted {
            DispatchQueue.global().async { unownedJob.runSynchronously(on: globalConcurrentExecutor.asUnownedTaskExecutor()) }
        }
    }
}
