@testable import BasaltNet
import Testing

struct OutboundStateMachineTests {
    let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2)

    @Test func firstMessageConnectsAndLaterOnesQueueUntilOpen() {
        var machine = OutboundStateMachine(backoff: backoff)
        #expect(machine.onSend() == .connectAndEnqueue)
        #expect(machine.onSend() == .enqueue)
        #expect(machine.onConnected() == .sendHandshakeAndFlush(isReconnect: false))
        #expect(machine.onSend() == .write)
    }

    @Test func failuresBackOffExponentiallyAndSuccessResets() {
        var machine = OutboundStateMachine(backoff: backoff)
        var delays: [Duration] = []
        for _ in 0 ..< 6 {
            #expect(machine.onSend() == .connectAndEnqueue)
            guard case let .failQueuedAndBackOff(delay) = machine.onConnectFailed(reason: "ECONNREFUSED") else {
                Issue.record("expected a backoff")
                return
            }
            delays.append(delay)
            #expect(machine.onSend() == .rejectUnreachable(reason: "ECONNREFUSED"))
            machine.onBackoffElapsed()
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(machine.onSend() == .connectAndEnqueue)
        #expect(machine.onConnected() == .sendHandshakeAndFlush(isReconnect: false))
        #expect(machine.consecutiveFailures == 0)
    }

    @Test func aClosedConnectionReconnectsOnTheNextMessage() {
        var machine = OutboundStateMachine(backoff: backoff)
        _ = machine.onSend()
        _ = machine.onConnected()
        machine.onConnectionClosed()
        #expect(machine.state == .idle)
        #expect(machine.onSend() == .connectAndEnqueue)
        #expect(machine.onConnected() == .sendHandshakeAndFlush(isReconnect: true))
    }

    @Test func shutdownIsFinal() {
        var machine = OutboundStateMachine(backoff: backoff)
        _ = machine.onSend()
        machine.onShutdown()
        #expect(machine.onConnected() == .close)
        #expect(machine.onConnectFailed(reason: "x") == .none)
        #expect(machine.onSend() == .rejectShutDown)
        machine.onBackoffElapsed()
        machine.onConnectionClosed()
        #expect(machine.state == .shutDown)
    }
}
