extension HNSWGraph {
    /// A new graph of the live nodes only, inserted in id order with the same parameters, and for
    /// each new node the id it had here. Marked-deleted nodes keep the graph navigable but cost
    /// distance computations on every search that passes them; rebuilding drops them.
    public func compacted() -> (graph: HNSWGraph, oldIds: [UInt32]) {
        let live: [UInt32] = lock.withReadLock { (0 ..< UInt32(nodeCount)).filter { !isDeleted($0) } }
        let g = HNSWGraph(dimension: dimension, similarity: similarity, parameters: parameters, capacity: max(live.count, 16))
        var vector = [Float](repeating: 0, count: dimension)
        for old in live {
            lock.withReadLock { vector.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: self.vector(old), count: dimension) } }
            // Stored vectors were validated when they were first inserted.
            _ = try? g.insert(vector)
        }
        return (g, live)
    }
}
