import BasaltNet

/// A minimal HTTP/1.1 client for the admin endpoint (`basalt admin`, tests, scripts): one GET per
/// connection, the response read until the server closes, bounded in size and time.
public enum AdminClient {
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case connect(TCPError)
        case timedOut(after: Duration)
        case malformed(String)
        case tooLarge(limit: Int)

        public var description: String {
            switch self {
            case let .connect(e): "\(e)"
            case let .timedOut(d): "no complete answer within \(d)"
            case let .malformed(what): "malformed response: \(what)"
            case let .tooLarge(limit): "response larger than \(limit) bytes"
            }
        }
    }

    /// `GET path` from the admin endpoint at `address`, using `loop`.
    public static func get(
        _ path: String, from address: SocketAddress, on loop: EventLoop, timeout: Duration = .seconds(10),
        maxBytes: Int = 64 << 20
    ) async throws(Failure) -> Response {
        try await send("GET", path, to: address, on: loop, timeout: timeout, maxBytes: maxBytes)
    }

    /// `method path` (no body) to the admin endpoint at `address`, using `loop`.
    public static func send(
        _ method: String, _ path: String, to address: SocketAddress, on loop: EventLoop, timeout: Duration = .seconds(10),
        maxBytes: Int = 64 << 20
    ) async throws(Failure) -> Response {
        var options = TCPOptions()
        options.connectTimeout = timeout
        let connection: TCPConnection
        do {
            connection = try await TCPConnection.connect(on: loop, to: address, options: options)
        } catch {
            throw .connect(error)
        }
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        let result: Result<[UInt8], Failure> = await withUnsafeContinuation { continuation in
            let collector = ResponseCollector(continuation: continuation, maxBytes: maxBytes)
            let accepted = loop.execute {
                collector.timer = loop.scheduleTimer(after: timeout) {
                    collector.finish(.failure(.timedOut(after: timeout)))
                    connection.close(.local("admin request timed out"))
                }
                connection.onRead = { bytes in
                    if !collector.append(bytes) { connection.close(.local("admin response too large")) }
                }
                connection.onClose = { _ in collector.finish(.success(collector.bytes)) }
                connection.startReading()
                connection.send(request)
            }
            if !accepted { continuation.resume(returning: .failure(.connect(.loopShutDown))) }
        }
        return try parse(try result.get())
    }

    static func parse(_ bytes: [UInt8]) throws(Failure) -> Response {
        guard let end = HTTPRequestParser.headEnd(bytes, from: 0) else { throw .malformed("no end of head") }
        let head = String(decoding: bytes[0 ..< end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw .malformed("status line '\(statusLine)'")
        }
        return Response(status: status, body: Array(bytes[end...]))
    }
}

/// Gathers one response on the connection's loop and completes exactly once.
private final class ResponseCollector: @unchecked Sendable {
    // @unchecked: touched only on the connection's loop.
    var bytes: [UInt8] = []
    var timer: LoopTimer?
    private var continuation: UnsafeContinuation<Result<[UInt8], AdminClient.Failure>, Never>?
    private let maxBytes: Int
    private var overflowed = false

    init(continuation: UnsafeContinuation<Result<[UInt8], AdminClient.Failure>, Never>, maxBytes: Int) {
        self.continuation = continuation
        self.maxBytes = maxBytes
    }

    func append(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count + chunk.count <= maxBytes else {
            overflowed = true
            return false
        }
        bytes.append(contentsOf: chunk)
        return true
    }

    func finish(_ result: Result<[UInt8], AdminClient.Failure>) {
        timer?.cancel()
        timer = nil
        let c = continuation
        continuation = nil
        c?.resume(returning: overflowed ? .failure(.tooLarge(limit: maxBytes)) : result)
    }
}
