import BasaltCore
import BasaltNet
import BasaltProtocol
import Logging

/// The shell of one client connection: bytes from the socket into a ``FrameDecoder``, frames into
/// the ``NativeConnectionStateMachine``, its actions carried out. Loop-bound: everything but
/// ``init`` runs on `tcp.loop`. Statement requests run as tasks off the loop and their answers
/// are written when they complete, in any order.
///
/// Limits (``NativeTransportLimits``): every byte read is counted against the server's in-flight
/// byte limits until its frame is answered. When a frame's header is in and its body is not, the
/// whole frame is reserved if the client's address and the server are under their limits (as
/// Cassandra's v5 framing reserves a large message): a reserved frame is read to its end without
/// pausing, so clients whose frames together pass a limit cannot stall one another half-way. If
/// the reservation fails the connection stops reading until bytes are released (with
/// `throwOnOverload`, complete requests over a limit are answered Overloaded instead). Memory
/// follows the bytes that arrived: a reservation is accounting, not an allocation. A frame incomplete for longer than
/// the incomplete-frame timeout closes the connection; so does idleness past the idle timeout, if set.
final class NativeConnection: @unchecked Sendable {
    // @unchecked: the mutable fields are touched only on `loop` (asserted in debug builds).
    let tcp: TCPConnection
    let loop: EventLoop
    /// Statements run in tasks that prefer this connection's loop.
    private let taskExecutor: LoopTaskExecutor
    let id: Int
    let session: ClientSession
    private let auth: AuthService?
    /// The client's address, the key of the per-address limits.
    let host: String
    private var decoder: FrameDecoder
    /// Set on v5 once STARTUP is answered: every write goes out in segments.
    private var outSegments: SegmentCodec?
    private var machine: NativeConnectionStateMachine
    private let processor: QueryProcessor
    private let hub: NativeEventHub
    private let shared: NativeTransportShared
    private let logger: Logger
    private var isOpen = true
    /// Bytes counted against the limits for this connection: buffered by the decoder plus executing.
    private var countedBytes = 0
    /// Bytes of the requests executing now.
    private var executingBytes = 0
    /// The whole size of the frame being received when it was reserved, else 0.
    private var reservedFrameBytes = 0
    private var pausedForBytes = false
    private var frameClock: IncompleteFrameClock
    private var frameWatch: LoopDeadlineWatch?
    private var lastActivity: UInt64 = 0
    private var idleWatch: LoopDeadlineWatch?

    init(tcp: TCPConnection, id: Int, processor: QueryProcessor, hub: NativeEventHub,
         settings: NativeConnectionStateMachine.Settings, shared: NativeTransportShared, logger: Logger) {
        session = ClientSession(clientAddress: tcp.remoteAddress?.host ?? "")
        auth = processor.auth
        self.tcp = tcp
        self.loop = tcp.loop
        taskExecutor = LoopTaskExecutor(loop: tcp.loop)
        self.id = id
        host = tcp.remoteAddress?.host ?? "unknown"
        self.processor = processor
        self.hub = hub
        self.shared = shared
        self.logger = logger
        var settings = settings
        settings.maxBodyLength = shared.limits.maxFrameSize
        decoder = FrameDecoder(side: .server, maxBodyLength: settings.maxBodyLength)
        machine = NativeConnectionStateMachine(settings: settings)
        frameClock = IncompleteFrameClock(timeoutMillis: shared.limits.incompleteFrameTimeout.loopMillis)
    }

