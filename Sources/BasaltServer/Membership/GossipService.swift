import BasaltCluster
import BasaltCore
import BasaltNet
import CoreMetrics
import Logging
import Synchronization

/// The shell that runs this node's ``ClusterMembership`` over internode messaging: a loop timer
/// calls ``ClusterMembership/onTick()`` every gossip interval, `.send` directives go out as one-way
/// ``GossipService/verb`` messages on the small lane, received gossip payloads are fed back in,
/// `.event` directives are published to ``MembershipEvents`` and `.rejected` ones are logged.
///
/// It holds no protocol logic. The state machine lives on one loop (``loop``) and is touched only
/// there; readers on other threads use ``snapshot``, replaced after every step that changed it.
/// At most ``maxPendingMessages`` received messages wait for the loop; more are dropped (and
/// counted): gossip repairs a lost message in a later round.
public final class GossipService: @unchecked Sendable {
    // @unchecked: `membership` and `timer` are touched only on `loop` (LoopBoundBox checks it in debug
    // builds); `published` is guarded by `lock`; counters are atomics.

    /// The internode verb carrying gossip messages (one-way, small lane).
    public static let verb = Verb(1, "gossip")
    public static let maxPendingMessages = 4096

    public let loop: EventLoop
    private let messaging: MessagingService
    private let events: MembershipEvents
    private let logger: Logger
    private let interval: Duration
    private let membership: LoopBoundBox<ClusterMembership>
    private let timer: LoopBoundBox<LoopTimer?>
    private let addresses: LoopBoundBox<[NodeAddress: SocketAddress]>
    private let lock = Lock()
    private var published: MembershipSnapshot
    private let pending = Atomic<Int>(0)
    let counters: GossipCounters

    /// A gossip shell for `membership` on `loop`; call ``register()`` before messaging starts, then
    /// ``start()``.
    public init(
        membership: ClusterMembership, loop: EventLoop, messaging: MessagingService, events: MembershipEvents,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance, logger: Logger
    ) {
        counters = GossipCounters(factory: metrics)
        self.loop = loop
        self.messaging = messaging
        self.events = events
        self.logger = logger
        interval = .nanoseconds(Int64(membership.gossip.settings.intervalNanos))
        self.membership = LoopBoundBox(membership, loop: loop)
        timer = LoopBoundBox(nil, loop: loop)
        addresses = LoopBoundBox([:], loop: loop)
        published = MembershipSnapshot(view: membership.view, generation: membership.gossip.generation)
    }

    /// The latest view of the cluster.
    public var snapshot: MembershipSnapshot { lock.withLock { published } }

    /// Registers the gossip verb's handler; call before ``MessagingService/start()``.
    public func register() {
        // Weak: messaging keeps its handlers for its whole life, and this service holds messaging.
        messaging.register(Self.verb) { [weak self] message, _ in
            guard let self else { return }
            counters.messagesReceived.increment()
            counters.bytesReceived.increment(by: message.payload.count)
            guard pending.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxPendingMessages else {
                pending.wrappingSubtract(1, ordering: .relaxed)
                counters.dropped.increment()
                return
            }
            let peer = message.peer.description
            let accepted = loop.execute {
                self.pending.wrappingSubtract(1, ordering: .relaxed)
                self.step { $0.onReceive(message.payload, peer: peer) }
            }
            if !accepted { pending.wrappingSubtract(1, ordering: .relaxed) }
        }
    }

    /// Starts the gossip rounds.
    public func start() async {
        await onLoop {
            self.timer.value = self.loop.scheduleRepeatingTimer(every: self.interval) {
                self.counters.ticks.increment()
                self.step { $0.onTick() }
            }
        }
    }

    /// Applies `change` to the state machine on the loop and executes its directives.
    public func update(_ change: @escaping @Sendable (inout ClusterMembership) -> [ClusterMembership.Directive]) async {
        await onLoop { self.step(change) }
    }

    /// Stops the rounds and tells every live peer this node is going away, so they mark it down at
    /// once; returns after the announcements were handed to messaging.
    public func stop(announce: Bool) async {
        await onLoop {
            self.timer.value?.cancel()
            self.timer.value = nil
            if announce { self.step { $0.onShutdown() } }
        }
    }

    // MARK: - Loop-bound

    private func onLoop(_ body: @escaping @Sendable () -> Void) async {
        _ = try? await loop.submit(body)
    }

    private func step(_ change: (inout ClusterMembership) -> [ClusterMembership.Directive]) {
        let directives = change(&membership.value)
        var published: [MembershipEvent] = []
        for directive in directives {
            switch directive {
            case let .send(to, bytes):
                send(bytes, to: to)
            case let .event(event):
                published.append(event)
                log(event)
            case let .rejected(peer, reason):
                counters.rejected.increment()
                logger.warning("gossip message rejected", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
            }
        }
        let m = membership.value
        let snapshot = MembershipSnapshot(view: m.view, generation: m.gossip.generation)
        lock.withLock { self.published = snapshot }
        events.publish(published)
    }

    private func send(_ bytes: [UInt8], to address: NodeAddress) {
        let target: SocketAddress
        if let known = addresses.value[address] {
            target = known
        } else {
            do {
                target = try SocketAddress(host: address.host, port: address.port)
            } catch {
                counters.sendFailures.increment()
                logger.warning("cannot gossip to \(address): \(error)")
                return
            }
            if addresses.value.count < 8192 { addresses.value[address] = target }
        }
        do {
            try messaging.send(to: target, verb: Self.verb, payload: bytes)
            counters.messagesSent.increment()
            counters.bytesSent.increment(by: bytes.count)
        } catch {
            counters.sendFailures.increment()
            logger.debug("gossip send failed", metadata: ["peer": "\(address)", "error": "\(error)"])
        }
    }

    private func log(_ event: MembershipEvent) {
        switch event {
        case let .up(m): logger.info("node up", metadata: ["peer": "\(m.address)"])
        case let .down(m): logger.info("node down", metadata: ["peer": "\(m.address)"])
        case let .joined(m): logger.info("node joined the ring", metadata: ["peer": "\(m.address)", "tokens": "\(m.tokens.count)"])
        case let .restarted(m): logger.info("node restarted", metadata: ["peer": "\(m.address)", "generation": "\(m.generation)"])
        case let .left(m), let .removed(m): logger.info("node left the ring", metadata: ["peer": "\(m.address)"])
        case let .statusChanged(m, from):
            logger.debug("node status changed", metadata: [
                "peer": "\(m.address)", "from": "\(from?.rawValue ?? "none")", "to": "\(m.status?.rawValue ?? "none")",
            ])
        default: break
        }
    }
}

/// Gossip traffic and outcomes since start: swift-metrics counters, made once from the node's
/// factory (each is one atomic update when bumped), shown on `/metrics` as `basalt_gossip_*`.
struct GossipCounters: Sendable {
    let ticks: Counter
    let messagesSent: Counter
    let bytesSent: Counter
    let messagesReceived: Counter
    let bytesReceived: Counter
    let rejected: Counter
    let sendFailures: Counter
    let dropped: Counter

    init(factory: any MetricsFactory) {
        func counter(_ name: String) -> Counter { Counter(label: "basalt_gossip_" + name, dimensions: [], factory: factory) }
        ticks = counter("rounds_total")
        messagesSent = counter("messages_sent_total")
        bytesSent = counter("bytes_sent_total")
        messagesReceived = counter("messages_received_total")
        bytesReceived = counter("bytes_received_total")
        rejected = counter("messages_rejected_total")
        sendFailures = counter("send_failures_total")
        dropped = counter("messages_dropped_total")
    }
}
