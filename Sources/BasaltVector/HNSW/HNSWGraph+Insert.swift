#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HNSWGraph {
    /// Adds `vector` as a new node and returns its id (ids are dense, in insertion order).
    ///
    /// Algorithm 1 (INSERT) of the paper: a random level drawn with mL = 1/ln M, greedy descent to
    /// that level, then on each layer from there down a search with ef_construction whose result
    /// is thinned by the neighbour-selection heuristic (Algorithm 4) and linked both ways; a
    /// neighbour whose list overflows is thinned by the same heuristic.
    ///
    /// In a quantised graph the new node is encoded as it is appended and its links are chosen by
    /// code distances; the insert that reaches ``HNSWParameters/quantizerTrainingSize`` trains the
    /// quantiser first (see HNSWGraph+Quantization.swift).
    @discardableResult
    public func insert(_ vector: UnsafeBufferPointer<Float>) throws(VectorError) -> UInt32 {
        try similarity.validate(vector, dimension: dimension)
        insertLock.lock()
        defer { insertLock.unlock() }
        let level = randomLevel()
        let node: UInt32 = lock.withWriteLock {
            reserve(nodeCount + 1)
            let node = UInt32(nodeCount)
            prepare(vector.baseAddress!, into: heapVector(node))
            levels[Int(node)] = UInt8(level)
            (groundLinks + Int(node) * groundSlot).pointee = 0
            allocateUpperLinks(node, level: level)
            nodeCount += 1
            encodeNewNode(node)
            trainQuantizerIfDue()
            return node
        }
        if node == 0 {
            lock.withWriteLock {
                entryPoint = 0
                topLevel = level
            }
            return node
        }
        // Find the neighbours and every neighbour's new list under the shared lock: searches go on.
        let plan: [LayerLinks] = lock.withReadLock {
            if let quantizer, let codes, let corrections {
                let q = UnsafePointer(codes + Int(node) * dimension)
                switch similarity {
                case .euclidean:
                    return planLinks(CodeEuclideanSpace(codes: codes, dimension: dimension, query: q, scale: quantizer.scale), node, level: level)
                case .dotProduct, .cosine:
                    let space = CodeDotSpace(codes: codes, corrections: corrections, dimension: dimension,
                                             query: q, queryCorrection: corrections[Int(node)], quantizer: quantizer)
                    return planLinks(space, node, level: level)
                }
            }
            let q = UnsafePointer(heapVector(node))
            switch similarity {
            case .euclidean: return planLinks(FloatSpace<SquaredEuclideanDistance>(vectors: vectors, dimension: dimension, query: q), node, level: level)
            case .dotProduct, .cosine: return planLinks(FloatSpace<NegativeDotDistance>(vectors: vectors, dimension: dimension, query: q), node, level: level)
            }
        }
        lock.withWriteLock {
            for layer in plan {
                write(layer.own, to: links(node, level: layer.level))
                for (neighbour, list) in layer.neighbours { write(list, to: links(neighbour, level: layer.level)) }
            }
            if level > topLevel {
                entryPoint = node
                topLevel = level
            }
        }
        return node
    }

    /// ``insert(_:)`` from an array.
    @discardableResult
    public func insert(_ vector: [Float]) throws(VectorError) -> UInt32 {
        try vector.withUnsafeBufferPointer { (v) throws(VectorError) in try insert(v) }
    }

    /// The links one insert sets on one layer: the new node's own list and the new lists of the
    /// neighbours it joins.
    struct LayerLinks {
        var level: Int
        var own: [UInt32]
        var neighbours: [(UInt32, [UInt32])]
    }

    func write(_ list: [UInt32], to slot: UnsafeMutablePointer<UInt32>) {
        slot[0] = UInt32(list.count)
        for (i, id) in list.enumerated() { slot[i + 1] = id }
    }

    /// mL · (−ln U), U uniform in (0, 1], capped so a node never has more than 16 layers.
    func randomLevel() -> Int {
        let u = 1 - rng.nextUnit()
        return min(Int(-log(u) * parameters.levelMultiplier), 16)
    }

    /// The search half of an insert, with `space`'s query being `node` itself (caller holds the
    /// shared lock and `insertLock`).
    func planLinks<S: GraphSpace>(_ space: S, _ node: UInt32, level: Int) -> [LayerLinks] {
        let scratch = pool.take(nodes: nodeCount)
        defer { pool.give(scratch) }
        var entry = Neighbor(id: entryPoint, distance: space.toQuery(entryPoint))
        var l = topLevel
        while l > level {
            entry = greedyClosest(space, from: entry, level: l)
            l -= 1
        }
        var plan: [LayerLinks] = []
        var candidates: [Neighbor] = []
        l = min(level, topLevel)
        while l >= 0 {
            searchLayer(space, entry: entry, ef: parameters.efConstruction, level: l, filter: AcceptAllNodes(), excludeDeleted: false, scratch: scratch)
            candidates.removeAll(keepingCapacity: true)
            while !scratch.results.isEmpty { candidates.append(scratch.results.pop()) }
            candidates.reverse()  // closest first
            entry = candidates[0]
            let own = selectNeighbours(space, candidates, limit: parameters.m)
            let limit = l == 0 ? parameters.maxGroundLinks : parameters.m
            var layer = LayerLinks(level: l, own: own, neighbours: [])
            for n in own {
                let slot = links(n, level: l)
                let count = Int(slot[0])
                var list = Array(UnsafeBufferPointer(start: slot + 1, count: count))
                if count < limit {
                    list.append(node)
                } else {
                    var pool = list.map { Neighbor(id: $0, distance: space.between(n, $0)) }
                    pool.append(Neighbor(id: node, distance: space.between(n, node)))
                    pool.sort { $0.distance < $1.distance }
                    list = selectNeighbours(space, pool, limit: limit)
                }
                layer.neighbours.append((n, list))
            }
            plan.append(layer)
            l -= 1
        }
        return plan
    }

    /// Algorithm 4 (SELECT-NEIGHBORS-HEURISTIC) without extending or keeping pruned candidates:
    /// from `candidates` (closest to the base first), keep one only when it is closer to the base
    /// than to every candidate already kept, so links spread in all directions (§4, Fig. 2).
    func selectNeighbours<S: GraphSpace>(_ space: S, _ candidates: [Neighbor], limit: Int) -> [UInt32] {
        if candidates.count <= limit { return candidates.map(\.id) }
        var kept: [UInt32] = []
        kept.reserveCapacity(limit)
        for c in candidates {
            var good = true
            for k in kept where space.between(c.id, k) < c.distance {
                good = false
                break
            }
            if good {
                kept.append(c.id)
                if kept.count == limit { break }
            }
        }
        return kept
    }
}
