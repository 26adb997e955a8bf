import BasaltCore
@testable import BasaltCluster

/// Small hand-driven gossip setups: instances keyed by address, and a synchronous "network" that
/// delivers every send at once (or drops what a filter rejects).
struct GossipHarness {
    let clock = ManualClock()
    var nodes: [NodeAddress: Gossip.Instance] = [:]
    var notifications: [NodeAddress: [Gossip.Notification]] = [:]
    var rejections: [String] = []
    var sent: [(from: NodeAddress, to: NodeAddress, message: Gossip.Message)] = []
    var drop: (NodeAddress, NodeAddress, Gossip.Message) -> Bool = { _, _, _ in false }

    static func address(_ n: Int) -> NodeAddress { NodeAddress(host: "127.0.0.\(n)", port: 7000) }

    static func settings(seeds: [Int], seed: UInt64 = 1) -> Gossip.Settings {
        Gossip.Settings(clusterName: "test", seeds: seeds.map(address), randomSeed: seed)
    }

    mutating func add(_ n: Int, seeds: [Int] = [1], generation: Int64? = nil, states: [Gossip.ApplicationValue] = []) {
        let addr = Self.address(n)
        nodes[addr] = Gossip.Instance(settings: Self.settings(seeds: seeds, seed: UInt64(n)), localAddress: addr,
                                      generation: generation ?? clock.nowSeconds(), clock: clock,
                                      initialStates: states.isEmpty ? [.hostId(UUIDValue(msb: UInt64(n), lsb: 7)), .status(.normal)] : states)
    }

    /// Runs `body` on node `n` and delivers the resulting messages until the network is quiet.
    mutating func on(_ n: Int, _ body: (inout Gossip.Instance) -> [Gossip.Directive]) {
        let addr = Self.address(n)
        guard var node = nodes[addr] else { return }
        let out = body(&node)
        nodes[addr] = node
        deliver(out, from: addr)
    }

    mutating func tick(_ n: Int) { on(n) { $0.onTick() } }

    mutating func deliver(_ directives: [Gossip.Directive], from: NodeAddress) {
        var pending = directives.map { (from, $0) }
        while !pending.isEmpty {
            let (src, d) = pending.removeFirst()
            switch d {
            case let .send(to, envelope):
                sent.append((src, to, envelope.message))
                guard !drop(src, to, envelope.message), var target = nodes[to] else { continue }
                // Through the wire format, as the shell would.
                let out = target.onReceive(envelope.encoded(), peer: "\(src)")
                nodes[to] = target
                pending += out.map { (to, $0) }
            case let .notify(note):
                notifications[src, default: []].append(note)
            case let .rejected(peer, reason):
                rejections.append("\(src) rejected \(peer): \(reason)")
            }
        }
    }

    func node(_ n: Int) -> Gossip.Instance { nodes[Self.address(n)]! }
}
