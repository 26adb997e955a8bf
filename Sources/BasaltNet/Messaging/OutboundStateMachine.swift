/// The lifecycle of one outgoing lane connection to a peer, as a pure value: events in, actions out.
/// The shell (``OutboundConnection``) performs the actions; this type does no I/O and reads no clock.
///
/// States: `idle` (no connection; the next message connects) → `connecting` (messages queue) →
/// `connected` (messages are written) → back to `idle` when the connection closes, or from
/// `connecting` to `backingOff` when the attempt fails. While backing off, messages are refused at
/// once as unreachable; when the backoff elapses the lane is idle again and the next message tries
/// to connect. Consecutive failures lengthen the backoff exponentially; a successful connect resets
/// it. `shutDown` is final.
struct OutboundStateMachine: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case idle, connecting, connected, backingOff, shutDown
    }

    /// What to do with a message the application wants to send.
    enum SendAction: Sendable, Equatable {
        /// Write it on the open connection.
        case write
        /// Hold it until the connection in progress opens.
        case enqueue
        /// Start connecting, and hold the message until then.
        case connectAndEnqueue
        /// Refuse it: the peer failed to connect recently.
        case rejectUnreachable(reason: String)
        /// Refuse it: the lane is shut down.
        case rejectShutDown
    }

    /// What to do once the connection opened.
    enum ConnectedAction: Sendable, Equatable {
        /// Send the handshake, then every held message. `isReconnect` when an earlier connection to
        /// the same peer and lane existed.
        case sendHandshakeAndFlush(isReconnect: Bool)
        /// The lane was shut down meanwhile: close the new connection.
        case close
    }

    /// What to do once a connect attempt failed.
    enum ConnectFailedAction: Sendable, Equatable {
        /// Fail every held message as unreachable and wait `delay` before the lane may connect again.
        case failQueuedAndBackOff(delay: Duration)
        case none
    }

    let backoff: Backoff
    private(set) var state = State.idle
    private(set) var consecutiveFailures = 0
    private(set) var hasConnected = false
    private(set) var lastFailure = ""

    init(backoff: Backoff) {
        self.backoff = backoff
    }

    mutating func onSend() -> SendAction {
        switch state {
        case .idle:
            state = .connecting
            return .connectAndEnqueue
        case .connecting: return .enqueue
        case .connected: return .write
        case .backingOff: return .rejectUnreachable(reason: lastFailure)
        case .shutDown: return .rejectShutDown
        }
    }

    mutating func onConnected() -> ConnectedAction {
        guard state == .connecting else { return .close }
        state = .connected
        consecutiveFailures = 0
        let isReconnect = hasConnected
        hasConnected = true
        return .sendHandshakeAndFlush(isReconnect: isReconnect)
    }

    mutating func onConnectFailed(reason: String) -> ConnectFailedAction {
        guard state == .connecting else { return .none }
        consecutiveFailures += 1
        lastFailure = reason
        state = .backingOff
        return .failQueuedAndBackOff(delay: backoff.delay(afterFailures: consecutiveFailures))
    }

    /// The backoff delay elapsed: the next message may try again.
    mutating func onBackoffElapsed() {
        if state == .backingOff { state = .idle }
    }

    /// The open connection closed. Requests awaiting responses on it must fail now: their
    /// responses can only arrive on that connection.
    mutating func onConnectionClosed() {
        if state == .connected { state = .idle }
    }

    mutating func onShutdown() {
        state = .shutDown
    }
}
