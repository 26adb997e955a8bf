extension HNSWGraph {
    /// A new graph of the live nodes only, inserted in id order with the same parameters, and for
    /// each new node the id it had here. Marked-deleted nodes keep the graph navigable but cost
    /// distance computations on every search that passes them; rebuilding drops them.
    ///
    /// A quantised graph with at least ``HNSWParameters/quantizerTrainingSize`` live nodes gets a
    /// quantiser freshly trained on all of them, so data that arrived outside the old quantiser's
    /// range (and was clamped) is encoded within range again. The new graph holds its float
    /// vectors in the heap until it is written and read back mapped.
    public func compacted() -> (graph: HNSWGraph, oldIds: [UInt32]) {
        let (live, quantizer) = lock.withReadLock { () -> ([UInt32], ScalarQuantizer?) in
            let live = (0 ..< UInt32(nodeCount)).filter { !isDeleted($0) }
            guard quantizesWalks, live.count >= parameters.quantizerTrainingSize else { return (live, nil) }
            var trainer = ScalarQuantizer.Trainer(dimension: dimension)
            for node in live { trainer.add(floatVector(node)) }
            return (live, trainer.quantizer())
        }
        let g = HNSWGraph(dimension: dimension, similarity: similarity, parameters: parameters, capacity: max(live.count, 16), quantizer: quantizer)
        var vector = [Float](repeating: 0, count: dimension)
        for old in live {
            lock.withReadLock { vector.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: floatVector(old), count: dimension) } }
            // Stored vectors were validated when they were first inserted.
            _ = try? g.insert(vector)
        }
        return (g, live)
    }
}
