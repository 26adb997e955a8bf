#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A readers-writer lock (`pthread_rwlock_t`, heap-allocated so it never moves): many concurrent
/// readers or one writer. With `preferWriters` (Linux), a waiting writer goes before new readers so
/// a steady stream of readers cannot starve it; a thread must then never take the read lock twice.
public final class ReadWriteLock: @unchecked Sendable {
    // @unchecked: the rwlock is the synchronisation; allocated once and never moved.
    @usableFromInline let rw: UnsafeMutablePointer<pthread_rwlock_t>

    public init(preferWriters: Bool = false) {
        rw = .allocate(capacity: 1)
        rw.initialize(to: pthread_rwlock_t())
        #if canImport(Glibc)
        guard preferWriters else {
            pthread_rwlock_init(rw, nil)
            return
        }
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(rw, &attr)
        pthread_rwlockattr_destroy(&attr)
        #else
        pthread_rwlock_init(rw, nil)
        #endif
    }

    deinit {
        pthread_rwlock_destroy(rw)
        rw.deallocate()
    }

    /// Takes the lock shared; pair with ``unlock()`` (for code whose body throws a typed error).
    @inlinable public func readLock() { pthread_rwlock_rdlock(rw) }
    /// Takes the lock exclusively; pair with ``unlock()``.
    @inlinable public func writeLock() { pthread_rwlock_wrlock(rw) }
    @inlinable public func unlock() { pthread_rwlock_unlock(rw) }

    @inlinable @inline(__always)
    public func withReadLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(rw)
        defer { pthread_rwlock_unlock(rw) }
        return try body()
    }

    @inlinable @inline(__always)
    public func withWriteLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(rw)
        defer { pthread_rwlock_unlock(rw) }
        return try body()
    }
}
