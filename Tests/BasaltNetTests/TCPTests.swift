import BasaltCore
import BasaltNet
import Testing

/// A byte stream collected on a loop.
final class Received: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = Lock()
    private var bytes: [UInt8] = []
    private var closeReason: TCPCloseReason?

    func append(_ chunk: UnsafeRawBufferPointer) { lock.withLock { bytes.append(contentsOf: chunk) } }
    func closed(_ reason: TCPCloseReason) { lock.withLock { closeReason = reason } }
    var count: Int { lock.withLock { bytes.count } }
    var all: [UInt8] { lock.withLock { bytes } }
    var reason: TCPCloseReason? { lock.withLock { closeReason } }
}

struct TCPTests {
    @Test func echoesBytesAndBindsTheChosenLocalAddress() async throws {
        try await withEventLoop { loop in
            let serverSawPeer = Shared<SocketAddress?>(nil)
            let listener = try await TCPListener.listen(on: loop, at: try TestAddress.any(1)) { connection in
                serverSawPeer.with { $0 = connection.remoteAddress }
                connection.onRead = { chunk in try? connection.write(chunk) }
                connection.startReading()
            }
            #expect(listener.localAddress.port != 0)
            #expect(listener.localAddress.host == "127.0.1.1")
            let client = try await TCPConnection.connect(
                on: loop, to: listener.localAddress, bindingTo: try TestAddress.any(2))
            let received = Received()
            var payload = [UInt8](repeating: 0, count: 3 << 20)
            for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
            let toSend = payload
            try await loop.submit {
                client.onRead = { received.append($0) }
                client.startReading()
                // Uneven pieces, several per loop turn.
                var offset = 0, piece = 1
                while offset < toSend.count {
                    let end = min(toSend.count, offset + piece)
                    try toSend[offset ..< end].withUnsafeBytes { try client.write($0) }
                    offset = end
                    piece = piece * 3 % 70_001 + 1
                }
            }
            try await eventually("echo of 3 MiB") { received.count == payload.count }
            #expect(received.all == payload)
            #expect(serverSawPeer.current?.host == "127.0.1.2")
            #expect(client.localAddress?.host == "127.0.1.2")
            listener.close()
            client.close()
        }
    }

    @Test func connectToAClosedPortFails() async throws {
        try await withEventLoop { loop in
            let listener = try await TCPListener.listen(on: loop, at: try TestAddress.any(3)) { $0.close() }
            let address = listener.localAddress
            listener.close()
            _ = try await loop.submit {}
            await #expect(throws: TCPError.self) {
                _ = try await TCPConnection.connect(on: loop, to: address)
            }
        }
    }

    @Test func peerCloseIsReportedAndWritesFailAfterClose() async throws {
        try await withEventLoop { loop in
            let listener = try await TCPListener.listen(on: loop, at: try TestAddress.any(4)) { connection in
                connection.close(.local("go away"))
            }
            let client = try await TCPConnection.connect(on: loop, to: listener.localAddress)
            let received = Received()
            try await loop.submit {
                client.onClose = { received.closed($0) }
                client.startReading()
            }
            try await eventually("client sees the close") { received.reason != nil }
            #expect(received.reason == .remoteClosed)
            let error = try await loop.submit { () -> TCPError? in
                do { try client.write([1, 2, 3]); return nil } catch { return error as? TCPError }
            }
            #expect(error == .notOpen(peer: listener.localAddress.description))
            listener.close()
        }
    }

    @Test func closingAfterFlushDeliversEverythingQueuedFirst() async throws {
        try await withEventLoop { loop in
            let size = 6 << 20
            let listener = try await TCPListener.listen(on: loop, at: try TestAddress.any(7)) { connection in
                try? connection.write(count: size - 1)
                try? connection.write([0xFF])
                connection.close(.local("said everything"), flushFirst: true)
            }
            let client = try await TCPConnection.connect(on: loop, to: listener.localAddress)
            let received = Received()
            try await loop.submit {
                client.onRead = { received.append($0) }
                client.onClose = { received.closed($0) }
                client.startReading()
            }
            try await eventually("the close after the data") { received.reason != nil }
            #expect(received.count == size)
            #expect(received.all.last == 0xFF)
            #expect(received.reason == .remoteClosed)
            listener.close()
        }
    }

    @Test func pausedReaderPushesBackAndTheWriteQueueIsBounded() async throws {
        try await withEventLoop { loop in
            let serverConnection = Shared<TCPConnection?>(nil)
            let received = Received()
            let listener = try await TCPListener.listen(on: loop, at: try TestAddress.any(5)) { connection in
                serverConnection.with { $0 = connection }
                connection.onRead = { received.append($0) }
                // Never reads until resumed below.
            }
            var options = TCPOptions()
            options.maxQueuedWriteBytes = 64 << 20
            options.writeHighWatermark = 1 << 20
            options.writeLowWatermark = 256 << 10
            let limit = options.maxQueuedWriteBytes
            let client = try await TCPConnection.connect(on: loop, to: listener.localAddress, options: options)
            let writability = Shared([Bool]())
            try await eventually("server accepted") { serverConnection.current != nil }
            let block = [UInt8](repeating: 7, count: 1 << 20)
            // Fill kernel buffers and the queue until the connection reports itself unwritable.
            var written = 0
            for _ in 0 ..< 48 {
                let unwritable = try await loop.submit { () throws -> Bool in
                    client.onWritabilityChanged = { writable in writability.with { $0.append(writable) } }
                    try client.write(block)
                    return !client.isWritable
                }
                written += block.count
                if unwritable && written >= 8 << 20 { break }
            }
            #expect(writability.current.first == false)
            // A write past the hard limit is refused whole.
            let refused = try await loop.submit { () -> Bool in
                do { try client.write(count: limit) ; return false } catch { return true }
            }
            #expect(refused)
            try await loop.submit { serverConnection.current?.startReading() }
            try await eventually("everything delivered") { received.count == written }
            try await eventually("writable again") { writability.current.last == true }
            client.close()
            listener.close()
        }
    }

    @Test func acceptedConnectionsAreSpreadOverAGroup() async throws {
        let group = EventLoopGroup(threads: 2, name: "accept")
        let loops = Shared([ObjectIdentifier]())
        let listener = try await TCPListener.listen(
            on: group.loops[0], at: try TestAddress.any(6), distributeTo: group
        ) { connection in
            loops.with { $0.append(ObjectIdentifier(connection.loop)) }
            connection.onRead = { chunk in try? connection.write(chunk) }
            connection.startReading()
        }
        var clients: [TCPConnection] = []
        let echoes = Received()
        for _ in 0 ..< 4 {
            let client = try await TCPConnection.connect(on: group.loops[1], to: listener.localAddress)
            try await client.loop.submit {
                client.onRead = { echoes.append($0) }
                client.startReading()
                try client.write([1, 2, 3, 4])
            }
            clients.append(client)
        }
        try await eventually("four echoes") { echoes.count == 16 }
        #expect(Set(loops.current).count == 2)
        await group.shutdownGracefully()
    }
}

extension TCPConnection {
    /// Writes `count` zero bytes (test helper).
    func write(count: Int) throws(TCPError) {
        try write(byteCount: count) { $0.initializeMemory(as: UInt8.self, repeating: 0) }
    }
}
