import BasaltCore

extension Gossip {
    /// A typed application state value and its byte encoding inside a ``VersionedValue``.
    ///
    /// Encodings: status, data center, rack and release version as UTF-8 text; host id and schema
    /// version as 16 bytes; addresses as ``NodeAddress/encode(into:)``; tokens as a var-uint count then
    /// 8 big-endian bytes each; load (bytes on disk) as an IEEE double. Decoding is strict and returns
    /// nil for malformed bytes or an unknown key rather than trapping.
    public enum ApplicationValue: Hashable, Sendable {
        case status(NodeStatus)
        case tokens([Token])
        case hostId(UUIDValue)
        case internodeAddress(NodeAddress)
        case nativeAddress(NodeAddress)
        case dataCenter(String)
        case rack(String)
        case schemaVersion(UUIDValue)
        case load(Double)
        case releaseVersion(String)

        /// The most tokens a TOKENS value may carry.
        public static let maxTokens = 4096

        public var key: ApplicationState {
            switch self {
            case .status: .status
            case .tokens: .tokens
            case .hostId: .hostId
            case .internodeAddress: .internodeAddress
            case .nativeAddress: .nativeAddress
            case .dataCenter: .dataCenter
            case .rack: .rack
            case .schemaVersion: .schemaVersion
            case .load: .load
            case .releaseVersion: .releaseVersion
            }
        }

        public func encoded() -> [UInt8] {
            var w = ByteWriter(capacity: 32)
            switch self {
            case let .status(s): w.writeBytes(s.rawValue.utf8)
            case let .tokens(ts):
                w.reserveCapacity(10 + ts.count * 8)
                w.writeVarUInt(UInt64(ts.count))
                for t in ts { w.writeInt64(t.value) }
            case let .hostId(u), let .schemaVersion(u):
                w.writeUInt64(u.msb)
                w.writeUInt64(u.lsb)
            case let .internodeAddress(a), let .nativeAddress(a): a.encode(into: &w)
            case let .dataCenter(s), let .rack(s), let .releaseVersion(s): w.writeBytes(s.utf8)
            case let .load(v): w.writeDouble(v)
            }
            return w.bytes
        }

        /// The value of `key` encoded in `bytes`; nil for an unknown key or malformed bytes.
        public init?(key: ApplicationState, bytes: [UInt8]) {
            var r = ByteReader(bytes)
            do throws(DecodeError) {
                switch key {
                case .status:
                    guard let s = NodeStatus(rawValue: try r.readUTF8(bytes.count)) else { return nil }
                    self = .status(s)
                case .tokens:
                    let n = try r.readVarUInt()
                    guard n <= UInt64(Self.maxTokens), n * 8 == UInt64(r.remaining) else { return nil }
                    var ts: [Token] = []
                    ts.reserveCapacity(Int(n))
                    for _ in 0 ..< n { ts.append(Token(try r.readInt64())) }
                    self = .tokens(ts)
                case .hostId, .schemaVersion:
                    guard bytes.count == 16 else { return nil }
                    let u = UUIDValue(msb: try r.readUInt64(), lsb: try r.readUInt64())
                    self = key == .hostId ? .hostId(u) : .schemaVersion(u)
                case .internodeAddress, .nativeAddress:
                    let a = try NodeAddress.decode(from: &r)
                    guard r.isAtEnd else { return nil }
                    self = key == .internodeAddress ? .internodeAddress(a) : .nativeAddress(a)
                case .dataCenter, .rack, .releaseVersion:
                    let s = try r.readUTF8(bytes.count)
                    self = key == .dataCenter ? .dataCenter(s) : key == .rack ? .rack(s) : .releaseVersion(s)
                case .load:
                    guard bytes.count == 8 else { return nil }
                    self = .load(try r.readDouble())
                default:
                    return nil
                }
            } catch {
                return nil
            }
        }
    }
}
