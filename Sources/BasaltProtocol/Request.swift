import BasaltCore

/// BATCH's type byte (v4 spec §4.1.7).
public enum BatchType: UInt8, Hashable, Sendable {
    case logged = 0
    case unlogged = 1
    case counter = 2
}

/// One statement of a BATCH message: query text or prepared id, with its values.
public struct BatchChild: Hashable, Sendable {
    public enum Statement: Hashable, Sendable {
        case query(String)
        case prepared(id: [UInt8])
    }

    public var statement: Statement
    public var values: [ProtocolValue]

    public init(statement: Statement, values: [ProtocolValue] = []) {
        self.statement = statement
        self.values = values
    }
}

/// A BATCH message body.
public struct BatchRequest: Hashable, Sendable {
    public var type: BatchType
    public var children: [BatchChild]
    public var consistency: ConsistencyLevel
    public var serialConsistency: ConsistencyLevel?
    public var defaultTimestamp: Int64?
    /// v5: the keyspace for the batch's unqualified names.
    public var keyspace: String?
    /// v5: "now" in seconds for the batch's TTLs.
    public var nowInSeconds: Int32?

    public init(type: BatchType, children: [BatchChild], consistency: ConsistencyLevel, serialConsistency: ConsistencyLevel? = nil, defaultTimestamp: Int64? = nil) {
        self.type = type
        self.children = children
        self.consistency = consistency
        self.serialConsistency = serialConsistency
        self.defaultTimestamp = defaultTimestamp
    }
}

/// A request message (v4 spec §4.1), decoded from or encoded into a frame body.
public enum Request: Hashable, Sendable {
    /// STARTUP options, e.g. CQL_VERSION and COMPRESSION.
    case startup([String: String])
    case options
    case query(String, QueryParameters)
    /// The query text and, in v5, the keyspace to prepare it in (PREPARE flag 0x01).
    case prepare(String, keyspace: String? = nil)
    case execute(id: [UInt8], QueryParameters)
    case batch(BatchRequest)
    /// Event types: TOPOLOGY_CHANGE, STATUS_CHANGE, SCHEMA_CHANGE.
    case register([String])
    /// The SASL token (PLAIN: `\0user\0password`).
    case authResponse([UInt8]?)

    public var opcode: Opcode {
        switch self {
        case .startup: .startup
        case .options: .options
        case .query: .query
        case .prepare: .prepare
        case .execute: .execute
        case .batch: .batch
        case .register: .register
        case .authResponse: .authResponse
        }
    }

    /// PREPARE's v5 flag: a keyspace follows.
    public static let prepareKeyspaceFlag: UInt32 = 0x01

    public func encode(into w: inout ByteWriter, version: UInt8 = 4) {
        switch self {
        case let .startup(options): w.writeStringMap(options)
        case .options: break
        case let .query(q, params):
            w.writeLongString(q)
            params.encode(into: &w, version: version)
        case let .prepare(q, keyspace):
            w.writeLongString(q)
            if version >= 5 {
                w.writeUInt32(keyspace != nil ? Self.prepareKeyspaceFlag : 0)
                if let keyspace { w.writeShortString(keyspace) }
            }
        case let .execute(id, params):
            w.writeShortBytes(id)
            if version >= 5 { w.writeShortBytes(params.resultMetadataId ?? []) }
            params.encode(into: &w, version: version)
        case let .batch(b):
            w.writeUInt8(b.type.rawValue)
            w.writeUInt16(UInt16(truncatingIfNeeded: b.children.count))
            for c in b.children {
                switch c.statement {
                case let .query(q): w.writeUInt8(0); w.writeLongString(q)
                case let .prepared(id): w.writeUInt8(1); w.writeShortBytes(id)
                }
                w.writeUInt16(UInt16(truncatingIfNeeded: c.values.count))
                for v in c.values { w.writeProtocolValue(v) }
            }
            w.writeConsistency(b.consistency)
            var flags = UInt32(0)
            if b.serialConsistency != nil { flags |= UInt32(QueryParameters.serialConsistencyFlag) }
            if b.defaultTimestamp != nil { flags |= UInt32(QueryParameters.defaultTimestampFlag) }
            if version >= 5 {
                if b.keyspace != nil { flags |= QueryParameters.keyspaceFlag }
                if b.nowInSeconds != nil { flags |= QueryParameters.nowInSecondsFlag }
                w.writeUInt32(flags)
            } else {
                w.writeUInt8(UInt8(flags))
            }
            if let s = b.serialConsistency { w.writeConsistency(s) }
            if let t = b.defaultTimestamp { w.writeInt64(t) }
            if version >= 5, let ks = b.keyspace { w.writeShortString(ks) }
            if version >= 5, let n = b.nowInSeconds { w.writeInt32(n) }
        case let .register(types): w.writeStringList(types)
        case let .authResponse(token): w.writeProtocolBytes(token)
        }
    }

