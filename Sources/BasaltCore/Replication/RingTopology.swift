/// Data centers and racks of a ring's members, numbered for fast placement walks.
///
/// Like Cassandra's `TokenMetadata.Topology`, it only counts members that own tokens. Racks are
/// numbered per `(data center, rack)` pair, so equal rack names in different data centers differ.
public struct RingTopology: Sendable {
    /// Data center names, sorted.
    public let dataCenters: [String]
    /// For each ring member (by index in `TokenRing.members`), its data center's index.
    public let dataCenterOf: [Int]
    /// For each ring member, its `(dc, rack)` pair's number.
    public let rackOf: [Int]
    /// Members per data center.
    public let nodeCount: [Int]
    /// Distinct racks per data center.
    public let rackCount: [Int]

    public init(_ ring: TokenRing) {
        let dcs = Array(Set(ring.members.map(\.dataCenter))).sorted()
        var dcIndex: [String: Int] = [:]
        for (i, d) in dcs.enumerated() { dcIndex[d] = i }
        var rackIndex: [RackKey: Int] = [:]
        var dcOf: [Int] = []
        var racksOf: [Int] = []
        var nodes = [Int](repeating: 0, count: dcs.count)
        var racks = [Int](repeating: 0, count: dcs.count)
        for m in ring.members {
            let d = dcIndex[m.dataCenter] ?? 0
            let key = RackKey(dc: m.dataCenter, rack: m.rack)
            let r: Int
            if let existing = rackIndex[key] {
                r = existing
            } else {
                r = rackIndex.count
                rackIndex[key] = r
                racks[d] += 1
            }
            dcOf.append(d)
            racksOf.append(r)
            nodes[d] += 1
        }
        dataCenters = dcs
        dataCenterOf = dcOf
        rackOf = racksOf
        nodeCount = nodes
        rackCount = racks
    }

    public func dataCenterIndex(_ name: String) -> Int? {
        dataCenters.firstIndex(of: name)
    }

    var totalRacks: Int { rackCount.reduce(0, +) }

    private struct RackKey: Hashable {
        var dc: String
        var rack: String
    }
}
