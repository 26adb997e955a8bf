/// TLS below the connection's byte stream: with ``TCPOptions/tls`` set, ``TCPConnection/onRead``
/// sees plaintext and writes are encrypted when flushed, so framing layers above do not change.
///
/// Guarantees:
/// - Writes made before the handshake finishes are held (as plaintext, counted against the write
///   queue limit) and encrypted once it has.
/// - A handshake is bounded: it must finish within ``TLSConfiguration/handshakeTimeout`` and within
///   ``TLSConfiguration/maxHandshakeBytes`` of input, else the connection closes with a warning.
///   Bytes that are not TLS (or a certificate the truststore does not vouch for) fail the handshake:
///   a warning naming the peer and OpenSSL's reason, the alert sent, the connection closed.
/// - A server context that allows plain text decides by the first byte: 0x16 (a TLS handshake
///   record) starts TLS, anything else leaves the stream plain.
extension TCPConnection {
    /// Whether the stream is encrypted (false too while an optional server awaits the first byte).
    public var isEncrypted: Bool { tls != nil }

    /// Called once the socket is open.
    func startTLS(_ context: TLSContext) {
        if context.allowsPlaintext {
            tlsUndecided = true
        } else {
            beginTLS(context)
        }
    }

    /// The first byte from a client of a server that also accepts plain text.
    func decideTLS(firstByte: UInt8) {
        tlsUndecided = false
        guard let context = options.tls else { return }
        if firstByte == 0x16 {
            beginTLS(context)
        } else {
            context.logger.debug("plain-text connection on a port that also accepts TLS (optional: true)",
                                 metadata: ["remote": "\(peerDescription)", "context": "\(context.name)"])
        }
    }

    private func beginTLS(_ context: TLSContext) {
        guard let session = TLSSession(context: context) else {
            let reason = openSSLErrors()
            context.logger.error("cannot create a TLS session; closing connection",
                                 metadata: ["remote": "\(peerDescription)", "error": "\(reason)"])
            close(.error("TLS session: \(reason)"))
            return
        }
        tls = session
        let timeout = context.configuration.handshakeTimeout
        if timeout > .zero {
            // Cancelled when the handshake finishes or the connection closes.
            session.handshakeTimer = loop.scheduleTimer(after: timeout) {
                guard self.state == .open, let tls = self.tls, !tls.isEstablished else { return }
                context.logger.warning("closing connection: TLS handshake not finished within \(timeout)",
                                       metadata: ["remote": "\(self.peerDescription)", "context": "\(context.name)",
                                                  "handshake_bytes": "\(tls.handshakeBytes)"])
                context.counters.timedOut.add(1, ordering: .relaxed)
                self.close(.local("TLS handshake timed out"))
            }
        }
        if context.role == .client { advanceHandshake(session) }
    }

    func didReadCiphertext(_ chunk: UnsafeRawBufferPointer, _ tls: TLSSession) {
        guard tls.feed(chunk) else {
            close(.error("TLS: cannot buffer input"))
            return
        }
        if !tls.isEstablished {
            tls.handshakeBytes += chunk.count
            let limit = tls.context.configuration.maxHandshakeBytes
            if tls.handshakeBytes > limit {
                tls.context.logger.warning("closing connection: more than \(limit) bytes sent before the TLS handshake finished",
                                           metadata: ["remote": "\(peerDescription)", "context": "\(tls.context.name)"])
                tls.context.counters.tooLarge.add(1, ordering: .relaxed)
                close(.local("TLS handshake too large"))
                return
            }
            guard advanceHandshake(tls) else { return }
        }
        deliverPlaintext()
    }

