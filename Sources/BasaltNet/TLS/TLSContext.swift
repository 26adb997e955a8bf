import BasaltCore
import CTLS
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files and settings a TLS context is built from. The PEM files are named as Cassandra 4.1's
/// PEM-based SSL context factory names them: `keystore` holds the private key and the certificate
/// chain, `truststore` the CA certificates peers are checked against.
public struct TLSConfiguration: Sendable, Equatable {
    /// PEM file with the private key and the certificate chain (leaf first). Optional for a client.
    public var keystore: String?
    /// Password of an encrypted private key in ``keystore``.
    public var keystorePassword: String?
    /// PEM file of CA certificates. A server with ``peerCertificate`` other than `.none`, and a
    /// client that verifies its server, need it.
    public var truststore: String?
    /// Server side: whether a client certificate is asked for and must be valid.
    public var peerCertificate: PeerCertificate = .none
    /// Client side: check the server's chain against ``truststore`` (no host-name check, as
    /// Cassandra's `require_endpoint_verification: false`).
    public var verifyServer = true
    /// Protocol versions accepted, `TLSv1.2` / `TLSv1.3`; empty is both.
    public var acceptedProtocols: [String] = []
    /// OpenSSL cipher names: TLS 1.3 suites (`TLS_AES_…`, `TLS_CHACHA20_…`) and TLS 1.2 ciphers
    /// (`ECDHE-RSA-AES128-GCM-SHA256`); empty keeps OpenSSL's defaults.
    public var cipherSuites: [String] = []
    /// A handshake not finished this long after the connection opened closes it.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Bytes a peer may send before its handshake finishes; past it the connection closes.
    public var maxHandshakeBytes = 256 << 10

    public enum PeerCertificate: String, Sendable, Equatable {
        /// Not asked for.
        case none
        /// Asked for, checked when given.
        case optional
        /// A connection without a certificate signed by the truststore's CA is refused.
        case required
    }

    public init() {}
}

/// Why a TLS context could not be built.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An OpenSSL `SSL_CTX` for one side (server or client) built from a ``TLSConfiguration``, shared by
/// every connection that uses it. ``reload()`` rebuilds it from the files: connections opened later
/// use the new certificates, open ones keep theirs (OpenSSL reference-counts the context).
public final class TLSContext: @unchecked Sendable {
    // @unchecked: `current` and `stamps` are only touched under `lock`; an SSL_CTX is safe to use
    // from several threads once built.

    public enum Role: Sendable { case server, client }

    public let role: Role
    public let configuration: TLSConfiguration
    /// Server side: a first byte that is not a TLS handshake record makes the connection plain text
    /// (Cassandra's `optional: true`, for migrating clients).
    public let allowsPlaintext: Bool
    /// What connections log their handshake failures with, and a name for the log lines.
    public let logger: Logger
    public let name: String
    /// What connections on this context did, for metrics.
    public let counters = TLSCounters()
    private let lock = Lock()
    private var current: OpaquePointer
    private var stamps: [FileStamp]

    public init(role: Role, configuration: TLSConfiguration, allowsPlaintext: Bool = false, name: String,
                logger: Logger) throws(TLSError) {
        self.role = role
        self.configuration = configuration
        self.allowsPlaintext = allowsPlaintext && role == .server
        self.name = name
        self.logger = logger
        stamps = Self.stamps(of: configuration)
        current = try Self.build(role: role, configuration, name: name)
    }

    deinit { SSL_CTX_free(current) }

    /// A new `SSL` object on the current context, or nil if OpenSSL cannot make one.
    func makeSSL() -> OpaquePointer? {
        lock.withLock { SSL_new(current) }
    }

    /// Rebuilds the context from the files. On failure the old one stays in use and the error says why.
    public func reload() throws(TLSError) {
        let fresh = Self.stamps(of: configuration)
        let built = try Self.build(role: role, configuration, name: name)
        let old = lock.withLock {
            defer {
                current = built
                stamps = fresh
            }
            return current
        }
        SSL_CTX_free(old)
        counters.reloads.add(1, ordering: .relaxed)
    }

    /// Rebuilds the context if a file's modification time or size changed since it was last built;
    /// returns whether it did. A failed rebuild is logged and the old context kept.
    @discardableResult
    public func reloadIfChanged() -> Bool {
        let fresh = Self.stamps(of: configuration)
        guard lock.withLock({ fresh != stamps }) else { return false }
        do {
            try reload()
            logger.info("TLS certificates reloaded", metadata: ["context": "\(name)"])
            return true
        } catch {
            // Remember the broken files so the error is logged once, not every check.
            lock.withLock { stamps = fresh }
            logger.error("TLS certificate reload failed; keeping the previous certificates",
                         metadata: ["context": "\(name)", "error": "\(error)"])
            return false
        }
    }

    // MARK: - Building

    private struct FileStamp: Equatable {
        let path: String
        let modified: Int
        let size: Int
    }

