import BasaltCore

/// Every error the server can answer with, each with its code and the extra body the v4 spec §9
/// defines for it. Thrown by the parser (``syntaxError(_:)``), the binder and schema
/// (``invalid(_:)``, ``alreadyExists(_:keyspace:table:)``, ``configError(_:)``), the coordinator
/// (timeouts, unavailable) and the frame layer (``protocolError(_:)``).
public enum CQLError: Error, Hashable, Sendable, CustomStringConvertible {
    case serverError(String)
    case protocolError(String)
    case badCredentials(String)
    case unavailable(String, consistency: ConsistencyLevel, required: Int32, alive: Int32)
    case overloaded(String)
    case isBootstrapping(String)
    case truncateError(String)
    case writeTimeout(String, consistency: ConsistencyLevel, received: Int32, blockFor: Int32, writeType: WriteType)
    case readTimeout(String, consistency: ConsistencyLevel, received: Int32, blockFor: Int32, dataPresent: Bool)
    /// `reasons`: the failed replicas protocol v5 names in its reason map (v4 sends only the count).
    case readFailure(String, consistency: ConsistencyLevel, received: Int32, blockFor: Int32, failures: Int32, dataPresent: Bool,
                     reasons: [FailureReason] = [])
    case functionFailure(String, keyspace: String, function: String, argTypes: [String])
    case writeFailure(String, consistency: ConsistencyLevel, received: Int32, blockFor: Int32, failures: Int32, writeType: WriteType,
                      reasons: [FailureReason] = [])
    case syntaxError(String)
    case unauthorized(String)
    case invalid(String)
    case configError(String)
    /// `table` is empty when a keyspace already exists.
    case alreadyExists(String, keyspace: String, table: String)
    case unprepared(String, id: [UInt8])

    /// The error code of v4 spec §9.
    public var code: Int32 {
        switch self {
        case .serverError: 0x0000
        case .protocolError: 0x000A
        case .badCredentials: 0x0100
        case .unavailable: 0x1000
        case .overloaded: 0x1001
        case .isBootstrapping: 0x1002
        case .truncateError: 0x1003
        case .writeTimeout: 0x1100
        case .readTimeout: 0x1200
        case .readFailure: 0x1300
        case .functionFailure: 0x1400
        case .writeFailure: 0x1500
        case .syntaxError: 0x2000
        case .unauthorized: 0x2100
        case .invalid: 0x2200
        case .configError: 0x2300
        case .alreadyExists: 0x2400
        case .unprepared: 0x2500
        }
    }

    public var message: String {
        switch self {
        case let .serverError(m), let .protocolError(m), let .badCredentials(m), let .overloaded(m),
             let .isBootstrapping(m), let .truncateError(m), let .syntaxError(m), let .unauthorized(m),
             let .invalid(m), let .configError(m):
            m
        case let .unavailable(m, _, _, _), let .writeTimeout(m, _, _, _, _), let .readTimeout(m, _, _, _, _),
             let .readFailure(m, _, _, _, _, _, _), let .functionFailure(m, _, _, _), let .writeFailure(m, _, _, _, _, _, _),
             let .alreadyExists(m, _, _), let .unprepared(m, _):
            m
        }
    }

    public var description: String { "error 0x\(String(code, radix: 16)): \(message)" }

    /// The ERROR body: code, message, then the code's extra fields. In v5 Read_failure and
    /// Write_failure carry a reason map (failing replica → reason code) where v4 has a count; the
    /// coordinator does not yet record which replicas failed, so that map is empty.
    public func encode(into w: inout ByteWriter, version: UInt8 = 4) {
        w.writeInt32(code)
        w.writeShortString(message)
        switch self {
        case let .unavailable(_, cl, required, alive):
            w.writeConsistency(cl); w.writeInt32(required); w.writeInt32(alive)
        case let .writeTimeout(_, cl, received, blockFor, writeType):
            w.writeConsistency(cl); w.writeInt32(received); w.writeInt32(blockFor); w.writeShortString(writeType.rawValue)
        case let .readTimeout(_, cl, received, blockFor, dataPresent):
            w.writeConsistency(cl); w.writeInt32(received); w.writeInt32(blockFor); w.writeBool(dataPresent)
        case let .readFailure(_, cl, received, blockFor, failures, dataPresent, reasons):
            w.writeConsistency(cl); w.writeInt32(received); w.writeInt32(blockFor)
            Self.writeFailures(failures, reasons, version: version, to: &w)
            w.writeBool(dataPresent)
        case let .functionFailure(_, ks, function, argTypes):
            w.writeShortString(ks); w.writeShortString(function); w.writeStringList(argTypes)
        case let .writeFailure(_, cl, received, blockFor, failures, writeType, reasons):
            w.writeConsistency(cl); w.writeInt32(received); w.writeInt32(blockFor)
            Self.writeFailures(failures, reasons, version: version, to: &w)
            w.writeShortString(writeType.rawValue)
        case let .alreadyExists(_, ks, table):
            w.writeShortString(ks); w.writeShortString(table)
        case let .unprepared(_, id):
            w.writeShortBytes(id)
        default:
            break
        }
    }