    /// Installs the callbacks and starts reading (on the loop).
    func start(onClose: @escaping @Sendable (NativeConnection) -> Void) {
        loop.assertInEventLoop()
        tcp.onRead = { [self] bytes in self.onRead(bytes) }
        tcp.onClose = { [self] reason in
            self.isOpen = false
            self.machine.onClosed()
            self.hub.remove(self)
            self.frameWatch?.stop()
            self.idleWatch?.stop()
            self.shared.bytes.cancelWait(self)
            self.shared.bytes.remove(self.countedBytes, host: self.host)
            self.countedBytes = 0
            if case .local = reason {} else if reason != .remoteClosed {
                self.logger.debug("native connection closed", metadata: ["remote": "\(self.tcp.peerDescription)", "reason": "\(reason)"])
            }
            onClose(self)
        }
        lastActivity = loop.nowMillis
        if frameClock.timeoutMillis > 0 {
            frameWatch = LoopDeadlineWatch(loop: loop, deadline: { [unowned self] in frameClock.deadline }) { [unowned self] in
                incompleteFrameExpired()
            }
        }
        let idleMillis = shared.limits.idleTimeout.loopMillis
        if idleMillis > 0 {
            let watch = LoopDeadlineWatch(loop: loop, deadline: { [unowned self] in lastActivity &+ idleMillis }) { [unowned self] in
                idleExpired()
            }
            idleWatch = watch
            watch.poke()
        }
        tcp.startReading()
    }

    private func onRead(_ bytes: UnsafeRawBufferPointer) {
        lastActivity = loop.nowMillis
        decoder.append(bytes)
        syncCountedBytes()
        var completed = false
        while isOpen {
            do {
                guard let frame = try decoder.next() else { break }
                completed = true
                reservedFrameBytes = 0  // the reserved frame is the first to complete
                onFrame(frame)
            } catch {
                completed = true
                if case .frameTooLarge = error { shared.framesTooLarge.bump() }
                logger.debug("bad native frame", metadata: ["remote": "\(tcp.peerDescription)", "error": "\(error)"])
                run(machine.onDecodeError(error), frameBytes: 0)
                if error.isFatal { break }
            }
        }
        syncCountedBytes()
        guard isOpen else { return }
        if reservedFrameBytes == 0, let size = decoder.incompleteFrameSize,
           shared.bytes.tryAdd(size - decoder.bufferedByteCount, host: host, own: countedBytes) {
            countedBytes += size - decoder.bufferedByteCount
            reservedFrameBytes = size
        }
        frameClock.onDecoded(completedFrames: completed, partial: decoder.bufferedByteCount > 0, now: lastActivity)
        frameWatch?.poke()
        if !pausedForBytes && reservedFrameBytes == 0 && (!shared.limits.throwOnOverload || decoder.bufferedByteCount > 0) {
            let loop = self.loop
            pausedForBytes = shared.bytes.pauseIfOver(host: host, waiter: self) { [self] in
                _ = loop.execute { self.roomAvailable() }
            }
            if pausedForBytes { updateReading() }
        }
    }

    private func onFrame(_ frame: Frame) {
        let size = FrameHeader.size + frame.body.count
        if shared.limits.throwOnOverload, frame.header.opcode?.isStatement == true, let breach = shared.bytes.breach(host: host) {
            shared.overloaded.bump()
            let scope = breach.perHost ? "for \(host) (native_transport_max_request_data_in_flight_per_ip)"
                                       : "(native_transport_max_request_data_in_flight)"
            write(ResponseFrame(stream: frame.header.stream, response: .error(.overloaded(
                "Server is in overloaded state. Cannot accept more requests at this point: \(breach.held) bytes of requests in flight, limit \(breach.limit) \(scope)"))))
            return
        }
        run(machine.onFrame(frame), frameBytes: size)
    }

    /// Makes the bytes counted against the limits match what this connection holds: its reserved
    /// frame or the bytes buffered, plus the requests executing.
    private func syncCountedBytes() {
        let held = isOpen ? max(reservedFrameBytes, decoder.bufferedByteCount) + executingBytes : 0
        if held > countedBytes {
            shared.bytes.add(held - countedBytes, host: host)
        } else if held < countedBytes {
            shared.bytes.remove(countedBytes - held, host: host)
        }
        countedBytes = held
    }

    private func roomAvailable() {
        guard isOpen, pausedForBytes else { return }
        pausedForBytes = false
        updateReading()
    }

    /// Reads while neither the request count nor the byte limits say stop.
    private func updateReading() {
        guard isOpen else { return }
        if machine.isPaused || pausedForBytes { tcp.pauseReading() } else { tcp.resumeReading() }
    }