    private static func stamps(of c: TLSConfiguration) -> [FileStamp] {
        [c.keystore, c.truststore].compactMap { $0 }.map { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return FileStamp(path: path, modified: -1, size: -1) }
            return FileStamp(path: path, modified: Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec),
                             size: Int(info.st_size))
        }
    }

    private static func build(role: Role, _ c: TLSConfiguration, name: String) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError("\(name): cannot create an OpenSSL context: \(openSSLErrors())")
        }
        do throws(TLSError) {
            try configure(ctx, role: role, c, name: name)
            return ctx
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
    }

    private static func configure(_ ctx: OpaquePointer, role: Role, _ c: TLSConfiguration, name: String) throws(TLSError) {
        basalt_ssl_ctx_defaults(ctx)
        let versions = try protocolRange(c.acceptedProtocols, name: name)
        _ = basalt_ssl_ctx_set_min_proto(ctx, versions.min)
        _ = basalt_ssl_ctx_set_max_proto(ctx, versions.max)
        let tls13 = c.cipherSuites.filter { $0.hasPrefix("TLS_AES_") || $0.hasPrefix("TLS_CHACHA20_") }
        let tls12 = c.cipherSuites.filter { !tls13.contains($0) }
        if !tls13.isEmpty && SSL_CTX_set_ciphersuites(ctx, tls13.joined(separator: ":")) != 1 {
            throw TLSError("\(name): cipher_suites: OpenSSL knows none of \(tls13): \(openSSLErrors())")
        }
        if !tls12.isEmpty && SSL_CTX_set_cipher_list(ctx, tls12.joined(separator: ":")) != 1 {
            throw TLSError("\(name): cipher_suites: OpenSSL knows none of \(tls12) (give OpenSSL names, e.g. ECDHE-RSA-AES128-GCM-SHA256): \(openSSLErrors())")
        }
        if let keystore = c.keystore {
            if SSL_CTX_use_certificate_chain_file(ctx, keystore) != 1 {
                throw TLSError("\(name): keystore \(keystore): no usable PEM certificate chain: \(openSSLErrors())")
            }
            guard let key = basalt_read_private_key(keystore, c.keystorePassword) else {
                throw TLSError("\(name): keystore \(keystore): cannot read the private key\(c.keystorePassword == nil ? "" : " with keystore_password"): \(openSSLErrors())")
            }
            defer { EVP_PKEY_free(key) }
            if SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1 {
                throw TLSError("\(name): keystore \(keystore): the private key does not match the certificate: \(openSSLErrors())")
            }
        } else if role == .server {
            throw TLSError("\(name): a keystore (private key and certificate chain, PEM) is required")
        }
        if let truststore = c.truststore {
            if SSL_CTX_load_verify_locations(ctx, truststore, nil) != 1 {
                throw TLSError("\(name): truststore \(truststore): no usable PEM CA certificates: \(openSSLErrors())")
            }
            if role == .server, let names = SSL_load_client_CA_file(truststore) {
                SSL_CTX_set_client_CA_list(ctx, names)
            }
        }
        switch role {
        case .server:
            if c.peerCertificate != .none && c.truststore == nil {
                throw TLSError("\(name): checking peer certificates needs a truststore (CA certificates, PEM)")
            }
            switch c.peerCertificate {
            case .none: SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            case .optional: SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            case .required: SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            }
        case .client:
            if c.verifyServer && c.truststore == nil {
                throw TLSError("\(name): verifying the server needs a truststore (CA certificates, PEM)")
            }
            SSL_CTX_set_verify(ctx, c.verifyServer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        }
    }

    private static func protocolRange(_ names: [String], name: String) throws(TLSError) -> (min: Int32, max: Int32) {
        guard !names.isEmpty else { return (Int32(TLS1_2_VERSION), Int32(TLS1_3_VERSION)) }
        var versions = [Int32]()
        for n in names {
            switch n.lowercased() {
            case "tlsv1.2", "tls1.2": versions.append(Int32(TLS1_2_VERSION))
            case "tlsv1.3", "tls1.3": versions.append(Int32(TLS1_3_VERSION))
            case "tls": versions += [Int32(TLS1_2_VERSION), Int32(TLS1_3_VERSION)]
            default: throw TLSError("\(name): accepted_protocols: '\(n)' is not TLSv1.2 or TLSv1.3 (older versions are not offered)")
            }
        }
        return (versions.min()!, versions.max()!)
    }
}

/// Handshakes of one ``TLSContext``'s connections, by outcome. Any thread.
public final class TLSCounters: Sendable {
    let established = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let timedOut = Atomic<Int>(0)
    let tooLarge = Atomic<Int>(0)
    let reloads = Atomic<Int>(0)

    /// Handshakes finished.
    public var handshakes: Int { established.load(ordering: .relaxed) }
    /// Handshakes that failed: not TLS, a certificate refused, no common protocol or cipher.
    public var failures: Int { failed.load(ordering: .relaxed) }
    /// Connections closed for not finishing the handshake in time.
    public var timeouts: Int { timedOut.load(ordering: .relaxed) }
    /// Connections closed for sending more than the handshake's byte bound.
    public var oversized: Int { tooLarge.load(ordering: .relaxed) }
    /// Successful rebuilds from the files.
    public var reloaded: Int { reloads.load(ordering: .relaxed) }
}

/// OpenSSL's queued errors for this thread as one line (and clears the queue).
func openSSLErrors() -> String {
    var parts = [String]()
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return parts.isEmpty ? "no detail from OpenSSL" : parts.joined(separator: "; ")
}
