import BasaltCore
import DequeModule

/// A fixed set of worker threads running submitted jobs in order, with a bounded queue.
public final class BackgroundExecutor: @unchecked Sendable {
    // @unchecked: the queue and flags are guarded by `cond`.
    private let cond = ConditionLock()
    private var queue = Deque<@Sendable () -> Void>()
    private var running = 0
    private var stopping = false
    private var threads: [WorkerThread] = []
    let queueLimit: Int

    /// `niceness`: see ``WorkerThread/init(name:niceness:_:)``.
    public init(name: String, threads n: Int, queueLimit: Int, niceness: Int32 = 0) {
        self.queueLimit = queueLimit
        for i in 0 ..< max(1, n) {
            threads.append(WorkerThread(name: "\(name)-\(i)", niceness: niceness) { [self] in work() })
        }
    }

    /// Queues a job; false when the queue is full or the executor is stopping.
    @discardableResult
    public func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        cond.withLock {
            guard !stopping, queue.count < queueLimit else { return false }
            queue.append(job)
            cond.signal()
            return true
        }
    }

    /// Jobs queued or running.
    var pending: Int { cond.withLock { queue.count + running } }

    /// Jobs queued and not yet running.
    var queued: Int { cond.withLock { queue.count } }

    /// Waits until the queue is empty and no job runs.
    func waitIdle() {
        cond.withLock {
            while !queue.isEmpty || running > 0 { cond.wait(nanos: 50_000_000) }
        }
    }

    private func work() {
        cond.lock()
        while true {
            while queue.isEmpty && !stopping { cond.wait() }
            guard let job = queue.popFirst() else { break }
            running += 1
            cond.unlock()
            job()
            cond.lock()
            running -= 1
            cond.broadcast()
        }
        cond.unlock()
    }

    /// Runs what is queued, then stops the threads (`dropQueued` discards queued jobs instead).
    public func shutdown(dropQueued: Bool) {
        cond.withLock {
            stopping = true
            if dropQueued { queue.removeAll() }
            cond.broadcast()
        }
        for t in threads { t.join() }
        threads = []
    }
}
