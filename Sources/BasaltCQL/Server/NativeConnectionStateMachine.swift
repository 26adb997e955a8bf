import BasaltCore
import BasaltProtocol

/// The life of one native-protocol connection, as a pure value: frames and completions in,
/// actions out. No I/O, no clock.
///
/// ```
/// awaitingStartup --STARTUP--> ready                  (no authenticator)
/// awaitingStartup --STARTUP--> authenticating --AUTH_RESPONSE--> (.authenticate; result ok) --> ready
/// any state: OPTIONS → SUPPORTED; a fatal decode error → its ERROR frame, then close
/// ```
/// The STARTUP frame's version (4 or 5) is the connection's: later frames of another version are
/// a protocol error that closes it. On v5, READY or AUTHENTICATE is followed by
/// `.startSegments`: from then on both directions carry frames in checksummed segments,
/// LZ4-compressed per segment when STARTUP asked for lz4 (frame bodies are then never
/// compressed; snappy is refused on v5, as the drivers expect).
/// Statement requests (QUERY, PREPARE, EXECUTE, BATCH) are handed out as `.execute` and may be
/// answered in any order (``onRequestCompleted()``). At most `maxInFlight` run at once: at
/// `pauseThreshold` reading is paused, and resumed at half; a request beyond `maxInFlight`
/// (already read before the pause took effect) is answered Overloaded.
public struct NativeConnectionStateMachine: Sendable {
    public enum State: Hashable, Sendable {
        case awaitingStartup
        case authenticating
        case ready
        case closed
    }

    public enum Action: Hashable, Sendable {
        /// Write this response (compressed with ``compression`` when it is set).
        case send(ResponseFrame)
        /// Write this frame as is (version-negotiation errors, never compressed).
        case sendRaw(Frame)
        /// Run the request off the loop and report ``onRequestCompleted()``.
        case execute(RequestFrame)
        /// Change the connection's event registrations to these types.
        case register(Set<String>)
        case pauseReading
        case resumeReading
        /// Close once what was written has been flushed.
        case close(String)
        /// Check these SASL credentials off the loop and report ``onAuthenticationResult(stream:_:)``.
        case authenticate(stream: Int16, token: [UInt8]?)
        /// v5: what follows, read and written, is segments (after the answer just sent).
        case startSegments(lz4: Bool)
    }

    public struct Settings: Hashable, Sendable {
        public var maxInFlight = 2048
        public var pauseThreshold = 1024
        /// Answer STARTUP with AUTHENTICATE (PasswordAuthenticator).
        public var requiresAuthentication: Bool
        public var maxBodyLength = FrameDecoder.defaultMaxBodyLength
        public init(requiresAuthentication: Bool = false) { self.requiresAuthentication = requiresAuthentication }
    }

    public private(set) var state: State = .awaitingStartup
    public private(set) var compression: FrameCompression?
    /// The protocol version of the connection: STARTUP's (before it, the last request's).
    public private(set) var version: UInt8 = 4
    /// The compression of frame bodies: the negotiated one on v4, none on v5 (segments compress).
    public var frameCompression: FrameCompression? { version >= 5 ? nil : compression }
    public private(set) var inFlight = 0
    public private(set) var isPaused = false
    public private(set) var user: String?
    /// An AUTH_RESPONSE is being checked (one at a time per connection).
    public private(set) var isAuthenticating = false
    public let settings: Settings

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// A frame the decoder produced.
    public mutating func onFrame(_ frame: Frame) -> [Action] {
        guard state != .closed else { return [] }
        if state != .awaitingStartup && frame.header.protocolVersion != version {
            let v = frame.header.protocolVersion
            return fail(stream: frame.header.stream, .protocolError("Invalid message version. Got \(v)/v\(v) but previous messages on this connection had version \(version)/v\(version)"))
        }
        let request: RequestFrame
        do {
            request = try RequestFrame.decode(frame, compression: frame.header.flags.contains(.compressed) ? frameCompression : nil,
                                              maxBodyLength: settings.maxBodyLength)
        } catch {
            return fail(stream: frame.header.stream, error)
        }
        if frame.header.flags.contains(.compressed) && frameCompression == nil {
            return fail(stream: frame.header.stream, .protocolError("Compressed frame received but no compression was negotiated"))
        }
        return onRequest(request)
    }

