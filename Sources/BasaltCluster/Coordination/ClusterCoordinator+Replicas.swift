import BasaltCore
import BasaltNet
import BasaltStorage

extension ClusterCoordinator {
    /// Asks `replica` for something: this node through `local` (run here, in a task when
    /// `localInTask`), another node with `verb` and `payload`, its response turned into the answer
    /// by `decode`. `done` gets the answer or how the replica failed (a malformed response counts as
    /// a rejection); a timeout reports nothing, as the request's own timer decides. `cause` hears why a
    /// replica rejected it, before `done`.
    func ask<Answer: Sendable>(_ replica: Replica, snapshot: ClusterTopology.Snapshot, verb: Verb, timeout: Duration,
                               latency: LatencyWindow? = nil, localInTask: Bool = false, payload: () -> [UInt8],
                               local: @escaping @Sendable () throws -> Answer, decode: @escaping @Sendable ([UInt8]) throws -> Answer,
                               cause: (@Sendable (FailureCause) -> Void)? = nil,
                               done: @escaping @Sendable (Result<Answer, ReplicaFailure>) -> Void) {
        if replica.isLocal {
            let run: @Sendable () -> Void = {
                do { done(.success(try local())) } catch {
                    cause?(.of(error))
                    done(.failure(.rejected))
                }
            }
            if localInTask { Task { run() } } else { run() }
            return
        }
        guard let address = snapshot.address(of: replica.hostId) else { return done(.failure(.unreachable)) }
        let started = ContinuousClock.now
        messaging.request(to: address, verb: verb, payload: payload(), timeout: timeout) { [logger] result in
            switch result {
            case let .success(bytes):
                latency?.record(ContinuousClock.now - started)
                do { done(.success(try decode(bytes))) } catch {
                    logger.warning("malformed \(verb) response from \(address): \(error)")
                    cause?(.malformedRequest)
                    done(.failure(.rejected))
                }
            case let .failure(e):
                if let c = ClusterCoordinator.failureCause(e) { cause?(c) }
                if let failure = ClusterCoordinator.replicaFailure(e) { done(.failure(failure)) }
            }
        }
    }

    /// Writes `m` on `replica`: this node's engine (acknowledged once durable), another node with
    /// `verb` and `encoded` (its encoding, computed here when nil). `done` gets the
    /// acknowledgement or how the replica failed (a refused local write counts as a rejection); a
    /// timeout reports nothing, as the request's own timer decides.
    func sendMutation(_ m: Mutation, encoded: [UInt8]? = nil, verb: Verb, to replica: Replica, snapshot: ClusterTopology.Snapshot,
                      done: @escaping @Sendable (Result<Void, ReplicaFailure>) -> Void) {
        sendMutation(m, encoded: encoded, verb: verb, to: replica, snapshot: snapshot) { result, _, _ in done(result) }
    }

    /// As above; `done` also gets a rejecting replica's reason (its storage error, or the message a
    /// remote replica answered; empty otherwise) and, when known, the cause of the rejection. (One
    /// callback rather than two: each closure is an allocation, three replicas a write.)
    func sendMutation(_ m: Mutation, encoded: [UInt8]? = nil, verb: Verb, to replica: Replica, snapshot: ClusterTopology.Snapshot,
                      done: @escaping @Sendable (Result<Void, ReplicaFailure>, _ reason: String, _ cause: FailureCause?) -> Void) {
        if replica.isLocal {
            engine.apply(m) { result in
                switch result {
                case .success: done(.success(()), "", nil)
                case let .failure(e): done(.failure(.rejected), "\(e)", .of(e))
                }
            }
            return
        }
        guard let address = snapshot.address(of: replica.hostId) else { return done(.failure(.unreachable), "", nil) }
        messaging.request(to: address, verb: verb, payload: encoded ?? m.encoded(), timeout: settings.writeTimeout) { result in
            switch result {
            case .success: done(.success(()), "", nil)
            case let .failure(e):
                let reason = if case let .remoteFailure(peer, message) = e { "replica \(peer.host): \(message)" } else { "" }
                // A failure with a cause is always a rejection, so no cause is lost here.
                if let failure = ClusterCoordinator.replicaFailure(e) { done(.failure(failure), reason, ClusterCoordinator.failureCause(e)) }
            }
        }
    }
}
