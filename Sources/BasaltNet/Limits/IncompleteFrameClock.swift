/// How long the frame a connection is receiving has been incomplete, as a pure value over a
/// millisecond clock: a peer that starts a frame and never finishes it is found however slowly it
/// trickles bytes, while one that idles between whole frames is not.
public struct IncompleteFrameClock: Sendable, Equatable {
    /// 0 turns the check off.
    public let timeoutMillis: UInt64
    /// When the incomplete frame began (the read that started it), nil between frames.
    public private(set) var since: UInt64?

    public init(timeoutMillis: UInt64) { self.timeoutMillis = timeoutMillis }

    /// After the bytes of one read were decoded: whether frames were completed in them, whether an
    /// incomplete one remains buffered.
    public mutating func onDecoded(completedFrames: Bool, partial: Bool, now: UInt64) {
        if !partial {
            since = nil
        } else if completedFrames || since == nil {
            since = now
        }
    }

    /// When the incomplete frame times out; nil when there is none or the check is off.
    public var deadline: UInt64? {
        guard timeoutMillis > 0, let since else { return nil }
        return since &+ timeoutMillis
    }
}