    /// v4: the failure count; v5: the reason map, one entry per failed replica whose address is
    /// known (its size is the count the client sees).
    static func writeFailures(_ failures: Int32, _ reasons: [FailureReason], version: UInt8, to w: inout ByteWriter) {
        guard version >= 5 else { return w.writeInt32(failures) }
        w.writeInt32(Int32(reasons.count))
        for reason in reasons {
            w.writeUInt8(UInt8(truncatingIfNeeded: reason.address.count))
            w.writeBytes(reason.address)
            w.writeUInt16(reason.code)
        }
    }

    public static func decode(from r: inout ByteReader, version: UInt8 = 4) throws(DecodeError) -> CQLError {
        let at = r.position
        let code = try r.readInt32()
        let m = try r.readShortString()
        /// v4: a failure count; v5: a reason map ([int] n, n × (inetaddr, short)), counted.
        func failures() throws(DecodeError) -> (Int32, [FailureReason]) {
            let n = try r.readInt32()
            guard version >= 5 else { return (n, []) }
            let at = r.position
            guard n >= 0, Int(n) <= r.remaining / 7 else { throw DecodeError.invalid("bad reason map size \(n)", at: at) }
            var reasons: [FailureReason] = []
            for _ in 0 ..< n {
                let size = Int(try r.readUInt8())
                guard size == 4 || size == 16 else { throw DecodeError.invalid("bad inetaddr size \(size)", at: r.position) }
                let address = try r.readBytes(size)
                reasons.append(FailureReason(address: Array(address), code: try r.readUInt16()))
            }
            return (n, reasons)
        }
        func writeType() throws(DecodeError) -> WriteType {
            let p = r.position
            let s = try r.readShortString()
            guard let t = WriteType(rawValue: s) else { throw DecodeError.invalid("unknown write type \(s)", at: p) }
            return t
        }
        switch code {
        case 0x0000: return .serverError(m)
        case 0x000A: return .protocolError(m)
        case 0x0100: return .badCredentials(m)
        case 0x1000: return .unavailable(m, consistency: try r.readConsistency(), required: try r.readInt32(), alive: try r.readInt32())
        case 0x1001: return .overloaded(m)
        case 0x1002: return .isBootstrapping(m)
        case 0x1003: return .truncateError(m)
        case 0x1100:
            return .writeTimeout(m, consistency: try r.readConsistency(), received: try r.readInt32(), blockFor: try r.readInt32(), writeType: try writeType())
        case 0x1200:
            return .readTimeout(m, consistency: try r.readConsistency(), received: try r.readInt32(), blockFor: try r.readInt32(), dataPresent: try r.readBool())
        case 0x1300:
            let (cl, received, blockFor) = (try r.readConsistency(), try r.readInt32(), try r.readInt32())
            let (count, reasons) = try failures()
            return .readFailure(m, consistency: cl, received: received, blockFor: blockFor, failures: count, dataPresent: try r.readBool(),
                                reasons: reasons)
        case 0x1400:
            return .functionFailure(m, keyspace: try r.readShortString(), function: try r.readShortString(), argTypes: try r.readStringList())
        case 0x1500:
            let (cl, received, blockFor) = (try r.readConsistency(), try r.readInt32(), try r.readInt32())
            let (count, reasons) = try failures()
            return .writeFailure(m, consistency: cl, received: received, blockFor: blockFor, failures: count, writeType: try writeType(),
                                 reasons: reasons)
        case 0x2000: return .syntaxError(m)
        case 0x2100: return .unauthorized(m)
        case 0x2200: return .invalid(m)
        case 0x2300: return .configError(m)
        case 0x2400: return .alreadyExists(m, keyspace: try r.readShortString(), table: try r.readShortString())
        case 0x2500: return .unprepared(m, id: try r.readShortBytes())
        default: throw DecodeError.invalid("unknown error code 0x\(String(code, radix: 16))", at: at)
        }
    }
}

/// One entry of protocol v5's ReadFailure / WriteFailure reason map: a failed replica's IP address
/// (4 or 16 bytes) and its failure code (0x0000 unknown, 0x0001 too many tombstones, 0x0002 index
/// not available, …).
public struct FailureReason: Hashable, Sendable {
    public var address: [UInt8]
    public var code: UInt16

    public init(address: [UInt8], code: UInt16) {
        self.address = address
        self.code = code
    }
}