    /// Moves the handshake on; returns whether it has finished.
    @discardableResult
    private func advanceHandshake(_ tls: TLSSession) -> Bool {
        let step = tls.handshake()
        switch step {
        case .done:
            tls.context.counters.established.add(1, ordering: .relaxed)
            tls.context.logger.debug("TLS established", metadata: [
                "remote": "\(peerDescription)", "context": "\(tls.context.name)", "negotiated": "\(tls.negotiated)"])
            scheduleWriteFlush()
            return true
        case .wantMore:
            if tls.pendingOutput > 0 { scheduleWriteFlush() }
            return false
        case .closed, .failed:
            let reason = if case let .failed(text) = step { text } else { "peer closed the connection during the handshake" }
            tls.context.logger.warning("TLS handshake failed; closing connection", metadata: [
                "remote": "\(peerDescription)", "context": "\(tls.context.name)", "error": "\(reason)"])
            tls.context.counters.failed.add(1, ordering: .relaxed)
            failTLS(tls, "TLS handshake failed: \(reason)")
            return false
        }
    }

    /// The peer closed before the handshake finished: logged when it had started one (a server that
    /// got handshake bytes) or when this side connected (its server hung up on it). Connections that
    /// open and close without a byte, as port probes do, are not logged.
    func noteClosedDuringHandshake(_ tls: TLSSession) {
        guard tls.context.role == .client || tls.handshakeBytes > 0 else { return }
        tls.context.logger.info("peer closed the connection during the TLS handshake", metadata: [
            "remote": "\(peerDescription)", "context": "\(tls.context.name)", "handshake_bytes": "\(tls.handshakeBytes)"])
    }

    /// Hands decrypted bytes to ``onRead`` while reading is on (the rest stays in OpenSSL until
    /// reading resumes).
    func deliverPlaintext() {
        while state == .open, isReading, let tls {
            var count = 0
            let buffer = loop.readBuffer
            switch tls.read(into: buffer, count: &count) {
            case .done:
                onRead?(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count))
            case .wantMore:
                if tls.pendingOutput > 0 { scheduleWriteFlush() }
                return
            case .closed:
                close(.remoteClosed)
                return
            case let .failed(reason):
                tls.context.logger.warning("TLS error; closing connection", metadata: [
                    "remote": "\(peerDescription)", "context": "\(tls.context.name)", "error": "\(reason)"])
                failTLS(tls, "TLS: \(reason)")
                return
            }
        }
    }

    /// Sends what OpenSSL queued (an alert), then closes.
    private func failTLS(_ tls: TLSSession, _ reason: String) {
        writeTLSOutput(tls)
        close(.error(reason), flushFirst: true)
    }

    func scheduleWriteFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.scheduleFlush(self)
    }

    /// ``flush()`` on a TLS stream: once the handshake is done, encrypts the plaintext queued; then
    /// writes all ciphertext OpenSSL holds.
    func flushTLS(_ tls: TLSSession) {
        if tls.isEstablished, let failure = encryptPending(tls) {
            close(.error("TLS write failed: \(failure)"))
            return
        }
        writeTLSOutput(tls)
    }

    /// Before a graceful close: encrypts what is queued, then queues the close_notify alert after it
    /// (OpenSSL writes nothing more once it is sent); the close's flush sends both.
    func sealTLS(_ tls: TLSSession) {
        _ = encryptPending(tls)
        tls.shutdown()
    }

    /// Moves the queued plaintext into OpenSSL as records; OpenSSL's reason if that failed.
    private func encryptPending(_ tls: TLSSession) -> String? {
        guard !pendingChunks.isEmpty else { return nil }
        let chunks = pendingChunks
        pendingChunks.removeAll(keepingCapacity: true)
        pendingBytes = 0
        var failure: String?
        for chunk in chunks {
            if failure == nil, case let .failed(reason) = tls.encrypt(UnsafeRawBufferPointer(start: chunk.base, count: chunk.count)) {
                failure = reason
            }
            recycle(chunk)
        }
        return failure
    }

    private func writeTLSOutput(_ tls: TLSSession) {
        var chunks = [WriteChunk]()
        var total = 0
        while tls.pendingOutput > 0 {
            var chunk = makeChunk(atLeast: min(tls.pendingOutput, WriteChunk.standardSize))
            let n = tls.drainOutput(into: UnsafeMutableRawBufferPointer(start: chunk.base, count: chunk.capacity))
            guard n > 0 else {
                recycle(chunk)
                break
            }
            chunk.count = n
            chunks.append(chunk)
            total += n
        }
        if !chunks.isEmpty { submitWrite(chunks, byteCount: total) }
    }
}
