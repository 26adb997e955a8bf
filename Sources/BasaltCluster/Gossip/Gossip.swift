import BasaltCore

/// Cassandra-style gossip as a pure state machine: every node holds a versioned state for every
/// endpoint it knows; once a second it sends its digests to a random peer, and the SYN / ACK / ACK2
/// exchange brings both sides up to date. See ``Gossip/Instance`` and docs/membership.md.
public enum Gossip {}

extension Gossip {
    /// Tunables of one gossip instance. Defaults are Cassandra's.
    public struct Settings: Sendable {
        /// Nodes answer SYNs only from nodes of the same cluster.
        public var clusterName: String
        /// Seeds only help nodes find each other (a node gossips to one when it knows no live peer, or
        /// with a probability that keeps partitions from persisting).
        public var seeds: [NodeAddress]
        /// Time between ticks; the shell calls ``Instance/onTick()`` this often.
        public var intervalNanos: UInt64
        public var failureDetector: PhiAccrualDetector<NodeAddress>.Settings
        /// Ignore an endpoint whose generation (a start time in seconds) is further than this in the
        /// future of the local wall clock: a corrupted or malicious value, not a restart.
        public var maxGenerationDriftSeconds: Int64
        /// How long an unanswered echo (the liveness probe before marking a node up) blocks a new one.
        public var echoTimeoutNanos: UInt64
        /// How long the state of a node that left or was removed stays in gossip (Cassandra: 3 days).
        public var deadStateRetentionNanos: UInt64
        /// After an endpoint is evicted, gossip about it is ignored this long, so that stale copies
        /// circulating elsewhere do not bring it back (Cassandra's QUARANTINE_DELAY).
        public var quarantineNanos: UInt64
        /// An ACK or ACK2 stops adding endpoint states past this many bytes; the rest follow next round.
        public var maxMessageBytes: Int
        /// The most endpoints one instance tracks; state for further unknown endpoints is ignored (and
        /// reported as a rejection), so a confused or hostile peer cannot grow the map without bound.
        public var maxEndpoints: Int
        /// Seed of the generator that picks gossip targets.
        public var randomSeed: UInt64

        public init(
            clusterName: String,
            seeds: [NodeAddress],
            intervalNanos: UInt64 = 1_000_000_000,
            failureDetector: PhiAccrualDetector<NodeAddress>.Settings = .init(),
            maxGenerationDriftSeconds: Int64 = 365 * 86_400,
            echoTimeoutNanos: UInt64 = 2_000_000_000,
            deadStateRetentionNanos: UInt64 = 3 * 86_400 * 1_000_000_000,
            quarantineNanos: UInt64 = 60_000_000_000,
            maxMessageBytes: Int = 1 << 20,
            maxEndpoints: Int = 4096,
            randomSeed: UInt64 = 0
        ) {
            self.clusterName = clusterName
            self.seeds = seeds
            self.intervalNanos = intervalNanos
            self.failureDetector = failureDetector
            self.maxGenerationDriftSeconds = maxGenerationDriftSeconds
            self.echoTimeoutNanos = echoTimeoutNanos
            self.deadStateRetentionNanos = deadStateRetentionNanos
            self.quarantineNanos = quarantineNanos
            self.maxMessageBytes = maxMessageBytes
            self.maxEndpoints = maxEndpoints
            self.randomSeed = randomSeed
        }
    }
}
