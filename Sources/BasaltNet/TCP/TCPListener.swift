import CLibUV
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A listening TCP socket on an ``EventLoop``.
///
/// Accepted connections are handed to the accept callback open but not reading, on the loop that
/// will own them: the listener's own loop, or — when a group is given — the group's loops in
/// round-robin (the socket is accepted here and its descriptor moved to the target loop).
public final class TCPListener: LoopHandleOwner, @unchecked Sendable {
    // @unchecked: mutable state (`isClosed`, `onClose`) is touched only on `loop`'s thread; the
    // accept callback is Sendable because it may run on other loops.

    public let loop: EventLoop
    /// The bound address, with the real port when port 0 was asked for.
    public private(set) var localAddress: SocketAddress
    private let handle: UnsafeMutablePointer<uv_tcp_t>
    private let onAccept: @Sendable (TCPConnection) -> Void
    private let distributeTo: EventLoopGroup?
    private let connectionOptions: TCPOptions
    private let logger: Logger
    public private(set) var isClosed = false
    /// Called on the loop once the listening socket is closed.
    public var onClose: (() -> Void)?

    private var uvHandle: UnsafeMutablePointer<uv_handle_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    }

    private init(
        loop: EventLoop, address: SocketAddress, distributeTo: EventLoopGroup?, options: TCPOptions,
        logger: Logger, onAccept: @escaping @Sendable (TCPConnection) -> Void
    ) {
        self.loop = loop
        localAddress = address
        self.distributeTo = distributeTo
        connectionOptions = options
        self.logger = logger
        self.onAccept = onAccept
        handle = .allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Binds `address` (port 0 picks a free port; see ``localAddress``) and starts accepting.
    /// Loop thread only.
    public static func listen(
        on loop: EventLoop,
        at address: SocketAddress,
        backlog: Int32 = 511,
        distributeTo group: EventLoopGroup? = nil,
        connectionOptions: TCPOptions = TCPOptions(),
        logger: Logger = Logger(label: "basalt.net.tcp"),
        onAccept: @escaping @Sendable (TCPConnection) -> Void
    ) throws(TCPError) -> TCPListener {
        loop.assertInEventLoop()
        guard !loop.isShuttingDown else { throw .loopShutDown }
        let listener = TCPListener(
            loop: loop, address: address, distributeTo: group, options: connectionOptions, logger: logger,
            onAccept: onAccept)
        let bound = address.withSockAddr { uv_tcp_bind(listener.handle, $0, 0) }
        if bound != 0 {
            listener.close()
            throw .bindFailed(address: address.description, reason: UVError.describe(bound))
        }
        let rc = uv_listen(listener.stream, backlog) { server, status in
            guard let server, let data = server.pointee.data else { return }
            Unmanaged<TCPListener>.fromOpaque(data).takeUnretainedValue().accept(status: status)
        }
        if rc != 0 {
            listener.close()
            throw .listenFailed(address: address.description, reason: UVError.describe(rc))
        }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(listener.handle, $0, &length) }
        }
        if named == 0, let actual = SocketAddress(&storage) { listener.localAddress = actual }
        return listener
    }

    /// ``listen(on:at:backlog:distributeTo:connectionOptions:logger:onAccept:)`` from any thread.
    public static func listen(
        on loop: EventLoop,
        at address: SocketAddress,
        backlog: Int32 = 511,
        distributeTo group: EventLoopGroup? = nil,
        connectionOptions: TCPOptions = TCPOptions(),
        logger: Logger = Logger(label: "basalt.net.tcp"),
        onAccept: @escaping @Sendable (TCPConnection) -> Void
    ) async throws(TCPError) -> TCPListener {
        let result: Result<TCPListener, TCPError> = await withUnsafeContinuation { continuation in
            let accepted = loop.execute {
                continuation.resume(returning: Result { () throws(TCPError) -> TCPListener in
                    try listen(
                        on: loop, at: address, backlog: backlog, distributeTo: group,
                        connectionOptions: connectionOptions, logger: logger, onAccept: onAccept)
                })
            }
            if !accepted { continuation.resume(returning: .failure(.loopShutDown)) }
        }
        return try result.get()
    }

    private func accept(status: Int32) {
        guard status == 0, !isClosed else {
            if status != 0 {
                logger.warning("accept failed", metadata: ["listener": "\(localAddress)", "error": "\(UVError.describe(status))"])
            }
            return
        }
        let target = distributeTo?.next() ?? loop
        if target === loop {
            let connection = TCPConnection(loop: loop, options: connectionOptions, state: .connecting)
            guard uv_accept(stream, connection.stream) == 0 else {
                connection.close(.local("accept failed"))
                return
            }
            connection.didOpen()
            onAccept(connection)
            return
        }
        // Accept into a temporary handle, move a duplicate of its descriptor to the target loop.
        let temporary = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop.uvLoop, temporary)
        temporary.pointee.data = nil
        let temporaryStream = UnsafeMutableRawPointer(temporary).assumingMemoryBound(to: uv_stream_t.self)
        defer { uv_close(UnsafeMutableRawPointer(temporary).assumingMemoryBound(to: uv_handle_t.self), freeHandleOnClose) }
        guard uv_accept(stream, temporaryStream) == 0 else { return }
        var fd = uv_os_fd_t()
        let gotDescriptor = uv_fileno(UnsafeMutableRawPointer(temporary).assumingMemoryBound(to: uv_handle_t.self), &fd)
        guard gotDescriptor == 0 else { return }
        let duplicate = dup(fd)
        guard duplicate >= 0 else {
            logger.warning("accept: dup failed", metadata: ["listener": "\(localAddress)", "errno": "\(errno)"])
            return
        }
        let options = connectionOptions
        let onAccept = self.onAccept
        let handedOver = target.execute {
            guard let connection = TCPConnection.adopting(descriptor: duplicate, on: target, options: options) else { return }
            onAccept(connection)
        }
        if !handedOver { _ = systemClose(duplicate) }
    }

    /// Stops listening and closes the socket. Callable from any thread. Accepted connections are not
    /// affected.
    public func close() {
        guard loop.inEventLoop else {
            loop.execute { self.close() }
            return
        }
        guard !isClosed else { return }
        isClosed = true
        uv_close(uvHandle) { handle in
            guard let handle, let data = handle.pointee.data else { return }
            let listener = Unmanaged<TCPListener>.fromOpaque(data).takeRetainedValue()
            handle.pointee.data = nil
            UnsafeMutableRawPointer(handle).deallocate()
            let callback = listener.onClose
            listener.onClose = nil
            callback?()
        }
    }

    func closeForLoopShutdown() { close() }
}
