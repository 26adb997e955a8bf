/// An event loop is a serial executor: an actor whose `unownedExecutor` returns
/// `loop.asUnownedSerialExecutor()` runs all its code on the loop's thread, interleaved with the
/// loop's I/O callbacks, so it can touch loop-bound objects (connections, timers) directly.
///
/// Jobs enqueued after the loop has shut down cannot run anywhere; that is a programming error and
/// traps with a message naming the loop.
extension EventLoop: SerialExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        let accepted = execute {
            unownedJob.runSynchronously(on: self.asUnownedSerialExecutor())
        }
        precondition(accepted, "\(name): an actor using this loop as its executor was used after shutdown")
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func isSameExclusiveExecutionContext(other: EventLoop) -> Bool { other === self }

    public func checkIsolated() {
        precondition(inEventLoop, "\(name): expected to run on this loop's thread")
    }
}
