import Testing
@testable import BasaltClient

/// Node liveness and reconnection backoff, as a pure value.
struct NodeHealthTests {
    let ms: UInt64 = 1_000_000

    @Test func failedConnectsBackOffDoublingUpToTheMaximum() {
        var h = NodeHealth(initialDelayNanos: 100 * ms, maxDelayNanos: 1000 * ms)
        var delays: [UInt64] = []
        for _ in 0 ..< 6 {
            guard case let .retry(d) = h.connectFailed(now: 0) else { Issue.record("no retry"); return }
            delays.append(d / ms)
            #expect(h.retryDue(now: d) == .connect)
        }
        #expect(delays == [100, 200, 400, 800, 1000, 1000])
        h.connected()
        #expect(h.isUp && h.consecutiveFailures == 0)
        #expect(h.connectFailed(now: 0) == .retry(afterNanos: 100 * ms))
    }

    @Test func losingTheLastConnectionRetriesAfterTheInitialDelay() {
        var h = NodeHealth(initialDelayNanos: 100 * ms, maxDelayNanos: 1000 * ms)
        #expect(h.allConnectionsLost(now: 0) == .none)  // never was up
        h.connected()
        #expect(h.allConnectionsLost(now: 5) == .retry(afterNanos: 100 * ms))
        #expect(!h.isUp)
        #expect(h.retryDue(now: 50 * ms) == .none)  // too early
        #expect(h.retryDue(now: 105 * ms) == .connect)
        #expect(h.state == .connecting)
    }

    @Test func anUpEventMakesTheNextAttemptImmediate() {
        var h = NodeHealth(initialDelayNanos: 100 * ms, maxDelayNanos: 1000 * ms)
        for _ in 0 ..< 4 { _ = h.connectFailed(now: 0) }
        #expect(h.reportedUp() == .connect)
        #expect(h.reportedUp() == .none)  // already connecting
        // The timer of the earlier retry finds nothing to do.
        #expect(h.retryDue(now: 900 * ms) == .none)
        // The backoff starts over.
        #expect(h.connectFailed(now: 0) == .retry(afterNanos: 100 * ms))
    }

    @Test func closedStaysClosed() {
        var h = NodeHealth(initialDelayNanos: ms, maxDelayNanos: ms)
        h.close()
        h.connected()
        #expect(h.connectFailed(now: 0) == .none)
        #expect(h.reportedUp() == .none)
        #expect(h.state == .closed)
    }
}
