/// A mutable value that belongs to one ``EventLoop``: reading or writing it off the loop's thread
/// traps in debug builds. This makes ownership explicit for state shared by closures that are
/// `Sendable` only because they run on the loop.
public final class LoopBoundBox<Value>: @unchecked Sendable {
    // @unchecked: `storage` is only accessed through `value`, which asserts the loop thread.
    public let loop: EventLoop
    @usableFromInline var storage: Value

    public init(_ value: Value, loop: EventLoop) {
        self.loop = loop
        self.storage = value
    }

    /// The value; loop thread only. Mutates in place (no copy-on-write copy).
    @inlinable
    public var value: Value {
        get {
            loop.assertInEventLoop()
            return storage
        }
        _modify {
            loop.assertInEventLoop()
            yield &storage
        }
    }
}