    /// Decodes the body of a request with the given opcode (custom payload already removed).
    public static func decode(opcode: Opcode, version: UInt8 = 4, from r: inout ByteReader) throws(DecodeError) -> Request {
        switch opcode {
        case .startup: return .startup(try r.readStringMap())
        case .options: return .options
        case .query:
            let q = try r.readLongString()
            return .query(q, try QueryParameters.decode(from: &r, version: version))
        case .prepare:
            let q = try r.readLongString()
            guard version >= 5 else { return .prepare(q) }
            let flagsAt = r.position
            let flags = try r.readUInt32()
            if flags & ~prepareKeyspaceFlag != 0 { throw DecodeError.invalid("unknown PREPARE flags 0x\(String(flags, radix: 16))", at: flagsAt) }
            return .prepare(q, keyspace: flags & prepareKeyspaceFlag != 0 ? try r.readShortString() : nil)
        case .execute:
            let id = try r.readShortBytes()
            let metadataId = version >= 5 ? try r.readShortBytes() : nil
            var params = try QueryParameters.decode(from: &r, version: version)
            params.resultMetadataId = metadataId
            return .execute(id: id, params)
        case .batch: return .batch(try decodeBatch(from: &r, version: version))
        case .register: return .register(try r.readStringList())
        case .authResponse: return .authResponse(try r.readProtocolBytes())
        default:
            throw DecodeError.invalid("\(opcode) is not a request", at: r.position)
        }
    }

    static func decodeBatch(from r: inout ByteReader, version: UInt8) throws(DecodeError) -> BatchRequest {
        let typeAt = r.position
        let rawType = try r.readUInt8()
        guard let type = BatchType(rawValue: rawType) else { throw DecodeError.invalid("unknown batch type \(rawType)", at: typeAt) }
        let n = Int(try r.readUInt16())
        var children = [BatchChild]()
        children.reserveCapacity(min(n, r.remaining / 3))
        for _ in 0 ..< n {
            let kindAt = r.position
            let kind = try r.readUInt8()
            let statement: BatchChild.Statement
            switch kind {
            case 0: statement = .query(try r.readLongString())
            case 1: statement = .prepared(id: try r.readShortBytes())
            default: throw DecodeError.invalid("batch statement kind must be 0 or 1, got \(kind)", at: kindAt)
            }
            let count = Int(try r.readUInt16())
            var values = [ProtocolValue]()
            values.reserveCapacity(min(count, r.remaining / 4))
            for _ in 0 ..< count { values.append(try r.readProtocolValue()) }
            children.append(BatchChild(statement: statement, values: values))
        }
        let consistency = try r.readConsistency()
        let flagsAt = r.position
        let wide = version >= 5 ? try r.readUInt32() : UInt32(try r.readUInt8())
        let flags = UInt8(truncatingIfNeeded: wide)
        if flags & QueryParameters.namesForValuesFlag != 0 {
            throw DecodeError.invalid("named values in BATCH are not supported (CASSANDRA-10246)", at: flagsAt)
        }
        var batch = BatchRequest(type: type, children: children, consistency: consistency)
        if flags & QueryParameters.serialConsistencyFlag != 0 { batch.serialConsistency = try r.readConsistency() }
        if flags & QueryParameters.defaultTimestampFlag != 0 { batch.defaultTimestamp = try r.readInt64() }
        if version >= 5 && wide & QueryParameters.keyspaceFlag != 0 { batch.keyspace = try r.readShortString() }
        if version >= 5 && wide & QueryParameters.nowInSecondsFlag != 0 { batch.nowInSeconds = try r.readInt32() }
        return batch
    }
}

/// A request with its frame-level parts: stream, tracing wish and custom payload.
public struct RequestFrame: Hashable, Sendable {
    /// The protocol version (4 or 5) the frame is written in.
    public var version: UInt8
    public var stream: Int16
    /// The client asked for tracing (flag 0x02).
    public var tracing: Bool
    /// The custom payload (flag 0x04), which Basalt accepts and ignores.
    public var customPayload: [String: [UInt8]?]?
    public var request: Request

    public init(version: UInt8 = 4, stream: Int16, tracing: Bool = false, customPayload: [String: [UInt8]?]? = nil, request: Request) {
        self.version = version
        self.stream = stream
        self.tracing = tracing
        self.customPayload = customPayload
        self.request = request
    }

    /// The frame, its body compressed with `compression` when given (STARTUP never is).
    public func frame(compression: FrameCompression? = nil) -> Frame {
        var w = ByteWriter(capacity: 64)
        var flags: FrameFlags = []
        if tracing { flags.insert(.tracing) }
        if let customPayload {
            flags.insert(.customPayload)
            w.writeBytesMap(customPayload)
        }
        request.encode(into: &w, version: version)
        var body = w.bytes
        if let compression, request.opcode != .startup, !body.isEmpty {
            body = compression.compress(body)
            flags.insert(.compressed)
        }
        return Frame(header: FrameHeader(version: version, flags: flags, stream: stream, opcode: request.opcode,
                                         bodyLength: UInt32(body.count)), body: body)
    }

    /// Decodes a request frame. Every failure is a ``CQLError/protocolError(_:)`` naming the
    /// opcode and the offset, to be answered on the frame's stream.
    public static func decode(_ frame: Frame, compression: FrameCompression?, maxBodyLength: Int = FrameDecoder.defaultMaxBodyLength) throws(CQLError) -> RequestFrame {
        guard let opcode = frame.header.opcode else {
            throw .protocolError("Unknown opcode 0x\(String(frame.header.rawOpcode, radix: 16))")
        }
        guard opcode.isRequest else { throw .protocolError("Unexpected message \(opcode), expecting a request") }
        var r = ByteReader(try frame.uncompressedBody(compression, maxBodyLength: maxBodyLength))
        do {
            var payload: [String: [UInt8]?]?
            if frame.header.flags.contains(.customPayload) { payload = try r.readBytesMap() }
            let version = frame.header.protocolVersion
            let request = try Request.decode(opcode: opcode, version: version, from: &r)
            return RequestFrame(version: version, stream: frame.header.stream, tracing: frame.header.flags.contains(.tracing), customPayload: payload, request: request)
        } catch {
            throw .protocolError("Invalid \(opcode) message: \(error.description)")
        }
    }
}
