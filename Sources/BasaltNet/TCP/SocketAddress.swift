import CLibUV

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address literal and a port. No name resolution happens here: nodes are configured
/// with addresses, and `localhost` is the only name accepted (as 127.0.0.1).
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address in canonical text form (`127.0.1.2`, `::1`).
    public let host: String
    public let port: UInt16

    /// Parses `host` (an IP literal or `localhost`).
    public init(host: String, port: UInt16) throws(TCPError) {
        let literal = host == "localhost" ? "127.0.0.1" : host
        var storage = sockaddr_storage()
        guard Self.parse(literal, port: port, into: &storage) else { throw .invalidAddress(host) }
        guard let canonical = Self.hostString(of: &storage) else { throw .invalidAddress(host) }
        self.host = canonical
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`.
    public init(_ text: String) throws(TCPError) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw .invalidAddress(text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        try self.init(host: host, port: port)
    }

    /// The address of `sockaddr`, or nil for families other than IPv4/IPv6.
    init?(_ storage: inout sockaddr_storage) {
        guard let host = Self.hostString(of: &storage) else { return nil }
        self.host = host
        switch Int32(storage.ss_family) {
        case AF_INET:
            port = withUnsafeBytes(of: &storage) { UInt16(bigEndian: $0.load(as: sockaddr_in.self).sin_port) }
        default:
            port = withUnsafeBytes(of: &storage) { UInt16(bigEndian: $0.load(as: sockaddr_in6.self).sin6_port) }
        }
    }

    /// The same host with another port.
    public func with(port: UInt16) -> SocketAddress {
        // Host and port were validated already; only the port changes.
        SocketAddress(validatedHost: host, port: port)
    }

    private init(validatedHost: String, port: UInt16) {
        host = validatedHost
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with this address as a `sockaddr`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>) -> R) -> R {
        var storage = sockaddr_storage()
        _ = Self.parse(host, port: port, into: &storage)
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0) }
        }
    }

    private static func parse(_ host: String, port: UInt16, into storage: inout sockaddr_storage) -> Bool {
        withUnsafeMutableBytes(of: &storage) { raw in
            if host.contains(":") {
                let addr = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                return uv_ip6_addr(host, Int32(port), addr) == 0
            }
            let addr = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
            return uv_ip4_addr(host, Int32(port), addr) == 0
        }
    }

    private static func hostString(of storage: inout sockaddr_storage) -> String? {
        var text = [CChar](repeating: 0, count: 64)
        let family = Int32(storage.ss_family)
        let rc: Int32 = withUnsafeBytes(of: &storage) { raw in
            switch family {
            case AF_INET:
                var addr = raw.load(as: sockaddr_in.self)
                return uv_ip4_name(&addr, &text, text.count)
            case AF_INET6:
                var addr = raw.load(as: sockaddr_in6.self)
                return uv_ip6_name(&addr, &text, text.count)
            default:
                return -1
            }
        }
        guard rc == 0 else { return nil }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
