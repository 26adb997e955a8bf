/// Why a replica or coordinator could not serve a request: the `cause` label of the request-failure
/// counters and the word in the logs. Open for new causes: a subsystem declares
/// `static let diskFull = FailureCause("disk_full")` and reports it, through an error conforming to
/// ``FailureCauseProviding`` or directly.
///
/// Between nodes the cause travels at the head of a failure message, `cause: message`
/// (``tagging(_:)`` / ``init(taggedMessage:)``), so the coordinator counts a replica's cause.
public struct FailureCause: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// A mutation over the maximum mutation size (half a commit-log segment).
    public static let mutationTooLarge = FailureCause("mutation_too_large")
    /// A message over the internode frame limit.
    public static let messageTooLarge = FailureCause("message_too_large")
    /// A request the replica could not decode.
    public static let malformedRequest = FailureCause("malformed_request")
    /// A table the replica does not have (dropped, or schema not yet agreed).
    public static let unknownTable = FailureCause("unknown_table")
    /// The replica's storage is past a bound (memtables, commit log).
    public static let storageOverloaded = FailureCause("storage_overloaded")
    /// A file-system operation failed.
    public static let storageIO = FailureCause("storage_io")
    /// No space left on the data device.
    public static let diskFull = FailureCause("disk_full")
    /// A checksum or structure check failed on stored data.
    public static let corruptData = FailureCause("corrupt_data")
    /// The storage engine is shut down.
    public static let storageClosed = FailureCause("storage_closed")
    /// The replica refused the request as invalid.
    public static let invalidRequest = FailureCause("invalid_request")
    /// The replica cannot serve this kind of request (no index, for instance).
    public static let unsupported = FailureCause("unsupported")
    /// A cause nobody named.
    public static let unknown = FailureCause("unknown")

    public var description: String { rawValue }

    /// The cause of `error`: its own when it provides one, else ``unknown``.
    public static func of(_ error: any Error) -> FailureCause {
        if let known = error as? any FailureCauseProviding { return known.failureCause }
        return error is DecodeError ? .malformedRequest : .unknown
    }

    /// `message` with this cause at its head, as a replica sends it.
    public func tagging(_ message: String) -> String { rawValue + ": " + message }

    /// The cause at the head of a failure message (``unknown`` when there is none) and the rest.
    public init(taggedMessage: String) {
        if let colon = taggedMessage.firstIndex(of: ":"), colon > taggedMessage.startIndex,
           taggedMessage[..<colon].allSatisfy({ $0 == "_" || ($0 >= "a" && $0 <= "z") }) {
            rawValue = String(taggedMessage[..<colon])
        } else {
            rawValue = FailureCause.unknown.rawValue
        }
    }
}

/// An error that knows its ``FailureCause``.
public protocol FailureCauseProviding: Error {
    var failureCause: FailureCause { get }
}
