import CLibUV

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TCPConnection {
    /// Opens a connection to `remote`, optionally binding the local end to `local` first (port 0
    /// picks an ephemeral port; binding the address makes the peer see this node's own address).
    /// Loop thread only; `completion` runs on the loop with the open connection (not yet reading) or
    /// the error. A connect that takes longer than ``TCPOptions/connectTimeout`` fails.
    public static func connect(
        on loop: EventLoop,
        to remote: SocketAddress,
        bindingTo local: SocketAddress? = nil,
        options: TCPOptions = TCPOptions(),
        completion: @escaping (Result<TCPConnection, TCPError>) -> Void
    ) {
        loop.assertInEventLoop()
        guard !loop.isShuttingDown else {
            completion(.failure(.loopShutDown))
            return
        }
        let connection = TCPConnection(loop: loop, options: options, state: .connecting)
        connection.connectTarget = remote.description
        if let local {
            let rc = local.withSockAddr { uv_tcp_bind(connection.handle, $0, 0) }
            if rc != 0 {
                connection.close(.local("bind failed"))
                completion(.failure(.bindFailed(address: local.description, reason: UVError.describe(rc))))
                return
            }
        }
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        // The handle holds the connection alive until its close callback, which runs after this one.
        request.pointee.data = Unmanaged.passUnretained(connection).toOpaque()
        connection.connectCompletion = completion
        let rc = remote.withSockAddr { address in
            uv_tcp_connect(request, connection.handle, address) { request, status in
                guard let request else { return }
                let data = request.pointee.data
                request.deallocate()
                guard let data else { return }
                Unmanaged<TCPConnection>.fromOpaque(data).takeUnretainedValue().didConnect(status: status)
            }
        }
        if rc != 0 {
            request.deallocate()
            connection.connectCompletion = nil
            connection.close(.local("connect failed"))
            completion(.failure(.connectFailed(address: remote.description, reason: UVError.describe(rc))))
            return
        }
        let timeout = options.connectTimeout
        // Strong capture (no side table on the connection); the timer is cancelled when the
        // connect completes or the connection closes.
        connection.connectTimer = loop.scheduleTimer(after: timeout) {
            guard connection.state == .connecting else { return }
            connection.connectTimedOut = true
            connection.close(.local("connect timed out after \(timeout)"))
        }
    }

    /// ``connect(on:to:bindingTo:options:completion:)`` from any thread. The connection returned is
    /// open but not reading; install its callbacks on its loop, then call ``startReading()``.
    public static func connect(
        on loop: EventLoop,
        to remote: SocketAddress,
        bindingTo local: SocketAddress? = nil,
        options: TCPOptions = TCPOptions()
    ) async throws(TCPError) -> TCPConnection {
        let result: Result<TCPConnection, TCPError> = await withUnsafeContinuation { continuation in
            let accepted = loop.execute {
                connect(on: loop, to: remote, bindingTo: local, options: options) { continuation.resume(returning: $0) }
            }
            if !accepted { continuation.resume(returning: .failure(.loopShutDown)) }
        }
        return try result.get()
    }

    private func didConnect(status: Int32) {
        connectTimer?.cancel()
        connectTimer = nil
        let completion = connectCompletion
        connectCompletion = nil
        if status == 0 && state == .connecting {
            didOpen()
            completion?(.success(self))
            return
        }
        let reason: String
        if connectTimedOut {
            reason = "timed out after \(options.connectTimeout)"
        } else if status == 0 {
            reason = "closed while connecting"
        } else {
            reason = UVError.describe(status)
        }
        if state == .connecting || state == .open { close(.error("connect failed: \(reason)")) }
        completion?(.failure(.connectFailed(address: connectTarget, reason: reason)))
    }

    /// A connection around an already-connected socket descriptor (accepted on another loop).
    /// Takes ownership of `descriptor`; closes it on failure.
    static func adopting(descriptor: Int32, on loop: EventLoop, options: TCPOptions) -> TCPConnection? {
        loop.assertInEventLoop()
        guard !loop.isShuttingDown else {
            _ = systemClose(descriptor)
            return nil
        }
        let connection = TCPConnection(loop: loop, options: options, state: .connecting)
        guard uv_tcp_open(connection.handle, uv_os_sock_t(descriptor)) == 0 else {
            _ = systemClose(descriptor)
            connection.close(.local("cannot adopt socket"))
            return nil
        }
        connection.didOpen()
        return connection
    }
}

func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(fd)
    #else
    Darwin.close(fd)
    #endif
}
