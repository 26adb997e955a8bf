import BasaltCore

/// Where other nodes reach a node: a host (an IP literal or a name) and a port.
///
/// Gossip keys every endpoint's state by its internode address, as Cassandra keys its gossip state
/// by `InetAddressAndPort`; seeds are known by address only. Ordering is by host text, then port:
/// arbitrary but total, so that anything iterating over addresses is deterministic.
public struct NodeAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    /// The longest host text accepted from the wire (a DNS name is at most 253 bytes).
    public static let maxHostBytes = 255

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, or `[v6-literal]:port`.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            let host = String(s[s.index(after: s.startIndex) ..< close])
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), !host.isEmpty else { return nil }
            self.init(host: host, port: port)
            return
        }
        guard let colon = s.lastIndex(of: ":") else { return nil }
        let host = String(s[..<colon])
        guard !host.isEmpty, !host.contains(":"), let port = UInt16(s[s.index(after: colon)...]) else { return nil }
        self.init(host: host, port: port)
    }

    public static func < (a: NodeAddress, b: NodeAddress) -> Bool {
        a.host != b.host ? a.host < b.host : a.port < b.port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Host as a var-length UTF-8 string, then the port as two big-endian bytes.
    public func encode(into w: inout ByteWriter) {
        w.writeVarString(host)
        w.writeUInt16(port)
    }

    /// Reads what ``encode(into:)`` wrote; an empty or over-long host is invalid.
    public static func decode(from r: inout ByteReader) throws(DecodeError) -> NodeAddress {
        let start = r.position
        let n = try r.readVarLength()
        guard n > 0, n <= maxHostBytes else {
            throw DecodeError.invalid("node address host of \(n) bytes", at: start)
        }
        let host = try r.readUTF8(n, at: start)
        return NodeAddress(host: host, port: try r.readUInt16())
    }
}
