import BasaltCore
/// The simulated network between simulated nodes: per-message latency drawn uniformly from a range,
/// independent loss, and partitions (nodes in different groups cannot reach each other).
///
/// Deterministic: every random draw comes from the generator the simulation passes in.
public struct VirtualNetwork: Sendable {
    /// Smallest and largest one-way latency, in nanoseconds.
    public var latencyNanos: ClosedRange<UInt64>
    /// Probability that a message is lost, 0 … 1.
    public var lossProbability: Double
    /// Partition group of each node; nodes reach each other only within a group.
    public private(set) var group: [Int]

    public init(nodes: Int, latencyNanos: ClosedRange<UInt64> = 500_000 ... 5_000_000, lossProbability: Double = 0) {
        self.latencyNanos = latencyNanos
        self.lossProbability = lossProbability
        group = [Int](repeating: 0, count: nodes)
    }

    /// Splits the nodes: each listed set becomes its own group; unlisted nodes stay together in group 0.
    public mutating func partition(_ sides: [[Int]]) {
        group = [Int](repeating: 0, count: group.count)
        for (i, side) in sides.enumerated() {
            for n in side where n < group.count { group[n] = i + 1 }
        }
    }

    /// Everyone reaches everyone again.
    public mutating func heal() {
        group = [Int](repeating: 0, count: group.count)
    }

    public mutating func grow(to nodes: Int) {
        while group.count < nodes { group.append(0) }
    }

    public func canReach(_ a: Int, _ b: Int) -> Bool { group[a] == group[b] }

    /// The delivery delay of one message from `a` to `b`, or nil if it is lost or cannot get through.
    public func delay(from a: Int, to b: Int, using rng: inout SplitMix64) -> UInt64? {
        guard canReach(a, b) else { return nil }
        if lossProbability > 0 && rng.nextUnit() < lossProbability { return nil }
        let span = latencyNanos.upperBound - latencyNanos.lowerBound
        return latencyNanos.lowerBound + (span == 0 ? 0 : rng.next() % (span + 1))
    }
}
