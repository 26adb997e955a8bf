/// Why bytes received on an internode connection are not a valid frame. Offsets count bytes from
/// the start of the connection's stream, so a log line can say where the garbage began.
public enum InternodeFrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The version byte is not one this node speaks (often: the bytes are not a Basalt frame at all).
    case unsupportedVersion(UInt8, at: Int)
    /// The header's checksum does not match its bytes.
    case headerChecksumMismatch(expected: UInt32, actual: UInt32, at: Int)
    /// The payload's checksum does not match its bytes.
    case payloadChecksumMismatch(expected: UInt32, actual: UInt32, at: Int)
    /// The header announces a payload longer than this node accepts.
    case frameTooLarge(length: Int, limit: Int, at: Int)
    /// The flags byte is not one of the valid combinations.
    case invalidFlags(UInt8, at: Int)

    public var description: String {
        switch self {
        case let .unsupportedVersion(version, at):
            "unsupported frame version \(version) (byte 0x\(String(version, radix: 16))) at stream offset \(at)"
        case let .headerChecksumMismatch(expected, actual, at):
            "frame header checksum mismatch at stream offset \(at): "
                + "header says \(hex(expected)), bytes give \(hex(actual))"
        case let .payloadChecksumMismatch(expected, actual, at):
            "frame payload checksum mismatch in frame at stream offset \(at): trailer says \(hex(expected)), bytes give \(hex(actual))"
        case let .frameTooLarge(length, limit, at):
            "frame at stream offset \(at) announces \(length) payload bytes, limit is \(limit)"
        case let .invalidFlags(flags, at):
            "invalid frame flags 0x\(String(flags, radix: 16)) at stream offset \(at)"
        }
    }
}

private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
