import BasaltCore

/// A server-pushed event (v4 spec §4.2.6), sent on stream -1 to connections that registered for it.
public enum ProtocolEvent: Hashable, Sendable {
    public enum TopologyChange: String, Hashable, Sendable { case newNode = "NEW_NODE", removedNode = "REMOVED_NODE", movedNode = "MOVED_NODE" }
    public enum StatusChange: String, Hashable, Sendable { case up = "UP", down = "DOWN" }

    case topologyChange(TopologyChange, InetEndpoint)
    case statusChange(StatusChange, InetEndpoint)
    case schemaChange(SchemaChangeDescription)

    /// The name REGISTER uses for this event's type.
    public var typeName: String {
        switch self {
        case .topologyChange: "TOPOLOGY_CHANGE"
        case .statusChange: "STATUS_CHANGE"
        case .schemaChange: "SCHEMA_CHANGE"
        }
    }

    /// The event types a client may REGISTER for.
    public static let typeNames: Set<String> = ["TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"]

    public func encode(into w: inout ByteWriter) {
        w.writeShortString(typeName)
        switch self {
        case let .topologyChange(c, addr): w.writeShortString(c.rawValue); w.writeInet(addr)
        case let .statusChange(c, addr): w.writeShortString(c.rawValue); w.writeInet(addr)
        case let .schemaChange(d): d.encode(into: &w)
        }
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> ProtocolEvent {
        let at = r.position
        let type = try r.readShortString()
        switch type {
        case "TOPOLOGY_CHANGE", "STATUS_CHANGE":
            let changeAt = r.position
            let change = try r.readShortString()
            let addr = try r.readInet()
            if type == "STATUS_CHANGE" {
                guard let c = StatusChange(rawValue: change) else { throw DecodeError.invalid("unknown status change \(change)", at: changeAt) }
                return .statusChange(c, addr)
            }
            guard let c = TopologyChange(rawValue: change) else { throw DecodeError.invalid("unknown topology change \(change)", at: changeAt) }
            return .topologyChange(c, addr)
        case "SCHEMA_CHANGE": return .schemaChange(try SchemaChangeDescription.decode(from: &r))
        default: throw DecodeError.invalid("unknown event type \(type)", at: at)
        }
    }
}

/// A response message (v4 spec §4.2).
public enum Response: Hashable, Sendable {
    case error(CQLError)
    case ready
    /// The authenticator's class name, e.g. `org.apache.cassandra.auth.PasswordAuthenticator`.
    case authenticate(String)
    /// The string multimap, in order. Must contain COMPRESSION (``Response/supported(cqlVersions:compression:)``).
    case supported([(String, [String])])
    case result(ResultBody)
    case event(ProtocolEvent)
    case authChallenge([UInt8]?)
    case authSuccess([UInt8]?)

    /// SUPPORTED as the drivers need it: CQL_VERSION, COMPRESSION (always present, maybe empty),
    /// PROTOCOL_VERSIONS.
    public static func supported(cqlVersions: [String] = ["3.4.7"], compression: [FrameCompression] = FrameCompression.allCases) -> Response {
        .supported([("CQL_VERSION", cqlVersions), ("COMPRESSION", compression.map(\.name)), ("PROTOCOL_VERSIONS", ["4/v4", "5/v5"])])
    }

    public var opcode: Opcode {
        switch self {
        case .error: .error
        case .ready: .ready
        case .authenticate: .authenticate
        case .supported: .supported
        case .result: .result
        case .event: .event
        case .authChallenge: .authChallenge
        case .authSuccess: .authSuccess
        }
    }

    public static func == (a: Response, b: Response) -> Bool {
        switch (a, b) {
        case let (.supported(x), .supported(y)): x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        case let (.error(x), .error(y)): x == y
        case (.ready, .ready): true
        case let (.authenticate(x), .authenticate(y)): x == y
        case let (.result(x), .result(y)): x == y
        case let (.event(x), .event(y)): x == y
        case let (.authChallenge(x), .authChallenge(y)): x == y
        case let (.authSuccess(x), .authSuccess(y)): x == y
        default: false
        }
    }

    public func hash(into h: inout Hasher) {
        h.combine(opcode)
    }

    public func encode(into w: inout ByteWriter, version: UInt8 = 4) {
        switch self {
        case let .error(e): e.encode(into: &w, version: version)
        case .ready: break
        case let .authenticate(name): w.writeShortString(name)
        case let .supported(entries): w.writeStringMultimap(entries)
        case let .result(body): body.encode(into: &w, version: version)
        case let .event(e): e.encode(into: &w)
        case let .authChallenge(token), let .authSuccess(token): w.writeProtocolBytes(token)
        }
    }

