/// The order in which one request tries nodes: a pure function of the replicas, the nodes'
/// liveness and data centers, and a rotation counter.
///
/// 1. Live replicas in the local data center, rotated by the counter (round-robin among them);
/// 2. live replicas in other data centers, in placement order;
/// 3. every other live node, local data center first, rotated;
/// 4. nodes marked down, last (a reconnection may have succeeded meanwhile; trying a node with
///    no open connection costs nothing and records why it was skipped).
///
/// Without replicas (no routing key, unknown keyspace) steps 1–2 are empty: plain round-robin
/// over live nodes, local data center first. Every node appears exactly once.
enum QueryPlan {
    static func order(replicas: [Int]?, nodeCount: Int, rotation: Int, isUp: (Int) -> Bool, isLocal: (Int) -> Bool) -> [Int] {
        var out = [Int]()
        out.reserveCapacity(nodeCount)
        var taken = [Bool](repeating: false, count: nodeCount)
        func rotated(_ list: [Int]) -> [Int] {
            guard list.count > 1 else { return list }
            let k = Int(UInt(bitPattern: rotation) % UInt(list.count))
            return Array(list[k...] + list[..<k])
        }
        func take(_ list: [Int]) {
            for i in list where !taken[i] {
                taken[i] = true
                out.append(i)
            }
        }
        if let replicas {
            let valid = replicas.filter { $0 >= 0 && $0 < nodeCount }
            take(rotated(valid.filter { isUp($0) && isLocal($0) }))
            take(valid.filter { isUp($0) && !isLocal($0) })
        }
        let others = (0 ..< nodeCount).filter { !taken[$0] && isUp($0) }
        take(rotated(others.filter(isLocal)))
        take(rotated(others.filter { !isLocal($0) }))
        take((0 ..< nodeCount).filter { !taken[$0] })
        return out
    }
}
