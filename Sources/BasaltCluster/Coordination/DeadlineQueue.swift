import BasaltCore
import BasaltNet
import HeapModule
import Synchronization

/// The deadlines of many requests on one repeating loop timer: scheduling and cancelling take a
/// lock and never hop to a loop, so a request's timeouts cost no cross-thread wake-up. Deadlines
/// fire within `resolution` after they are due, on the timer's loop; a cancelled deadline never
/// fires.
final class DeadlineQueue: Sendable {
    struct Token: Hashable, Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry: Comparable {
        var due: UInt64
        var id: UInt64
        static func < (a: Entry, b: Entry) -> Bool { a.due != b.due ? a.due < b.due : a.id < b.id }
    }

    private struct State {
        var heap = Heap<Entry>()
        var bodies: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())
    private let clock: any Clock
    private let timer = Mutex<LoopTimer?>(nil)

    init(loop: EventLoop, resolution: Duration = .milliseconds(5), clock: any Clock) {
        self.clock = clock
        let t = loop.scheduleRepeatingTimer(every: resolution) { [weak self] in self?.fireDue() }
        timer.withLock { $0 = t }
    }

    /// Runs `body` once `delay` has passed, unless cancelled first.
    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> Token {
        let due = clock.monotonicNanos() + delay.wholeNanoseconds
        return state.withLock { s in
            s.nextID += 1
            s.heap.insert(Entry(due: due, id: s.nextID))
            s.bodies[s.nextID] = body
            return Token(id: s.nextID)
        }
    }

    func cancel(_ token: Token) {
        _ = state.withLock { $0.bodies.removeValue(forKey: token.id) }
    }

    /// Stops the timer; pending deadlines never fire.
    func stop() {
        timer.withLock { $0?.cancel(); $0 = nil }
        state.withLock { $0 = State() }
    }

    private func fireDue() {
        let now = clock.monotonicNanos()
        let due: [@Sendable () -> Void] = state.withLock { s in
            var out: [@Sendable () -> Void] = []
            while let first = s.heap.min, first.due <= now {
                _ = s.heap.popMin()
                if let body = s.bodies.removeValue(forKey: first.id) { out.append(body) }
            }
            // Cancelled entries left in the heap are dropped when they come due; bound their number.
            if s.heap.count > 4 * s.bodies.count + 1024 {
                s.heap = Heap(s.heap.unordered.filter { s.bodies[$0.id] != nil })
            }
            return out
        }
        for body in due { body() }
    }
}
