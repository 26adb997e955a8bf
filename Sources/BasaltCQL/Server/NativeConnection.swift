import BasaltCore
import BasaltNet
import Logging

/// The shell of one client connection: bytes from the socket into a ``FrameDecoder``, frames into
/// the ``NativeConnectionStateMachine``, its actions carried out. Loop-bound: everything but
/// ``init`` runs on `tcp.loop`. Statement requests run as tasks off the loop and their answers
/// are written when they complete, in any order.
final class NativeConnection: @unchecked Sendable {
    // @unchecked: the mutable fields are touched only on `loop` (asserted in debug builds).
    let tcp: TCPConnection
    let loop: EventLoop
    /// Statements run in tasks that prefer this connection's loop.
    private let taskExecutor: LoopTaskExecutor
    let id: Int
    let session: ClientSession
    private let auth: AuthService?
    private var decoder: FrameDecoder
    private var machine: NativeConnectionStateMachine
    private let processor: QueryProcessor
    private let hub: NativeEventHub
    private let logger: Logger
    private var isOpen = true

    init(tcp: TCPConnection, id: Int, processor: QueryProcessor, hub: NativeEventHub,
         settings: NativeConnectionStateMachine.Settings, logger: Logger) {
        session = ClientSession(clientAddress: tcp.remoteAddress?.host ?? "")
        auth = processor.auth
        self.tcp = tcp
        self.loop = tcp.loop
        taskExecutor = LoopTaskExecutor(loop: tcp.loop)
        self.id = id
        self.processor = processor
        self.hub = hub
        self.logger = logger
        decoder = FrameDecoder(side: .server, maxBodyLength: settings.maxBodyLength)
        machine = NativeConnectionStateMachine(settings: settings)
    }

    /// Installs the callbacks and starts reading (on the loop).
    func start(onClose: @escaping @Sendable (NativeConnection) -> Void) {
        loop.assertInEventLoop()
        tcp.onRead = { [self] bytes in self.onRead(bytes) }
        tcp.onClose = { [self] reason in
            self.isOpen = false
            self.machine.onClosed()
            self.hub.remove(self)
            if case .local = reason {} else if reason != .remoteClosed {
                self.logger.debug("native connection closed", metadata: ["remote": "\(self.tcp.peerDescription)", "reason": "\(reason)"])
            }
            onClose(self)
        }
        tcp.startReading()
    }

    private func onRead(_ bytes: UnsafeRawBufferPointer) {
        decoder.append(bytes)
        while isOpen {
            do {
                guard let frame = try decoder.next() else { return }
                run(machine.onFrame(frame))
            } catch {
                logger.debug("bad native frame", metadata: ["remote": "\(tcp.peerDescription)", "error": "\(error)"])
                run(machine.onDecodeError(error))
                if error.isFatal { return }
            }
        }
    }

    private func run(_ actions: [NativeConnectionStateMachine.Action]) {
        for action in actions {
            switch action {
            case let .send(frame): write(frame)
            case let .sendRaw(frame): writeBytes(frame.encoded())
            case let .execute(request): execute(request)
            case let .register(types): hub.register(self, for: types)
            case .pauseReading: tcp.pauseReading()
            case .resumeReading: if isOpen { tcp.resumeReading() }
            case let .close(reason):
                isOpen = false
                tcp.close(.local(reason), flushFirst: true)
            case let .authenticate(stream, token): authenticate(stream, token)
            }
        }
    }

    private func execute(_ request: RequestFrame) {
        let processor = processor
        let session = session
        if let user = machine.user, session.user == nil { session.user = user }
        // The statement runs on this connection's loop between its awaits (no hop through the
        // global pool), and its answer is written from there.
        Task(executorPreference: taskExecutor) {
            let response = await processor.process(request.request, session: session)
            if self.loop.inEventLoop {
                self.complete(request.stream, response)
            } else {
                _ = self.loop.execute { self.complete(request.stream, response) }
            }
        }
    }

    /// Checks credentials in a task (bcrypt on the hasher's threads, the throttle's wait as a sleep),
    /// then feeds the result back to the state machine on the loop.
    private func authenticate(_ stream: Int16, _ token: [UInt8]?) {
        guard let auth else {
            run(machine.onAuthenticationResult(stream: stream, .failure(.badCredentials("Authentication is not configured"))))
            return
        }
        let address = session.clientAddress
        Task(executorPreference: taskExecutor) {
            let result = await auth.authenticate(token: token, address: address)
            if self.loop.inEventLoop {
                self.finishAuthentication(stream, result)
            } else {
                _ = self.loop.execute { self.finishAuthentication(stream, result) }
            }
        }
    }

    private func finishAuthentication(_ stream: Int16, _ result: Result<String, CQLError>) {
        guard isOpen else { return }
        run(machine.onAuthenticationResult(stream: stream, result))
    }

    private func complete(_ stream: Int16, _ response: Response) {
        guard isOpen else { return }
        write(ResponseFrame(stream: stream, response: response))
        run(machine.onRequestCompleted())
    }

    /// Writes an event frame (stream -1); loop only.
    func send(event: ProtocolEvent) {
        loop.assertInEventLoop()
        guard isOpen else { return }
        write(.event(event))
    }

    private func write(_ frame: ResponseFrame) {
        var w = ByteWriter(capacity: 128)
        frame.encode(into: &w, compression: machine.compression)
        writeBytes(w.bytes)
    }

    private func writeBytes(_ bytes: [UInt8]) {
        guard isOpen else { return }
        do { try tcp.write(bytes) } catch {
            logger.warning("native connection write failed; closing", metadata: ["remote": "\(tcp.peerDescription)", "error": "\(error)"])
            isOpen = false
            tcp.close(.local(error.description))
        }
    }
}

/// The connections registered for client events, by event type; fans events out on each
/// connection's loop.
public final class NativeEventHub: @unchecked Sendable {
    // @unchecked: `registrations` is only touched under `lock`.
    private let lock = Lock()
    private var registrations: [Int: (NativeConnection, Set<String>)] = [:]

    public init() {}

    func register(_ c: NativeConnection, for types: Set<String>) {
        lock.withLock { registrations[c.id] = (c, types) }
    }

    func remove(_ c: NativeConnection) {
        lock.withLock { _ = registrations.removeValue(forKey: c.id) }
    }

    /// Number of connections registered for any event.
    public var registeredCount: Int { lock.withLock { registrations.count } }

    /// Sends `event` to every connection registered for its type.
    public func publish(_ event: ProtocolEvent) {
        let targets = lock.withLock { registrations.values.filter { $0.1.contains(event.typeName) }.map(\.0) }
        for c in targets { _ = c.loop.execute { c.send(event: event) } }
    }
}
