import Logging
import Synchronization

/// A fixed set of ``EventLoop``s, one thread each, handed out round-robin by ``next()``.
public final class EventLoopGroup: Sendable {
    /// The loops, in creation order.
    public let loops: [EventLoop]
    private let cursor = Atomic<Int>(0)

    /// Starts `threads` loops named `\(name)-0`, `\(name)-1`, ….
    public init(threads: Int, name: String = "basalt-loop", logger: Logger = Logger(label: "basalt.net.loop")) {
        precondition(threads > 0, "an EventLoopGroup needs at least one thread")
        loops = (0 ..< threads).map { EventLoop(name: "\(name)-\($0)", logger: logger) }
    }

    /// The next loop in round-robin order. Callable from any thread.
    public func next() -> EventLoop {
        let i = cursor.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[Int(UInt(bitPattern: i) % UInt(loops.count))]
    }

    /// The loop whose thread is the caller's, if any.
    public var currentLoop: EventLoop? { loops.first { $0.inEventLoop } }

    /// Shuts every loop down (closing all their handles) and joins their threads. Blocks; must not be
    /// called on one of the group's loops.
    public func shutdown() {
        for loop in loops { loop.shutdown() }
    }

    /// Async form of ``shutdown()`` that never blocks the caller's executor.
    public func shutdownGracefully() async {
        for loop in loops { await loop.shutdownGracefully() }
    }
}
