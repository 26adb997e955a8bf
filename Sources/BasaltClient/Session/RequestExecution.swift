import BasaltProtocol
import BasaltCore
import BasaltNet

/// One request carried through its query plan: sent to the first node that has a free
/// connection; moved on to the next node when a node is down or saturated, answers Overloaded or
/// IsBootstrapping (it did not execute the statement), or — only for idempotent statements — the
/// connection is lost or the node does not answer in time. An Unprepared answer re-prepares the
/// statement on that connection and sends it again, once.
///
/// The whole request, every attempt included, is bounded by its timeout; the completion runs
/// exactly once, on an event loop (the last connection's, or `refusalLoop` when no node could
/// be tried), never inside ``start()``: a completion that sends the next request cannot recurse.
final class RequestExecution: @unchecked Sendable {
    // @unchecked: attempts never overlap. Each step runs either in `start()` or in the completion
    // of the previous attempt's send (after it, through the loop's queue), so the mutable fields
    // pass from one thread to the next with a happens-before edge and are never shared.

    typealias Completion = @Sendable (Result<ExecutionResponse, ClientError>) -> Void

    private let request: EncodedRequest
    private let pools: [NodePool]
    private let plan: [Int]
    private let statement: PreparedStatement?
    private let isIdempotent: Bool
    private let timeout: Duration
    private let deadline: UInt64
    private let completion: Completion
    private let refusalLoop: EventLoop
    private let clock = SystemClock()
    private var position = 0
    private var failures: [ClientError.NodeFailure] = []
    private var lastError: ClientError?
    private var allSaturated = true
    private var reprepared = false

    init(request: EncodedRequest, pools: [NodePool], plan: [Int], statement: PreparedStatement?, isIdempotent: Bool,
         timeout: Duration, refusalLoop: EventLoop, completion: @escaping Completion) {
        self.refusalLoop = refusalLoop
        self.request = request
        self.pools = pools
        self.plan = plan
        self.statement = statement
        self.isIdempotent = isIdempotent
        self.timeout = timeout
        deadline = clock.monotonicNanos() &+ timeout.wholeNanoseconds
        self.completion = completion
    }

    func start() {
        guard let failure = next() else { return }
        let completion = completion
        if !refusalLoop.execute({ completion(.failure(failure)) }) { completion(.failure(failure)) }
    }

    /// Sends to the next node of the plan that can take the request; the error to finish with
    /// when none can (nil when sent).
    private func next() -> ClientError? {
        while position < plan.count {
            let pool = pools[plan[position]]
            position += 1
            switch pool.pick() {
            case .down:
                allSaturated = false
                failures.append(.init(node: pool.address, reason: "down (\(pool.downReason))"))
            case let .saturated(limit):
                let error = ClientError.tooManyInFlight(node: pool.address, limit: limit)
                failures.append(.init(node: pool.address, reason: error.description))
                lastError = lastError ?? error
            case let .connection(connection):
                let now = clock.monotonicNanos()
                guard now < deadline else { return .timeout(node: pool.address, after: timeout) }
                connection.send(request, timeout: .nanoseconds(Int64(clamping: deadline - now))) { result in
                    self.handle(result, on: connection)
                }
                return nil
            }
        }
        if allSaturated, let lastError { return lastError }
        return .noHostAvailable(failures)
    }

    private func handle(_ result: Result<Frame, ClientError>, on connection: NodeConnection) {
        switch result {
        case let .success(frame):
            guard frame.header.opcode == .error else {
                return finish(.success(ExecutionResponse(frame: frame, coordinator: connection.node)))
            }
            let error: ClientError
            do {
                let decoded = try ResponseDecoding.decode(frame, node: connection.node)
                guard case let .error(e) = decoded.response else { return finish(.failure(.protocolViolation(node: connection.node, reason: "bad ERROR frame"))) }
                error = .server(e, node: connection.node)
            } catch {
                return finish(.failure(error))
            }
            switch error.cqlError {
            case .unprepared?:
                if let statement, !reprepared {
                    reprepared = true
                    return reprepare(statement, on: connection)
                }
            case .overloaded?, .isBootstrapping?:
                return moveOn(error, node: connection.node)
            default:
                break
            }
            finish(.failure(error))
        case let .failure(error):
            switch error {
            case .tooManyInFlight:
                moveOn(error, node: connection.node)
            case .timeout, .connectionClosed, .protocolViolation:
                if isIdempotent { moveOn(error, node: connection.node) } else { finish(.failure(error)) }
            default:
                finish(.failure(error))
            }
        }
    }

    private func moveOn(_ error: ClientError, node: String) {
        if case .tooManyInFlight = error {} else { allSaturated = false }
        lastError = lastError ?? error
        failures.append(.init(node: node, reason: error.description))
        if let failure = next() { finish(.failure(failure)) }
    }

    /// PREPARE again on `connection` (the node forgot the id, e.g. after a restart), then resend.
    private func reprepare(_ statement: PreparedStatement, on connection: NodeConnection) {
        let now = clock.monotonicNanos()
        guard now < deadline else { return finish(.failure(.timeout(node: connection.node, after: timeout))) }
        connection.send(EncodedRequest(.prepare(statement.query)), timeout: .nanoseconds(Int64(clamping: deadline - now))) { result in
            switch result {
            case let .success(frame) where frame.header.opcode == .result:
                let now = self.clock.monotonicNanos()
                guard now < self.deadline else { return self.finish(.failure(.timeout(node: connection.node, after: self.timeout))) }
                connection.send(self.request, timeout: .nanoseconds(Int64(clamping: self.deadline - now))) { result in
                    self.handle(result, on: connection)
                }
            case .success:
                self.handle(result, on: connection)
            case let .failure(error):
                self.finish(.failure(error))
            }
        }
    }

    private func finish(_ result: Result<ExecutionResponse, ClientError>) {
        completion(result)
    }
}
