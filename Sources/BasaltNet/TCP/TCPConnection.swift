import CLibUV

/// One TCP stream on an ``EventLoop``, framing-agnostic: bytes in through ``onRead``, bytes out
/// through ``write(_:)-([UInt8])``.
///
/// Threading: the connection belongs to its ``loop``. Properties and methods are loop-thread only
/// unless their documentation says otherwise (``close(_:flushFirst:)`` and ``send(_:)`` hop).
///
/// Guarantees:
/// - Reading starts only when ``startReading()`` is called, so callbacks can be installed first.
///   Each ``onRead`` chunk is valid only during the call (it lives in the loop's read buffer).
/// - Writes are copied into the connection's outgoing chunks and handed to libuv together, in one
///   `uv_write` of several buffers, before the loop next polls (so a batch of replies produced while
///   handling one batch of reads costs one `writev`). Order is preserved.
/// - The outgoing queue is bounded by ``TCPOptions/maxQueuedWriteBytes``; a write past it throws and
///   queues nothing. Crossing the high/low watermarks calls ``onWritabilityChanged``.
/// - ``onClose`` is called exactly once, after the socket is closed, with the first reason given;
///   then every callback is released. The handle is freed in its close callback.
public final class TCPConnection: LoopHandleOwner, @unchecked Sendable {
    // @unchecked: all mutable state is touched only on `loop`'s thread (asserted in debug builds);
    // the thread-safe entry points hop there through `execute`.
    // Fields marked @exclusivity(unchecked) are loop-bound and never accessed re-entrantly while
    // being mutated; their dynamic exclusivity checks cost ~10% of a small request's CPU (perf).

    public enum State: Sendable, Equatable {
        case connecting, open, closing, closed
    }

    public let loop: EventLoop
    public let options: TCPOptions
    let handle: UnsafeMutablePointer<uv_tcp_t>
    @exclusivity(unchecked) public internal(set) var state: State
    /// This end's address, known once open.
    public internal(set) var localAddress: SocketAddress?
    /// The peer's address, known once open.
    public internal(set) var remoteAddress: SocketAddress?

    /// Called with each chunk read; the bytes are valid only during the call. Set on the loop.
    @exclusivity(unchecked) public var onRead: ((UnsafeRawBufferPointer) -> Void)? {
        didSet { loop.assertInEventLoop() }
    }
    /// Called once when the connection has closed. Set on the loop.
    public var onClose: ((TCPCloseReason) -> Void)? {
        didSet { loop.assertInEventLoop() }
    }
    /// Called with false when queued writes pass the high watermark, with true when they drain below
    /// the low watermark. Set on the loop.
    public var onWritabilityChanged: ((Bool) -> Void)? {
        didSet { loop.assertInEventLoop() }
    }

    @exclusivity(unchecked) public private(set) var isReading = false
    @exclusivity(unchecked) public internal(set) var isWritable = true
    @exclusivity(unchecked) public internal(set) var bytesRead: UInt64 = 0
    @exclusivity(unchecked) public internal(set) var bytesWritten: UInt64 = 0

    // Outgoing data (TCPConnection+Write.swift).
    @exclusivity(unchecked) var pendingChunks: [WriteChunk] = []
    @exclusivity(unchecked) var pendingBytes = 0
    @exclusivity(unchecked) var inFlightBytes = 0
    @exclusivity(unchecked) var flushScheduled = false

    // TLS (TCPConnection+TLS.swift): the session once the stream is known to be TLS, and whether the
    // first byte has yet to say if it is (a server context that allows plain text).
    var tls: TLSSession?
    var tlsUndecided = false

    var closeReason: TCPCloseReason?
    var connectCompletion: ((Result<TCPConnection, TCPError>) -> Void)?
    var connectTimer: LoopTimer?
    var connectTarget = ""
    var connectTimedOut = false

