import CTLS

/// One connection's OpenSSL state over two memory BIOs: ciphertext read from the socket is fed in,
/// plaintext comes out of ``read(into:)``; plaintext given to ``encrypt(_:)`` and handshake records
/// come out as ciphertext through ``drainOutput(into:)``. No I/O of its own: the ``TCPConnection``
/// that owns it moves the bytes. Loop-bound, as its connection.
final class TLSSession {
    enum Step: Equatable {
        case done
        case wantMore
        case closed
        case failed(String)
    }

    let context: TLSContext
    private let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer
    private(set) var isEstablished = false
    /// Ciphertext bytes read before the handshake finished.
    var handshakeBytes = 0
    var handshakeTimer: LoopTimer?

    init?(context: TLSContext) {
        guard let ssl = context.makeSSL() else { return nil }
        guard let input = basalt_bio_new_mem(), let output = basalt_bio_new_mem() else {
            SSL_free(ssl)
            return nil
        }
        self.context = context
        self.ssl = ssl
        self.input = input
        self.output = output
        SSL_set_bio(ssl, input, output)  // the SSL owns both BIOs from here
        if context.role == .server { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
    }

    deinit { SSL_free(ssl) }

    /// Hands ciphertext from the socket to OpenSSL.
    func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        return BIO_write(input, base, Int32(bytes.count)) == Int32(bytes.count)
    }

    /// Moves the handshake on with what was fed so far.
    func handshake() -> Step {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            isEstablished = true
            handshakeTimer?.cancel()
            handshakeTimer = nil
            return .done
        }
        return step(rc)
    }

    /// Decrypts into `buffer`: `.done` with the byte count in `count`, or why nothing came.
    func read(into buffer: UnsafeMutableRawBufferPointer, count: inout Int) -> Step {
        ERR_clear_error()
        let rc = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if rc > 0 {
            count = Int(rc)
            return .done
        }
        return step(rc)
    }

    /// Encrypts all of `bytes` into the output BIO (a memory BIO never refuses a write).
    func encrypt(_ bytes: UnsafeRawBufferPointer) -> Step {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .done }
        ERR_clear_error()
        let rc = SSL_write(ssl, base, Int32(bytes.count))
        return rc == Int32(bytes.count) ? .done : step(rc)
    }

    /// Ciphertext waiting to be written to the socket.
    var pendingOutput: Int { Int(BIO_ctrl_pending(output)) }

    /// Plaintext OpenSSL has decrypted or still holds undecrypted input for.
    var hasBufferedInput: Bool { SSL_pending(ssl) > 0 || BIO_ctrl_pending(input) > 0 }

    /// Moves up to `buffer.count` bytes of ciphertext out; returns how many.
    func drainOutput(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = BIO_read(output, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        return max(0, Int(n))
    }

    /// Queues a close_notify alert (sent with the next drain).
    func shutdown() {
        ERR_clear_error()
        if isEstablished { _ = SSL_shutdown(ssl) }
    }

    /// The negotiated version and cipher, for log lines.
    var negotiated: String {
        let version = String(cString: SSL_get_version(ssl))
        let cipher = SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "?"
        return "\(version) \(cipher)"
    }

    private func step(_ rc: Int32) -> Step {
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantMore
        case SSL_ERROR_ZERO_RETURN: return .closed
        default:
            var reason = openSSLErrors()
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                reason += " (certificate check: \(String(cString: X509_verify_cert_error_string(verify))))"
            }
            return .failed(reason)
        }
    }
}
