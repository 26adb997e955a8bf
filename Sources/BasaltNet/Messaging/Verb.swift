/// Which of a peer's connections a message travels on. Each lane is its own TCP connection (on its
/// own loop when the group has more than one), so a large transfer never queues in front of small
/// messages.
public enum Lane: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Gossip, mutations, reads, their responses.
    case small = 0
    /// Streaming and anything whose payload passes ``MessagingSettings/largeMessageThreshold``.
    case large = 1

    public var description: String { self == .small ? "small" : "large" }
}

/// A message type: a 16-bit code carried in every frame, a name for logs, and the lane its
/// requests use by default.
///
/// Codes belong to the layers above messaging (gossip, coordinator, streaming), which declare their
/// verbs as constants. Code 0 is reserved for the connection handshake. Two verbs are equal when
/// their codes are.
public struct Verb: Hashable, Sendable, CustomStringConvertible {
    public let code: UInt16
    public let name: String
    public let lane: Lane

    public init(_ code: UInt16, _ name: String, lane: Lane = .small) {
        precondition(code != Verb.handshakeCode, "verb code 0 is reserved for the internode handshake")
        self.code = code
        self.name = name
        self.lane = lane
    }

    /// The code of the handshake frame that opens every internode connection.
    static let handshakeCode: UInt16 = 0

    public static func == (a: Verb, b: Verb) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(name)(\(code))" }
}
