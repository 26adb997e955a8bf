#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutual-exclusion lock for short critical sections (a heap-allocated `pthread_mutex_t`, so it
/// never moves). Used where state is shared across threads outside any event loop.
public final class Lock: @unchecked Sendable {
    // @unchecked: the mutex itself is the synchronisation; it is allocated once and never moved.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable public func lock() { pthread_mutex_lock(mutex) }
    @inlinable public func unlock() { pthread_mutex_unlock(mutex) }

    @inlinable
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A lock with a condition variable, for threads that wait for work or for an event (the commit-log
/// sync thread, flush and compaction workers).
public final class ConditionLock: @unchecked Sendable {
    // @unchecked: mutex and condition are heap-allocated once; all shared state is guarded by them.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        Self.initialize(cond)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    @inlinable public func lock() { pthread_mutex_lock(mutex) }
    @inlinable public func unlock() { pthread_mutex_unlock(mutex) }

    @inlinable
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a signal; the lock must be held. Spurious wake-ups happen: re-check the predicate.
    @inlinable public func wait() { pthread_cond_wait(cond, mutex) }

    /// Waits at most `nanos` nanoseconds; the lock must be held. Returns false on timeout.
    @discardableResult
    public func wait(nanos: UInt64) -> Bool { Self.wait(cond, mutex, nanos: nanos) }

    @inlinable public func signal() { pthread_cond_signal(cond) }
    @inlinable public func broadcast() { pthread_cond_broadcast(cond) }

    /// A further condition variable on this lock's mutex, for one kind of waiter to be woken
    /// without waking the others (the commit log's sync thread apart from blocked writers).
    public func makeCondition() -> Condition { Condition(lock: self) }

    /// A condition variable sharing a ``ConditionLock``'s mutex; wait on it with that lock held.
    public final class Condition: @unchecked Sendable {
        // @unchecked: the condition is heap-allocated once and used under the lock's mutex.
        private let lock: ConditionLock
        private let cond: UnsafeMutablePointer<pthread_cond_t>

        init(lock: ConditionLock) {
            self.lock = lock
            cond = .allocate(capacity: 1)
            cond.initialize(to: pthread_cond_t())
            ConditionLock.initialize(cond)
        }

        deinit {
            pthread_cond_destroy(cond)
            cond.deallocate()
        }

        /// Waits at most `nanos` nanoseconds; the lock must be held. Returns false on timeout.
        @discardableResult
        public func wait(nanos: UInt64) -> Bool { ConditionLock.wait(cond, lock.mutex, nanos: nanos) }

        public func signal() { pthread_cond_signal(cond) }
    }

    /// Initialises `cond` to time its waits on the monotonic clock where there is one.
    fileprivate static func initialize(_ cond: UnsafeMutablePointer<pthread_cond_t>) {
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        #if os(Linux)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    fileprivate static func wait(
        _ cond: UnsafeMutablePointer<pthread_cond_t>, _ mutex: UnsafeMutablePointer<pthread_mutex_t>, nanos: UInt64
    ) -> Bool {
        var ts = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_MONOTONIC, &ts)
        #else
        clock_gettime(CLOCK_REALTIME, &ts)
        #endif
        let total = UInt64(ts.tv_nsec) + nanos % 1_000_000_000
        ts.tv_sec += Int(nanos / 1_000_000_000) + Int(total / 1_000_000_000)
        ts.tv_nsec = Int(total % 1_000_000_000)
        return pthread_cond_timedwait(cond, mutex, &ts) == 0
    }
}
