/// The membership figures docs/membership.md reports, measured on a ``ClusterSimulation``:
/// time to convergence after a cold start, time to detect a killed node, time to recognise it after a
/// restart, and gossip traffic per node in steady state.
public struct SimulationFigures: Sendable {
    public var nodes: Int
    public var lossProbability: Double
    /// From the first node's start until every node sees every other up, normal, with the same ring.
    public var convergenceSeconds: Double?
    /// Per observer, from the kill until it marked the node down: fastest, median, slowest.
    public var detectionSeconds: (min: Double, median: Double, max: Double)?
    /// From the restart until every node sees the new generation up.
    public var recoverySeconds: Double?
    /// Bytes sent per node per second in steady state: mean over nodes, and the busiest node.
    public var bytesPerSecondPerNode: (mean: Double, max: Double)
    public var messagesPerSecondPerNode: Double
    /// Steady state, by message name: messages per second per node and mean size in bytes.
    public var messageMix: [(name: String, perSecondPerNode: Double, meanBytes: Double)]
    /// Nodes marked down during the steady-state window, when every node was running (false convictions).
    public var falseDowns: Int
    /// Messages a receiver rejected (a correct run has none).
    public var rejections: Int

    /// Starts `nodes` nodes, waits for convergence, measures `steadySeconds` of traffic, kills one
    /// non-seed node and waits until everyone marks it down, restarts it and waits until everyone sees
    /// it back. Each wait is bounded by `limitSeconds` (nil figure when it runs out).
    public static func measure(nodes: Int, seed: UInt64, lossProbability: Double = 0, steadySeconds: Double = 60,
                               limitSeconds: Double = 300) -> SimulationFigures {
        var sim = ClusterSimulation(.init(nodes: nodes, lossProbability: lossProbability, seed: seed))
        let limit = UInt64(limitSeconds * 1e9)
        let all = Set(0 ..< nodes)
        let converged = sim.run(until: { $0.isConverged(up: all) }, limit: limit)

        let kindsBefore = sim.sentByKind
        let steadyFrom = sim.records.count
        let bytesBefore = sim.nodes.map(\.bytesSent)
        let messagesBefore = sim.nodes.reduce(0) { $0 + $1.messagesSent }
        sim.run(seconds: steadySeconds)
        let perNode = sim.nodes.indices.map { Double(sim.nodes[$0].bytesSent - bytesBefore[$0]) / steadySeconds }
        let messages = Double(sim.nodes.reduce(0) { $0 + $1.messagesSent } - messagesBefore) / steadySeconds / Double(nodes)
        let names = ["?", "SYN", "ACK", "ACK2", "ECHO", "ECHO_REPLY", "SHUTDOWN"]
        let mix = sim.sentByKind.keys.sorted().compactMap { kind -> (String, Double, Double)? in
            let now = sim.sentByKind[kind]!, then = kindsBefore[kind] ?? (0, 0)
            let count = now.messages - then.messages
            guard count > 0 else { return nil }
            return (Int(kind) < names.count ? names[Int(kind)] : "kind \(kind)",
                    Double(count) / steadySeconds / Double(nodes), Double(now.bytes - then.bytes) / Double(count))
        }

        let falseDowns = sim.records[steadyFrom...].filter { if case .down = $0.event { true } else { false } }.count
        let victim = nodes - 1
        let victimAddress = sim.nodes[victim].address
        let killedAt = sim.now
        let recordsBefore = sim.records.count
        sim.kill(victim)
        let survivors = all.subtracting([victim])
        _ = sim.run(until: { $0.isConverged(up: survivors, down: [victim]) }, limit: limit)
        var firstDown: [Int: UInt64] = [:]
        for r in sim.records[recordsBefore...] {
            if case let .down(m) = r.event, m.address == victimAddress, firstDown[r.node] == nil {
                firstDown[r.node] = r.timeNanos - killedAt
            }
        }
        var detection: (Double, Double, Double)? = nil
        if firstDown.count == survivors.count, !firstDown.isEmpty {
            let sorted = firstDown.values.sorted().map { Double($0) / 1e9 }
            detection = (sorted[0], sorted[sorted.count / 2], sorted[sorted.count - 1])
        }

        let restartedAt = sim.now
        sim.restart(victim)
        let recovered = sim.run(until: { $0.isConverged(up: all) }, limit: limit)

        return SimulationFigures(
            nodes: nodes, lossProbability: lossProbability,
            convergenceSeconds: converged.map { Double($0) / 1e9 },
            detectionSeconds: detection,
            recoverySeconds: recovered.map { Double($0 - restartedAt) / 1e9 },
            bytesPerSecondPerNode: (perNode.reduce(0, +) / Double(nodes), perNode.max() ?? 0),
            messagesPerSecondPerNode: messages,
            messageMix: mix,
            falseDowns: falseDowns,
            rejections: sim.rejections.count)
    }

    /// The steady-state message mix, e.g. `SYN 1.6/s × 982 B, ACK 1.6/s × 210 B`.
    public var mixDescription: String {
        messageMix.map { "\($0.name) \(String(format1: $0.perSecondPerNode))/s × \(Int($0.meanBytes.rounded())) B" }
            .joined(separator: ", ")
    }

    /// One markdown table row.
    public func row(seed: UInt64) -> String {
        func s(_ v: Double?) -> String { v.map { String(format1: $0) + " s" } ?? "—" }
        let d = detectionSeconds.map { "\(String(format1: $0.min)) / \(String(format1: $0.median)) / \(String(format1: $0.max)) s" } ?? "—"
        return "| \(nodes) | \(String(format1: lossProbability * 100))% | \(seed) | \(s(convergenceSeconds)) | \(d) | "
            + "\(s(recoverySeconds)) | \(Int(bytesPerSecondPerNode.mean.rounded())) / \(Int(bytesPerSecondPerNode.max.rounded())) | "
            + "\(String(format1: messagesPerSecondPerNode)) |"
    }
}