    /// The decoder failed: fatal errors close the connection after answering, others are answered.
    public mutating func onDecodeError(_ error: FrameDecodeError) -> [Action] {
        guard state != .closed else { return [] }
        if error.isFatal {
            state = .closed
            return [.sendRaw(version == 4 ? error.errorFrame : ResponseFrame(version: version, stream: error.stream, response: .error(.protocolError(error.description))).frame()),
                    .close(error.description)]
        }
        return [reply(error.stream, .error(.protocolError(error.description)))]
    }

    mutating func fail(stream: Int16, _ error: CQLError) -> [Action] {
        state = .closed
        return [reply(stream, .error(error)), .close(error.description)]
    }

    func reply(_ stream: Int16, _ response: Response) -> Action { .send(ResponseFrame(version: version, stream: stream, response: response)) }

    mutating func onRequest(_ r: RequestFrame) -> [Action] {
        if state == .awaitingStartup { version = r.version }
        if case .options = r.request {
            return [reply(r.stream, .supported(compression: FrameCompression.allCases))]
        }
        switch state {
        case .closed: return []
        case .awaitingStartup:
            guard case let .startup(options) = r.request else {
                return [reply(r.stream, .error(.protocolError("Unexpected message \(r.request.opcode), expecting STARTUP or OPTIONS")))]
            }
            if let name = options.first(where: { $0.key.uppercased() == "COMPRESSION" })?.value, !name.isEmpty {
                guard let c = FrameCompression(name: name) else {
                    return [reply(r.stream, .error(.protocolError("Unknown compression algorithm: \(name)")))]
                }
                if version >= 5 && c != .lz4 {
                    return [reply(r.stream, .error(.protocolError("Compression \(c.name) is not supported with protocol version 5 (segments are compressed with lz4 only)")))]
                }
                compression = c
            }
            let segments: [Action] = version >= 5 ? [.startSegments(lz4: compression == .lz4)] : []
            if settings.requiresAuthentication {
                state = .authenticating
                return [reply(r.stream, .authenticate(PasswordAuthenticator.className))] + segments
            }
            state = .ready
            return [reply(r.stream, .ready)] + segments
        case .authenticating:
            guard case let .authResponse(token) = r.request else {
                return [reply(r.stream, .error(.protocolError("Unexpected message \(r.request.opcode), expecting AUTH_RESPONSE")))]
            }
            guard !isAuthenticating else {
                return [reply(r.stream, .error(.protocolError("Unexpected AUTH_RESPONSE while another is being checked")))]
            }
            isAuthenticating = true
            return [.authenticate(stream: r.stream, token: token)]
        case .ready:
            switch r.request {
            case .startup: return [reply(r.stream, .error(.protocolError("Unexpected message STARTUP, the connection is already initialized")))]
            case .authResponse: return [reply(r.stream, .error(.protocolError("Unexpected message AUTH_RESPONSE, the connection is already authenticated")))]
            case let .register(types):
                let unknown = types.filter { !ProtocolEvent.typeNames.contains($0) }
                if let bad = unknown.first { return [reply(r.stream, .error(.protocolError("Invalid value '\(bad)' for Type")))] }
                return [.register(Set(types)), reply(r.stream, .ready)]
            case .options: return []
            case .query, .prepare, .execute, .batch:
                if inFlight >= settings.maxInFlight {
                    return [reply(r.stream, .error(.overloaded("Too many requests in flight on this connection (\(inFlight))")))]
                }
                inFlight += 1
                var out: [Action] = [.execute(r)]
                if !isPaused && inFlight >= settings.pauseThreshold {
                    isPaused = true
                    out.append(.pauseReading)
                }
                return out
            }
        }
    }

    /// The credentials of an `.authenticate` were checked: the role, or the error to answer with.
    public mutating func onAuthenticationResult(stream: Int16, _ result: Result<String, CQLError>) -> [Action] {
        guard state == .authenticating, isAuthenticating else { return [] }
        isAuthenticating = false
        switch result {
        case let .success(name):
            user = name
            state = .ready
            return [reply(stream, .authSuccess(nil))]
        case let .failure(e):
            return [reply(stream, .error(e))]
        }
    }

    /// A request handed out with `.execute` was answered.
    public mutating func onRequestCompleted() -> [Action] {
        inFlight = max(0, inFlight - 1)
        if isPaused && inFlight <= settings.pauseThreshold / 2 && state != .closed {
            isPaused = false
            return [.resumeReading]
        }
        return []
    }

    /// The connection closed (either side).
    public mutating func onClosed() { state = .closed }
}
