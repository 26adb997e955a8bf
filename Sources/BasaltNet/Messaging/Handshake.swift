import BasaltCore

/// The first frame on every internode connection (verb 0, one-way): who is connecting and on which
/// lane. The accepting side identifies the peer by the internode address given here, not by the
/// connection's source port.
///
/// Payload: magic `BSLT` (4 bytes), lane (1 byte), port (2 bytes, big-endian), host (var-uint length
/// + UTF-8).
struct Handshake: Equatable, Sendable {
    static let magic: [UInt8] = Array("BSLT".utf8)

    var sender: SocketAddress
    var lane: Lane

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 32)
        writer.writeBytes(Self.magic)
        writer.writeUInt8(lane.rawValue)
        writer.writeUInt16(sender.port)
        writer.writeVarString(sender.host)
        return writer.bytes
    }

    /// Decodes a handshake payload; the error says what was wrong.
    static func decode(_ payload: [UInt8]) -> Result<Handshake, HandshakeError> {
        var reader = ByteReader(payload)
        do {
            guard try reader.readBytes(4) == magic else { return .failure(.badMagic) }
            guard let lane = Lane(rawValue: try reader.readUInt8()) else { return .failure(.unknownLane) }
            let port = try reader.readUInt16()
            let host = try reader.readVarString()
            guard reader.isAtEnd else { return .failure(.trailingBytes) }
            guard let sender = try? SocketAddress(host: host, port: port) else { return .failure(.badAddress(host)) }
            return .success(Handshake(sender: sender, lane: lane))
        } catch {
            return .failure(.malformed(error.description))
        }
    }
}

enum HandshakeError: Error, Equatable, CustomStringConvertible {
    case badMagic, unknownLane, trailingBytes
    case badAddress(String)
    case malformed(String)

    var description: String {
        switch self {
        case .badMagic: "handshake without the BSLT magic"
        case .unknownLane: "handshake names an unknown lane"
        case .trailingBytes: "handshake has trailing bytes"
        case let .badAddress(host): "handshake names an invalid address '\(host)'"
        case let .malformed(reason): "malformed handshake: \(reason)"
        }
    }
}
