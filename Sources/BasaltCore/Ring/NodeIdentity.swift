import BasaltCore

/// Who a node is: its host id, stable across restarts, and the internode address it gossips from.
///
/// The host id is what system tables and drivers show (`host_id`); the address is how peers reach
/// it. Two identities are the same node only if both agree. Ordering is by host id, then address.
public struct NodeIdentity: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var hostId: UUIDValue
    public var address: NodeAddress

    public init(hostId: UUIDValue, address: NodeAddress) {
        self.hostId = hostId
        self.address = address
    }

    public static func < (a: NodeIdentity, b: NodeIdentity) -> Bool {
        if a.hostId.msb != b.hostId.msb { return a.hostId.msb < b.hostId.msb }
        if a.hostId.lsb != b.hostId.lsb { return a.hostId.lsb < b.hostId.lsb }
        return a.address < b.address
    }

    public var description: String { "\(address)/\(hostId)" }

    public func encode(into w: inout ByteWriter) {
        w.writeUInt64(hostId.msb)
        w.writeUInt64(hostId.lsb)
        address.encode(into: &w)
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> NodeIdentity {
        let msb = try r.readUInt64()
        let lsb = try r.readUInt64()
        return NodeIdentity(hostId: UUIDValue(msb: msb, lsb: lsb), address: try NodeAddress.decode(from: &r))
    }
}