    public static func decode(opcode: Opcode, version: UInt8 = 4, from r: inout ByteReader) throws(DecodeError) -> Response {
        switch opcode {
        case .error: return .error(try CQLError.decode(from: &r, version: version))
        case .ready: return .ready
        case .authenticate: return .authenticate(try r.readShortString())
        case .supported: return .supported(try r.readStringMultimap())
        case .result: return .result(try ResultBody.decode(from: &r, version: version))
        case .event: return .event(try ProtocolEvent.decode(from: &r))
        case .authChallenge: return .authChallenge(try r.readProtocolBytes())
        case .authSuccess: return .authSuccess(try r.readProtocolBytes())
        default: throw DecodeError.invalid("\(opcode) is not a response", at: r.position)
        }
    }
}

/// A response with its frame-level parts (v4 spec §2.2): the tracing id, warnings and custom
/// payload are written at the start of the body in that order, each announced by its flag.
public struct ResponseFrame: Hashable, Sendable {
    /// The protocol version (4 or 5) the frame is written in (the header's version byte is this
    /// with the response bit).
    public var version: UInt8 = 4
    public var stream: Int16
    public var tracingId: UUIDValue?
    public var warnings: [String]
    public var customPayload: [String: [UInt8]?]?
    public var response: Response

    public init(version: UInt8 = 4, stream: Int16, tracingId: UUIDValue? = nil, warnings: [String] = [], customPayload: [String: [UInt8]?]? = nil, response: Response) {
        self.version = version
        self.stream = stream
        self.tracingId = tracingId
        self.warnings = warnings
        self.customPayload = customPayload
        self.response = response
    }

    /// An event frame: stream -1.
    public static func event(_ e: ProtocolEvent) -> ResponseFrame { ResponseFrame(stream: -1, response: .event(e)) }

    /// Writes the whole frame (header and body) into `w`; the body is compressed when
    /// `compression` is given and the body is not empty.
    public func encode(into w: inout ByteWriter, compression: FrameCompression? = nil) {
        var flags: FrameFlags = []
        if compression == nil {
            let headerAt = w.count
            FrameHeader(version: 0x80 | version, flags: [], stream: stream, opcode: response.opcode, bodyLength: 0).encode(into: &w)
            let bodyAt = w.count
            flags = writeBody(into: &w)
            w.bytes[headerAt + 1] = flags.rawValue
            w.setUInt32(UInt32(w.count - bodyAt), at: headerAt + 5)
            return
        }
        var body = ByteWriter(capacity: 64)
        flags = writeBody(into: &body)
        var bytes = body.bytes
        if let compression, !bytes.isEmpty {
            bytes = compression.compress(bytes)
            flags.insert(.compressed)
        }
        FrameHeader(version: 0x80 | version, flags: flags, stream: stream, opcode: response.opcode, bodyLength: UInt32(bytes.count)).encode(into: &w)
        w.writeBytes(bytes)
    }

    private func writeBody(into w: inout ByteWriter) -> FrameFlags {
        var flags: FrameFlags = []
        if let tracingId {
            flags.insert(.tracing)
            w.writeUUID(tracingId)
        }
        if !warnings.isEmpty {
            flags.insert(.warning)
            w.writeStringList(warnings)
        }
        if let customPayload {
            flags.insert(.customPayload)
            w.writeBytesMap(customPayload)
        }
        response.encode(into: &w, version: version)
        return flags
    }

    /// The frame as a value (header and body).
    public func frame(compression: FrameCompression? = nil) -> Frame {
        var w = ByteWriter(capacity: 64)
        encode(into: &w, compression: compression)
        var r = ByteReader(w.bytes)
        let header = (try? FrameHeader.decode(from: &r)) ?? FrameHeader(version: FrameHeader.responseVersion, stream: stream, opcode: response.opcode, bodyLength: 0)
        return Frame(header: header, body: Array(w.bytes.dropFirst(FrameHeader.size)))
    }

    /// Decodes a response frame (the client side).
    public static func decode(_ frame: Frame, compression: FrameCompression?, maxBodyLength: Int = FrameDecoder.defaultMaxBodyLength) throws(CQLError) -> ResponseFrame {
        guard let opcode = frame.header.opcode, !opcode.isRequest else {
            throw .protocolError("Unexpected opcode 0x\(String(frame.header.rawOpcode, radix: 16)) in a response")
        }
        var r = ByteReader(try frame.uncompressedBody(compression, maxBodyLength: maxBodyLength))
        do {
            var out = ResponseFrame(version: frame.header.protocolVersion, stream: frame.header.stream, response: .ready)
            let flags = frame.header.flags
            if flags.contains(.tracing) { out.tracingId = try r.readUUID() }
            if flags.contains(.warning) { out.warnings = try r.readStringList() }
            if flags.contains(.customPayload) { out.customPayload = try r.readBytesMap() }
            out.response = try Response.decode(opcode: opcode, version: out.version, from: &r)
            return out
        } catch {
            throw .protocolError("Invalid \(opcode) message: \(error.description)")
        }
    }
}
