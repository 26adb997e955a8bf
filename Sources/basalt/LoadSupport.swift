import BasaltCluster
import BasaltNet
import Foundation
import Synchronization

/// Sends encoded mutations with the internode `mutation` verb to every replica, at most `window`
/// awaiting acknowledgement at once (``send(_:to:)`` blocks the producing thread beyond that),
/// retrying a failed one up to three times before recording the failure.
final class MutationSender: Sendable {
    let messaging: MessagingService
    let timeout: Duration
    private let slots: DispatchSemaphore
    private let pending = DispatchGroup()
    private struct State { var acknowledged = 0; var failure: String? }
    private let state = Mutex(State())
    static let attempts = 4

    init(messaging: MessagingService, window: Int, timeout: Duration) {
        self.messaging = messaging
        self.timeout = timeout
        slots = DispatchSemaphore(value: window)
    }

    var acknowledged: Int { state.withLock { $0.acknowledged } }
    /// The first replica failure (after retries), if any.
    var firstFailure: String? { state.withLock { $0.failure } }

    func send(_ payload: [UInt8], to replicas: [SocketAddress]) {
        for replica in replicas {
            slots.wait()
            pending.enter()
            attempt(payload, replica, left: Self.attempts)
        }
    }

    private func attempt(_ payload: [UInt8], _ replica: SocketAddress, left: Int) {
        messaging.request(to: replica, verb: ReplicaVerbs.mutation, payload: payload, timeout: timeout) { [self] result in
            switch result {
            case .success:
                state.withLock { $0.acknowledged += 1 }
            case let .failure(error):
                if left > 1 {
                    // A fresh connection or a replica past a moment of overload may take it.
                    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(200 * (Self.attempts - left + 1))) {
                        self.attempt(payload, replica, left: left - 1)
                    }
                    return
                }
                state.withLock { if $0.failure == nil { $0.failure = "replica \(replica) did not take a mutation: \(error)" } }
            }
            slots.signal()
            pending.leave()
        }
    }

    /// Blocks until every mutation sent was acknowledged or failed.
    func waitForAll() { pending.wait() }
}

/// Counts what a load did and prints a progress line every second on standard error.
final class LoadProgress: Sendable {
    private struct Counts { var partitions = 0; var bytes = 0; var filesDone = 0 }
    private let counts = Mutex(Counts())
    let files: Int
    private let started = ContinuousClock.now

    init(files: Int) { self.files = files }

    var partitions: Int { counts.withLock { $0.partitions } }
    func partitionDone() { counts.withLock { $0.partitions += 1 } }
    func sent(bytes: Int) { counts.withLock { $0.bytes += bytes } }
    func fileDone(_ n: Int) { counts.withLock { $0.filesDone = n } }

    func printLine(final: Bool = false) {
        let c = counts.withLock { $0 }
        let elapsed = ContinuousClock.now - started
        let seconds = max(0.001, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let line = String(format: "progress: %d/%d SSTables, %d partitions, %.1f MiB sent, %.0f partitions/s, %.1f MiB/s",
                          c.filesDone, files, c.partitions, Double(c.bytes) / 1_048_576, Double(c.partitions) / seconds,
                          Double(c.bytes) / 1_048_576 / seconds)
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Prints ``printLine(final:)`` every second until cancelled.
    func startTicker() -> Task<Void, Never> {
        Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                printLine()
            }
        }
    }
}