    private func incompleteFrameExpired() {
        guard isOpen else { return }
        shared.incompleteFrameCloses.bump()
        logger.warning("closing native connection: a frame stayed incomplete for \(shared.limits.incompleteFrameTimeout) (native_transport_incomplete_frame_timeout)",
                       metadata: ["remote": "\(tcp.peerDescription)", "buffered_bytes": "\(decoder.bufferedByteCount)"])
        close("incomplete frame timeout")
    }

    private func idleExpired() {
        guard isOpen else { return }
        if machine.inFlight > 0 {
            lastActivity = loop.nowMillis
            idleWatch?.poke()
            return
        }
        shared.idleCloses.bump()
        logger.debug("closing idle native connection", metadata: ["remote": "\(tcp.peerDescription)"])
        close("idle timeout")
    }

    private func close(_ reason: String) {
        isOpen = false
        tcp.close(.local(reason), flushFirst: true)
        syncCountedBytes()
    }

    private func run(_ actions: [NativeConnectionStateMachine.Action], frameBytes: Int) {
        for action in actions {
            switch action {
            case let .send(frame): write(frame)
            case let .sendRaw(frame): writeBytes(frame.encoded())
            case let .execute(request): execute(request, bytes: frameBytes)
            case let .register(types): hub.register(self, for: types)
            case .pauseReading, .resumeReading: updateReading()
            case let .close(reason): close(reason)
            case let .authenticate(stream, token): authenticate(stream, token)
            case let .startSegments(lz4):
                decoder.startSegments(lz4: lz4)
                outSegments = SegmentCodec(lz4: lz4)
            }
        }
    }

    private func execute(_ request: RequestFrame, bytes: Int) {
        let processor = processor
        let session = session
        if let user = machine.user, session.user == nil { session.user = user }
        executingBytes += bytes
        // The statement runs on this connection's loop between its awaits (no hop through the
        // global pool), and its answer is written from there.
        Task(executorPreference: taskExecutor) {
            let response = await processor.process(request.request, session: session)
            if self.loop.inEventLoop {
                self.complete(request.stream, response, bytes: bytes)
            } else {
                _ = self.loop.execute { self.complete(request.stream, response, bytes: bytes) }
            }
        }
    }

    /// Checks credentials in a task (bcrypt on the hasher's threads, the throttle's wait as a sleep),
    /// then feeds the result back to the state machine on the loop.
    private func authenticate(_ stream: Int16, _ token: [UInt8]?) {
        guard let auth else {
            run(machine.onAuthenticationResult(stream: stream, .failure(.badCredentials("Authentication is not configured"))), frameBytes: 0)
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
        run(machine.onAuthenticationResult(stream: stream, result), frameBytes: 0)
    }

    private func complete(_ stream: Int16, _ response: Response, bytes: Int) {
        executingBytes -= bytes
        guard isOpen else { return }
        lastActivity = loop.nowMillis
        syncCountedBytes()
        write(ResponseFrame(stream: stream, response: response))
        run(machine.onRequestCompleted(), frameBytes: 0)
    }

    /// Writes an event frame (stream -1); loop only.
    func send(event: ProtocolEvent) {
        loop.assertInEventLoop()
        guard isOpen else { return }
        write(.event(event))
    }

    private func write(_ frame: ResponseFrame) {
        var frame = frame
        frame.version = machine.version
        var w = ByteWriter(capacity: 128)
        frame.encode(into: &w, compression: machine.frameCompression)
        writeBytes(w.bytes)
    }

    private func writeBytes(_ bytes: [UInt8]) {
        guard isOpen else { return }
        do { try tcp.write(outSegments.map { $0.encode(bytes) } ?? bytes) } catch {
            logger.warning("native connection write failed; closing", metadata: ["remote": "\(tcp.peerDescription)", "error": "\(error)"])
            isOpen = false
            tcp.close(.local(error.description))
            syncCountedBytes()
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