    var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    }

    var uvHandle: UnsafeMutablePointer<uv_handle_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
    }

    /// A closed-over-nothing TCP handle on `loop`; it holds a reference to the connection until its
    /// close callback runs.
    init(loop: EventLoop, options: TCPOptions, state: State) {
        loop.assertInEventLoop()
        self.loop = loop
        self.options = options
        self.state = state
        handle = .allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// The peer's address for log lines, or "unconnected".
    public var peerDescription: String {
        remoteAddress?.description ?? (connectTarget.isEmpty ? "unconnected" : connectTarget)
    }

    /// Applies socket options and records both addresses once the socket is connected.
    func didOpen() {
        state = .open
        if options.noDelay { uv_tcp_nodelay(handle, 1) }
        if let delay = options.keepAliveSeconds { uv_tcp_keepalive(handle, 1, delay) }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let local = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &length) }
        }
        if local == 0 { localAddress = SocketAddress(&storage) }
        storage = sockaddr_storage()
        length = Int32(MemoryLayout<sockaddr_storage>.size)
        let remote = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &length) }
        }
        if remote == 0 { remoteAddress = SocketAddress(&storage) }
        if let context = options.tls { startTLS(context) }
    }

    // MARK: - Reading

    /// Starts (or resumes) delivering reads to ``onRead``.
    public func startReading() {
        loop.assertInEventLoop()
        guard state == .open, !isReading else { return }
        let rc = uv_read_start(stream, { handle, _, buf in
            guard let handle, let buf, let data = handle.pointee.data else { return }
            let connection = Unmanaged<TCPConnection>.fromOpaque(data).takeUnretainedValue()
            buf.pointee = uv_buf_init(
                connection.loop.readBuffer.baseAddress?.assumingMemoryBound(to: CChar.self),
                UInt32(connection.loop.readBuffer.count))
        }, { stream, nread, _ in
            guard let stream, let data = stream.pointee.data else { return }
            Unmanaged<TCPConnection>.fromOpaque(data).takeUnretainedValue().didRead(nread)
        })
        if rc == 0 {
            isReading = true
            if tls?.hasBufferedInput == true { loop.execute { self.deliverPlaintext() } }
        } else {
            close(.error("read start failed: \(UVError.describe(rc))"))
        }
    }

    /// Same as ``startReading()``: resumes delivery after ``pauseReading()``.
    public func resumeReading() { startReading() }

    /// Stops reading from the socket; the kernel buffers then TCP flow control push back on the peer.
    public func pauseReading() {
        loop.assertInEventLoop()
        guard isReading else { return }
        isReading = false
        uv_read_stop(stream)
    }

    private func didRead(_ nread: Int) {
        if nread > 0 {
            bytesRead &+= UInt64(nread)
            let chunk = UnsafeRawBufferPointer(start: loop.readBuffer.baseAddress, count: nread)
            if tlsUndecided { decideTLS(firstByte: chunk[0]) }
            if let tls {
                didReadCiphertext(chunk, tls)
            } else {
                onRead?(chunk)
            }
        } else if nread == Int(UV_EOF.rawValue) {
            if let tls, !tls.isEstablished { noteClosedDuringHandshake(tls) }
            close(.remoteClosed)
        } else if nread < 0 {
            close(.error("read failed: \(UVError.describe(nread))"))
        }
    }

    // MARK: - Closing

    /// Closes the connection. With `flushFirst`, queued writes are sent and the write side shut down
    /// before the socket closes. Callable from any thread (hops to the loop). Later calls are no-ops.
    public func close(_ reason: TCPCloseReason = .local("closed by application"), flushFirst: Bool = false) {
        guard loop.inEventLoop else {
            loop.execute { self.close(reason, flushFirst: flushFirst) }
            return
        }
        guard state == .connecting || state == .open else { return }
        closeReason = reason
        pauseReading()
        if flushFirst && state == .open, let tls, tls.isEstablished { sealTLS(tls) }
        if flushFirst && state == .open && (pendingBytes > 0 || inFlightBytes > 0 || (tls?.pendingOutput ?? 0) > 0) {
            state = .closing
            flush()
            let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
            request.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            let rc = uv_shutdown(request, stream) { request, _ in
                guard let request else { return }
                if let data = request.pointee.data {
                    Unmanaged<TCPConnection>.fromOpaque(data).takeUnretainedValue().closeHandle()
                }
                request.deallocate()
            }
            if rc != 0 {
                request.deallocate()
                closeHandle()
            }
            return
        }
        state = .closing
        closeHandle()
    }

    private func closeHandle() {
        guard uv_is_closing(uvHandle) == 0 else { return }
        discardPendingWrites()
        tls?.handshakeTimer?.cancel()
        connectTimer?.cancel()
        connectTimer = nil
        uv_close(uvHandle) { handle in
            guard let handle, let data = handle.pointee.data else { return }
            let connection = Unmanaged<TCPConnection>.fromOpaque(data).takeRetainedValue()
            handle.pointee.data = nil
            connection.didClose()
            UnsafeMutableRawPointer(handle).deallocate()
        }
    }

    private func didClose() {
        state = .closed
        let callback = onClose
        let reason = closeReason ?? .local("closed")
        onRead = nil
        onClose = nil
        onWritabilityChanged = nil
        callback?(reason)
    }

    func closeForLoopShutdown() { close(.loopShutdown) }

    /// A description for logs: `127.0.1.2:41000 -> 127.0.1.1:7000`.
    public var debugDescription: String {
        "\(localAddress?.description ?? "?") -> \(peerDescription)"
    }
}
