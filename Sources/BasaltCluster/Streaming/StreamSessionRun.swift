import BasaltCore
import BasaltNet
import BasaltStorage
import Synchronization

/// One run of a receiving ``StreamSessionStateMachine``: executes its actions (chunk requests over
/// messaging, chunk applies on the storage engine), feeds back answers, and tells it the time and the
/// source's liveness every tick. ``run()`` returns once the machine completed or failed, with what is
/// left to fetch.
final class StreamSessionRun: Sendable {
    typealias Left = [(task: StreamTask, cursor: ScanPosition?)]
    private let service: StreamService
    private let session: UUIDValue
    private let source: SocketAddress
    private let machine: Mutex<StreamSessionStateMachine>
    private let finished = Mutex<UnsafeContinuation<Void, Never>?>(nil)
    private let done = Atomic<Bool>(false)
    private let onProgress: @Sendable (StreamSummary, Int) -> Void

    init(service: StreamService, session: UUIDValue, source: SocketAddress, machine: StreamSessionStateMachine,
         onProgress: @escaping @Sendable (StreamSummary, Int) -> Void) {
        self.service = service
        self.session = session
        self.source = source
        self.machine = Mutex(machine)
        self.onProgress = onProgress
    }

    func run() async -> (StreamSessionStateMachine.Outcome, StreamSummary, Left) {
        await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            finished.withLock { $0 = c }
            execute(step { $0.start(now: service.now) })
        }
        return machine.withLock { ($0.outcome, $0.summary, $0.remainingTasks) }
    }

    private func step(_ body: (inout StreamSessionStateMachine) -> [StreamSessionStateMachine.Action]) -> [StreamSessionStateMachine.Action] {
        machine.withLock { body(&$0) }
    }

    private func execute(_ actions: [StreamSessionStateMachine.Action]) {
        for a in actions {
            switch a {
            case let .request(r):
                service.requestChunk(r, session: session, from: source) { [self] result in
                    switch result {
                    case let .success(bytes):
                        do {
                            let (payload, crc) = try StreamVerbs.decodeChunkResponse(bytes)
                            execute(step { $0.onChunk(id: r.id, payload: payload, checksum: crc, now: service.now) })
                        } catch {
                            execute(step { $0.onChunkFailed(id: r.id, reason: "\(error)", now: service.now) })
                        }
                    case let .failure(error):
                        execute(step { $0.onChunkFailed(id: r.id, reason: "\(error)", now: service.now) })
                    }
                }
            case let .apply(id, task, chunk):
                service.apply(task, chunk) { [self] error in
                    if let error {
                        execute(step { $0.onApplyFailed(id, reason: "\(error)", now: service.now) })
                    } else {
                        execute(step { $0.onApplied(id, now: service.now) })
                        let (summary, completed) = machine.withLock { ($0.summary, $0.completedTasks) }
                        onProgress(summary, completed)
                    }
                }
            case .complete, .fail:
                finish()
            }
        }
        if actions.contains(where: { if case .request = $0 { true } else { false } }) || !done.load(ordering: .acquiring) {
            startTickerOnce()
        }
    }

    private let ticking = Atomic<Bool>(false)

    /// One ticker per run: reports time and the source's liveness until the run finishes.
    private func startTickerOnce() {
        guard !done.load(ordering: .acquiring), ticking.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let tick = service.settings.tick
        Task { [self] in
            while !done.load(ordering: .acquiring) {
                try? await Task.sleep(for: tick)
                if done.load(ordering: .acquiring) { break }
                if !service.sourceIsAlive(source) {
                    execute(step { $0.onSourceDown(now: service.now) })
                } else {
                    execute(step { $0.onTick(now: service.now) })
                }
            }
        }
    }

    private func finish() {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let c = finished.withLock { c in
            defer { c = nil }
            return c
        }
        c?.resume()
    }
}
