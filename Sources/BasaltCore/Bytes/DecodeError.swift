/// Why bytes from outside the process could not be decoded. Offsets are relative to the start of
/// the buffer being read, so callers can add a file offset or name a peer.
public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended: `needed` bytes were required at `at`, only `available` remained.
    case truncated(needed: Int, available: Int, at: Int)
    /// The bytes at `at` are not a valid encoding of what was expected.
    case invalid(String, at: Int)

    public var description: String {
        switch self {
        case let .truncated(needed, available, at):
            "truncated input at offset \(at): needed \(needed) bytes, \(available) available"
        case let .invalid(what, at):
            "\(what) at offset \(at)"
        }
    }
}
