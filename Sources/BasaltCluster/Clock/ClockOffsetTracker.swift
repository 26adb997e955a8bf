/// Estimates the wall-clock offset of every peer from echo round trips, and decides whether this
/// node's clock is too far from the cluster's for it to pick write timestamps itself.
///
/// A pure state machine (no I/O; time is given by the caller): the shell sends each live peer its
/// wall clock, the peer answers with its own, and the shell reports the sample. A sample's offset
/// is NTP's with one remote timestamp and a monotonic round trip:
/// `offset = peerWall − (sentWall + rtt / 2)` (peer minus this node: negative when this node is
/// ahead), uncertain by ± rtt / 2. Per peer the estimate is the sample with the smallest round trip
/// among the last ``Settings/samplesPerPeer`` (NTP's clock filter: the least queued exchange is the
/// most symmetric); estimates older than ``Settings/staleAfterNanos`` are dropped.
///
/// **Out of range** (after CockroachDB's `--max-offset`): more than half of the live peers (as last
/// given to ``onLivePeers(_:nowNanos:)``; a peer not measured yet counts as in range) are surely
/// more than ``Settings/maxOffsetMicros`` away (`|offset| − uncertainty` above it). In a two-node cluster both nodes then see each other out of range: with two clocks nobody
/// can tell which is wrong.
public struct ClockOffsetTracker: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Offset from the majority of live peers beyond which this node refuses to pick timestamps
        /// (0: never).
        public var maxOffsetMicros: Int64 = 500_000
        /// A peer's offset beyond this is logged as a warning (once, until it comes back under).
        public var warnOffsetMicros: Int64 = 250_000
        public var samplesPerPeer = 8
        public var staleAfterNanos: UInt64 = 30_000_000_000
        public init() {}
    }

    /// One peer's estimate.
    public struct Estimate: Sendable, Equatable {
        /// Peer's wall clock minus this node's, microseconds.
        public var offsetMicros: Int64
        /// Half the round trip of the sample the offset comes from, microseconds.
        public var uncertaintyMicros: Int64
        public var measuredAtNanos: UInt64

        /// The least the offset surely is in magnitude.
        var surelyAtLeastMicros: Int64 { max(0, abs(offsetMicros) - uncertaintyMicros) }
    }

    /// What the shell should log (each once per transition).
    public enum Event: Sendable, Equatable {
        case peerOffsetHigh(peer: String, offsetMicros: Int64)
        case peerOffsetNormal(peer: String, offsetMicros: Int64)
        /// This node's clock is `offsetMicros` from the median of its peers (positive: ahead);
        /// `peersOff` of `peers` live peers are out of range.
        case outOfRange(offsetMicros: Int64, peersOff: Int, peers: Int)
        case backInRange(offsetMicros: Int64)
    }

    private struct Sample: Sendable {
        var offsetMicros: Int64
        var roundTripNanos: UInt64
        var atNanos: UInt64
    }

    public let settings: Settings
    private var samples: [String: [Sample]] = [:]
    private var warned: Set<String> = []
    /// The live peers as last reported: a peer not measured yet counts against a majority, so the
    /// first answer of one skewed peer cannot put a healthy node out of range.
    private var livePeers: Set<String> = []
    /// This node's offset from its peers' median while out of range.
    public private(set) var outOfRangeOffsetMicros: Int64?

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// An echo round trip with `peer`: this node's wall clock when it sent (`sentWallMicros`), the
    /// peer's wall clock in its answer, and the round trip measured on the monotonic clock.
    public mutating func onSample(peer: String, sentWallMicros: Int64, peerWallMicros: Int64, roundTripNanos: UInt64,
                                  nowNanos: UInt64) -> [Event] {
        let offset = peerWallMicros - (sentWallMicros + Int64(clamping: roundTripNanos / 2_000))
        var list = samples[peer, default: []]
        list.append(Sample(offsetMicros: offset, roundTripNanos: roundTripNanos, atNanos: nowNanos))
        if list.count > settings.samplesPerPeer { list.removeFirst(list.count - settings.samplesPerPeer) }
        samples[peer] = list
        var out: [Event] = []
        if let e = estimate(for: peer, nowNanos: nowNanos) {
            let high = e.surelyAtLeastMicros > settings.warnOffsetMicros
            if high, warned.insert(peer).inserted {
                out.append(.peerOffsetHigh(peer: peer, offsetMicros: e.offsetMicros))
            } else if !high, warned.remove(peer) != nil {
                out.append(.peerOffsetNormal(peer: peer, offsetMicros: e.offsetMicros))
            }
        }
        return out + evaluate(nowNanos: nowNanos)
    }

    /// The peers currently alive: estimates of others are forgotten (a dead peer does not vote).
    public mutating func onLivePeers(_ live: Set<String>, nowNanos: UInt64) -> [Event] {
        livePeers = live
        for peer in samples.keys where !live.contains(peer) {
            samples[peer] = nil
            warned.remove(peer)
        }
        return evaluate(nowNanos: nowNanos)
    }

    /// The current estimate for `peer`, nil when none is fresh.
    public func estimate(for peer: String, nowNanos: UInt64) -> Estimate? {
        let fresh = (samples[peer] ?? []).filter { nowNanos &- $0.atNanos <= settings.staleAfterNanos }
        guard let best = fresh.min(by: { $0.roundTripNanos < $1.roundTripNanos }) else { return nil }
        return Estimate(offsetMicros: best.offsetMicros, uncertaintyMicros: Int64(clamping: best.roundTripNanos / 2_000),
                        measuredAtNanos: best.atNanos)
    }

    /// Every peer with a fresh estimate.
    public func estimates(nowNanos: UInt64) -> [String: Estimate] {
        var out: [String: Estimate] = [:]
        for peer in samples.keys { if let e = estimate(for: peer, nowNanos: nowNanos) { out[peer] = e } }
        return out
    }

    private mutating func evaluate(nowNanos: UInt64) -> [Event] {
        let all = estimates(nowNanos: nowNanos)
        let off = all.values.filter { $0.surelyAtLeastMicros > settings.maxOffsetMicros }.count
        // This node relative to its peers: the median of minus their offsets.
        let mine = Self.median(all.values.map { -$0.offsetMicros })
        let peers = max(all.count, livePeers.count)
        let outOfRange = settings.maxOffsetMicros > 0 && peers > 0 && off * 2 > peers
        switch (outOfRangeOffsetMicros, outOfRange) {
        case (nil, true):
            outOfRangeOffsetMicros = mine
            return [.outOfRange(offsetMicros: mine, peersOff: off, peers: peers)]
        case (.some, false):
            outOfRangeOffsetMicros = nil
            return [.backInRange(offsetMicros: mine)]
        case (.some, true):
            outOfRangeOffsetMicros = mine
            return []
        case (nil, false):
            return []
        }
    }

    static func median(_ xs: [Int64]) -> Int64 {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] / 2 + s[s.count / 2] / 2)
    }
}
