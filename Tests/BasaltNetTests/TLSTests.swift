import BasaltCore
import BasaltNet
import Foundation
import Logging
import Testing

/// A CA and certificates made by the openssl command in a temporary directory.
final class TestCertificates: Sendable {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "basalt-tls-\(UInt64.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try makeCA("ca")
        try makeCA("other-ca")
        try makeKeystore("server", ca: "ca")
        try makeKeystore("client", ca: "ca")
        try makeKeystore("stranger", ca: "other-ca")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String) -> String { directory + "/" + name }

    func makeCA(_ name: String) throws {
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                     "-subj", "/CN=\(name)", "-keyout", "\(name).key", "-out", "\(name).pem"])
    }

    /// `name-keystore.pem`: the key, then the certificate `ca` signed.
    func makeKeystore(_ name: String, ca: String) throws {
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(name)",
                     "-keyout", "\(name).key", "-out", "\(name).csr"])
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial",
                     "-days", "2", "-out", "\(name).crt"])
        let pem = try String(contentsOfFile: path("\(name).key"), encoding: .utf8) + String(contentsOfFile: path("\(name).crt"), encoding: .utf8)
        try pem.write(toFile: path("\(name)-keystore.pem"), atomically: true, encoding: .utf8)
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TLSError("openssl \(arguments.prefix(2)) failed") }
    }

    func server(peerCertificate: TLSConfiguration.PeerCertificate = .required, allowsPlaintext: Bool = false,
                configure: (inout TLSConfiguration) -> Void = { _ in }, logger: Logger) throws -> TLSContext {
        var c = TLSConfiguration()
        c.keystore = path("server-keystore.pem")
        c.truststore = path("ca.pem")
        c.peerCertificate = peerCertificate
        configure(&c)
        return try TLSContext(role: .server, configuration: c, allowsPlaintext: allowsPlaintext, name: "test server", logger: logger)
    }

    func client(keystore: String? = "client", logger: Logger) throws -> TLSContext {
        var c = TLSConfiguration()
        c.keystore = keystore.map { path("\($0)-keystore.pem") }
        c.truststore = path("ca.pem")
        return try TLSContext(role: .client, configuration: c, name: "test client", logger: logger)
    }
}

/// Addresses of the TLS tests, 127.0.11.x.
private func tlsAddress(_ n: Int) throws -> SocketAddress { try SocketAddress(host: "127.0.11.\(n)", port: 0) }

/// An echo server on `loop` with `tls`.
private func echoServer(on loop: EventLoop, at n: Int, tls: TLSContext?) async throws -> TCPListener {
    var options = TCPOptions()
    options.tls = tls
    return try await TCPListener.listen(on: loop, at: try tlsAddress(n), connectionOptions: options) { connection in
        connection.onRead = { chunk in try? connection.write(chunk) }
        connection.startReading()
    }
}

private func connect(_ loop: EventLoop, to listener: TCPListener, tls: TLSContext?, received: Received) async throws -> TCPConnection {
    var options = TCPOptions()
    options.tls = tls
    let client = try await TCPConnection.connect(on: loop, to: listener.localAddress, options: options)
    try await loop.submit {
        client.onRead = { received.append($0) }
        client.onClose = { received.closed($0) }
        client.startReading()
    }
    return client
}

