import BasaltCluster
import BasaltCore
import BasaltNet
import Logging
import Synchronization

/// The shell around ``ClockOffsetTracker``: every second it sends each live peer an echo (verb
/// ``verb``, 70) carrying this node's wall clock, feeds the answers (the peer's wall clock, the
/// round trip on the monotonic clock) to the tracker, logs its events, and answers peers' echoes
/// with this node's wall clock.
///
/// While the tracker says this node is out of range, ``serverTimestampRefusal()`` gives the reason
/// CQL refuses writes that need a server-side timestamp.
public final class ClockOffsetService: Sendable {
    /// `clock.echo`: request = version 1, i64 BE sender wall clock (µs); response = version 1,
    /// i64 BE responder wall clock (µs). Verb 71 is kept free for this subsystem.
    public static let verb = Verb(70, "clock.echo")
    static let version: UInt8 = 1

    private let messaging: MessagingService
    private let clock: any Clock
    private let membership: @Sendable () -> MembershipSnapshot
    private let logger: Logger
    private let intervalNanos: UInt64
    private let tracker: Mutex<ClockOffsetTracker>
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// Writes refused because they needed a server-side timestamp while out of range.
    private let refusedWrites = Atomic<Int>(0)

    public init(messaging: MessagingService, clock: any Clock, settings: ClockOffsetTracker.Settings, intervalNanos: UInt64 = 1_000_000_000,
                membership: @escaping @Sendable () -> MembershipSnapshot, logger: Logger) {
        self.messaging = messaging
        self.clock = clock
        self.membership = membership
        self.logger = logger
        self.intervalNanos = intervalNanos
        tracker = Mutex(ClockOffsetTracker(settings: settings))
    }

    /// Registers the echo verb (before messaging starts).
    public func register() {
        messaging.register(Self.verb) { [clock] _, reply in
            reply.reply(Self.encode(clock.now().micros))
        }
    }

    /// Registers `basalt_clock_offset_ms{peer=…}` (peer minus this node), `…_uncertainty_ms`, and
    /// `basalt_clock_out_of_range` (1 while server-side timestamps are refused).
    public func registerMetrics(in metrics: MetricsRegistry) {
        metrics.register("clock") { [self] out in
            let now = clock.monotonicNanos()
            let (estimates, outOfRange, max) = tracker.withLock { ($0.estimates(nowNanos: now), $0.outOfRangeOffsetMicros, $0.settings.maxOffsetMicros) }
            let peers = estimates.keys.sorted()
            out.family("basalt_clock_offset_ms", type: .gauge, help: "Estimated wall-clock offset of each live peer from this node (peer minus this node), ms",
                       samples: peers.map { ([("peer", $0)], Double(estimates[$0]!.offsetMicros) / 1000) })
            out.family("basalt_clock_offset_uncertainty_ms", type: .gauge, help: "Half the round trip of the echo each offset comes from, ms",
                       samples: peers.map { ([("peer", $0)], Double(estimates[$0]!.uncertaintyMicros) / 1000) })
            out.gauge("basalt_clock_out_of_range", help: "1 while this node's clock is more than max_clock_offset_ms from the majority of its live peers (server-side timestamps refused)",
                      outOfRange == nil ? 0 : 1)
            out.gauge("basalt_clock_max_offset_ms", help: "The configured max_clock_offset_ms", Double(max) / 1000)
            out.counter("basalt_clock_refused_writes_total", help: "Writes refused because they needed a server-side timestamp while this node's clock was out of range",
                        refusedWrites.load(ordering: .relaxed))
        }
    }

    /// Starts the echo rounds.
    public func start() {
        let t = Task { [self] in
            while !Task.isCancelled {
                round()
                try? await Task.sleep(nanoseconds: intervalNanos)
            }
        }
        task.withLock { $0 = t }
    }

    public func stop() {
        task.withLock { $0 }?.cancel()
    }

    /// Offsets of live peers by address host (peer minus this node), milliseconds.
    public func offsetsMillis() -> [String: Double] {
        let now = clock.monotonicNanos()
        return tracker.withLock { $0.estimates(nowNanos: now) }.mapValues { Double($0.offsetMicros) / 1000 }
    }

    /// Why this node may not pick write timestamps now, or nil when it may. Asked for each write
    /// that needs a server-side timestamp, so a reason given is counted as a refused write.
    public func serverTimestampRefusal() -> String? {
        guard let (mine, max) = tracker.withLock({ t in t.outOfRangeOffsetMicros.map { ($0, t.settings.maxOffsetMicros) } }) else { return nil }
        refusedWrites.add(1, ordering: .relaxed)
        return "This node's clock is \(abs(mine) / 1000) ms \(mine >= 0 ? "ahead of" : "behind") the cluster's (max_clock_offset_ms is \(max / 1000)): "
            + "writes through it need a client timestamp (USING TIMESTAMP or the protocol's default timestamp) until its clock is back in range"
    }

    private func round() {
        let snapshot = membership()
        let peers = snapshot.members.values.filter { $0.isAlive && $0.address != snapshot.localAddress }
        let events = tracker.withLock { $0.onLivePeers(Set(peers.map(\.address.host)), nowNanos: clock.monotonicNanos()) }
        log(events)
        for peer in peers {
            guard let address = try? SocketAddress(host: peer.address.host, port: peer.address.port) else { continue }
            let host = peer.address.host
            let sentWall = clock.now().micros
            let sentMono = clock.monotonicNanos()
            messaging.request(to: address, verb: Self.verb, payload: Self.encode(sentWall), timeout: .seconds(2)) { [self] result in
                guard case let .success(bytes) = result, let peerWall = Self.decode(bytes) else { return }
                let now = clock.monotonicNanos()
                let events = tracker.withLock {
                    $0.onSample(peer: host, sentWallMicros: sentWall, peerWallMicros: peerWall, roundTripNanos: now &- sentMono, nowNanos: now)
                }
                log(events)
            }
        }
    }

    private func log(_ events: [ClockOffsetTracker.Event]) {
        for e in events {
            switch e {
            case let .peerOffsetHigh(peer, offset):
                logger.warning("clock offset of peer is high", metadata: ["peer": "\(peer)", "offset_ms": "\(offset / 1000)"])
            case let .peerOffsetNormal(peer, offset):
                logger.info("clock offset of peer back to normal", metadata: ["peer": "\(peer)", "offset_ms": "\(offset / 1000)"])
            case let .outOfRange(offset, off, peers):
                logger.error("this node's clock is too far from the cluster's; refusing writes that need a server-side timestamp",
                             metadata: ["offset_ms": "\(offset / 1000)", "peers_out_of_range": "\(off) of \(peers)"])
            case let .backInRange(offset):
                logger.notice("this node's clock is back in range; server-side timestamps allowed again", metadata: ["offset_ms": "\(offset / 1000)"])
            }
        }
    }

    static func encode(_ micros: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: 9)
        w.writeUInt8(version)
        w.writeInt64(micros)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) -> Int64? {
        guard bytes.count == 9, bytes[0] == version else { return nil }
        return bytes[1...].reduce(Int64(0)) { ($0 << 8) | Int64($1) }
    }
}