@Suite(.serialized)
struct TLSTests {
    @Test func echoesAcrossTLSWithMutualAuthentication() async throws {
        let certificates = try TestCertificates()
        let logs = CapturedLogs()
        try await withEventLoop { loop in
            let listener = try await echoServer(on: loop, at: 1, tls: try certificates.server(logger: logs.logger()))
            let received = Received()
            let client = try await connect(loop, to: listener, tls: try certificates.client(logger: logs.logger()), received: received)
            var payload = [UInt8](repeating: 0, count: 1 << 20)
            for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: i &* 7 &+ i >> 11) }
            let toSend = payload
            // Written before the handshake finished: held, then encrypted.
            try await loop.submit { try client.write(toSend) }
            try await eventually("echo of 1 MiB over TLS") { received.count == payload.count }
            #expect(received.all == payload)
            #expect(try await loop.submit { client.isEncrypted })
            #expect(received.reason == nil)
            listener.close()
            client.close()
        }
    }

    @Test func aClientWithoutACertificateOrWithAStrangersIsRefused() async throws {
        let certificates = try TestCertificates()
        let logs = CapturedLogs()
        try await withEventLoop { loop in
            let listener = try await echoServer(on: loop, at: 2, tls: try certificates.server(logger: logs.logger()))
            for keystore in [nil, "stranger"] as [String?] {
                let received = Received()
                let client = try await connect(loop, to: listener, tls: try certificates.client(keystore: keystore, logger: logs.logger()),
                                               received: received)
                // The refusal may already have closed the connection.
                try await loop.submit { try? client.write(Array("hello".utf8)) }
                try await eventually("the refused client sees its connection closed") { received.reason != nil }
                #expect(received.count == 0)
            }
            let failures = logs.all.filter { $0.message.contains("TLS handshake failed") }.map(\.rendered)
            #expect(failures.contains { $0.contains("peer did not return a certificate") })
            #expect(failures.contains { $0.contains("certificate verify failed") })
            listener.close()
        }
    }

    @Test func plainTextInsteadOfAClientHelloIsLoggedAndClosed() async throws {
        let certificates = try TestCertificates()
        let logs = CapturedLogs()
        try await withEventLoop { loop in
            let listener = try await echoServer(on: loop, at: 3, tls: try certificates.server(peerCertificate: .none, logger: logs.logger()))
            let received = Received()
            let client = try await connect(loop, to: listener, tls: nil, received: received)
            try await loop.submit { try client.write(Array("GET / HTTP/1.1\r\nHost: basalt\r\n\r\n".utf8)) }
            try await eventually("the server closes the plain-text connection") { received.reason != nil }
            // At most an alert record came back (content type 21), never an echo.
            #expect(received.all.first.map { $0 == 21 } ?? true)
            #expect(logs.all.contains { $0.level == .warning && $0.message.contains("TLS handshake failed") })
            listener.close()
        }
    }

    @Test func aHandshakeIsBoundedByTimeAndBytes() async throws {
        let certificates = try TestCertificates()
        let logs = CapturedLogs()
        try await withEventLoop { loop in
            let server = try certificates.server(peerCertificate: .none, configure: {
                $0.handshakeTimeout = .milliseconds(200)
                $0.maxHandshakeBytes = 1024
            }, logger: logs.logger())
            let listener = try await echoServer(on: loop, at: 4, tls: server)
            // Silent after connecting: closed by the handshake timeout.
            let silent = Received()
            _ = try await connect(loop, to: listener, tls: nil, received: silent)
            try await eventually("the silent client is closed") { silent.reason != nil }
            #expect(logs.all.contains { $0.message.contains("TLS handshake not finished within") })
            listener.close()
            // A handshake record announcing 16 KiB, then more than the byte bound of it: to a
            // server whose timeout cannot close the connection first on a busy machine.
            let bounded = try await echoServer(on: loop, at: 4, tls: try certificates.server(peerCertificate: .none, configure: {
                $0.handshakeTimeout = .seconds(120)
                $0.maxHandshakeBytes = 1024
            }, logger: logs.logger()))
            let large = Received()
            let client = try await connect(loop, to: bounded, tls: nil, received: large)
            try await loop.submit { try client.write([0x16, 0x03, 0x01, 0x40, 0x00] + [UInt8](repeating: 1, count: 2000)) }
            try await eventually("the large handshake is closed") { large.reason != nil }
            #expect(logs.all.contains { $0.message.contains("bytes sent before the TLS handshake finished") })
            bounded.close()
        }
    }

    @Test func anOptionalServerTakesPlainTextAndTLSOnOnePort() async throws {
        let certificates = try TestCertificates()
        let logs = CapturedLogs()
        try await withEventLoop { loop in
            let listener = try await echoServer(
                on: loop, at: 5, tls: try certificates.server(peerCertificate: .none, allowsPlaintext: true, logger: logs.logger()))
            for tls in [nil, try certificates.client(keystore: nil, logger: logs.logger())] {
                let received = Received()
                let client = try await connect(loop, to: listener, tls: tls, received: received)
                try await loop.submit { try client.write(Array("ping".utf8)) }
                try await eventually("echo") { received.count == 4 }
                #expect(received.all == Array("ping".utf8))
                #expect(try await loop.submit { client.isEncrypted } == (tls != nil))
                client.close()
            }
            listener.close()
        }
    }

    @Test func aGracefulCloseDeliversWhatWasWrittenBeforeIt() async throws {
        let certificates = try TestCertificates()
        let logs = CapturedLogs()
        try await withEventLoop { loop in
            var options = TCPOptions()
            options.tls = try certificates.server(peerCertificate: .none, logger: logs.logger())
            let listener = try await TCPListener.listen(on: loop, at: try tlsAddress(6), connectionOptions: options) { connection in
                connection.onRead = { _ in
                    try? connection.write(Array(repeating: 7, count: 100_000))
                    connection.close(.local("done"), flushFirst: true)
                }
                connection.startReading()
            }
            let received = Received()
            let client = try await connect(loop, to: listener, tls: try certificates.client(keystore: nil, logger: logs.logger()),
                                           received: received)
            try await loop.submit { try client.write([1]) }
            try await eventually("the server's close") { received.reason != nil }
            #expect(received.all == Array(repeating: 7, count: 100_000))
            #expect(received.reason == .remoteClosed)
            listener.close()
        }
    }

    @Test func internodeMessagingAuthenticatesPeersByCertificate() async throws {
        let certificates = try TestCertificates()
        let logs = CapturedLogs()
        var services = [MessagingService]()
        func start(_ n: Int, keystore: String) async throws -> MessagingService {
            var settings = MessagingSettings(address: try tlsAddress(n))
            settings.reconnectBackoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
            settings.serverTLS = try certificates.server(logger: logs.logger(label: "node\(n)"))
            settings.clientTLS = try certificates.client(keystore: keystore, logger: logs.logger(label: "node\(n)"))
            let service = MessagingService(settings: settings, threads: 1, logger: logs.logger(label: "node\(n)"))
            service.register(TestVerbs.echo) { message, reply in reply.reply(message.payload) }
            services.append(service)
            try await service.start()
            return service
        }
        do {
            let a = try await start(10, keystore: "client")
            let b = try await start(11, keystore: "client")
            let stranger = try await start(12, keystore: "stranger")
            #expect(try await a.request(to: b.address, verb: TestVerbs.echo, payload: Array("ping".utf8)) == Array("ping".utf8))
            #expect(await requestError(stranger, to: b.address, verb: TestVerbs.echo, payload: [1], timeout: .seconds(5)) != nil)
            try await eventually("node 11 logs the stranger's refusal") {
                logs.all.contains { $0.message.contains("TLS handshake failed") && $0.rendered.contains("127.0.11.12")
                    && $0.rendered.contains("certificate verify failed") }
            }
            #expect(b.counters.connectionsAccepted >= 1)
        } catch {
            for service in services { await service.shutdown() }
            throw error
        }
        for service in services { await service.shutdown() }
    }

    @Test func changedFilesAreReloadedAndBrokenOnesKeepTheOldCertificates() async throws {
        let certificates = try TestCertificates()
        let logs = CapturedLogs()
        let server = try certificates.server(logger: logs.logger())
        #expect(server.reloadIfChanged() == false)
        try certificates.makeKeystore("server", ca: "ca")
        #expect(server.reloadIfChanged() == true)
        try "not a certificate".write(toFile: certificates.path("server-keystore.pem"), atomically: true, encoding: .utf8)
        #expect(throws: TLSError.self) { try server.reload() }
        #expect(server.reloadIfChanged() == false)
        #expect(logs.all.contains { $0.level == .error && $0.message.contains("reload failed") })
    }
}
