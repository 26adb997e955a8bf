import BasaltCore

extension HNSWGraph {
    /// Appends the whole graph to `file`: parameters, levels, vectors, ground links, upper links
    /// and deletion marks, in the host's (little-endian) layout so that loading is a copy.
    public func write(to file: IndexFileWriter) throws(VectorError) {
        lock.readLock()
        defer { lock.unlock() }
        do {
            file.write(UInt32(dimension))
            file.write(UInt8(VectorSimilarity.allCases.firstIndex(of: similarity)!))
            file.write(UInt32(parameters.m))
            file.write(UInt32(parameters.efConstruction))
            file.write(UInt32(parameters.efSearch))
            file.write(parameters.seed)
            file.write(rng.state)
            file.write(UInt32(nodeCount))
            file.write(UInt32(deletedCount))
            file.write(entryPoint)
            file.write(Int32(topLevel))
            file.write(levels, count: nodeCount)
            try file.flushIfLarge()
            // In slices, so the write buffer stays small.
            let perSlice = 4096
            var start = 0
            while start < nodeCount {
                let n = min(perSlice, nodeCount - start)
                file.write(vectors + start * dimension, count: n * dimension)
                try file.flushIfLarge()
                start += n
            }
            start = 0
            while start < nodeCount {
                let n = min(perSlice, nodeCount - start)
                file.write(groundLinks + start * groundSlot, count: n * groundSlot)
                try file.flushIfLarge()
                start += n
            }
            file.write(UInt32(upperOffsets.count))
            for (node, offset) in upperOffsets.sorted(by: { $0.key < $1.key }) {
                file.write(node)
                file.write(UInt32(offset))
            }
            file.write(UInt32(upperUsed))
            file.write(upperLinks, count: upperUsed)
            file.write(deleted, count: nodeCount / 64 + 1)
            try file.flushIfLarge()
        }
    }

    /// Reads a graph written by ``write(to:)`` and checks that every link stays inside the graph,
    /// so a file that passes its checksum but was built wrong is refused rather than trusted.
    public static func read(from file: IndexFileReader) throws(VectorError) -> HNSWGraph {
        let dimension = Int(try file.read(UInt32.self, "dimension"))
        let simIndex = Int(try file.read(UInt8.self, "similarity"))
        guard dimension > 0, dimension <= 1 << 16, simIndex < VectorSimilarity.allCases.count else {
            throw file.damaged("bad header (dimension \(dimension), similarity \(simIndex))")
        }
        let m = Int(try file.read(UInt32.self, "M"))
        let efc = Int(try file.read(UInt32.self, "ef_construction"))
        let efs = Int(try file.read(UInt32.self, "ef_search"))
        let seed = try file.read(UInt64.self, "seed")
        let rngState = try file.read(UInt64.self, "level generator")
        let parameters = HNSWParameters(m: m, efConstruction: efc, efSearch: efs, seed: seed)
        guard parameters.m == m else { throw file.damaged("M \(m) out of range") }
        let count = Int(try file.read(UInt32.self, "node count"))
        let deletedCount = Int(try file.read(UInt32.self, "deleted count"))
        let entry = try file.read(UInt32.self, "entry point")
        let topLevel = Int(try file.read(Int32.self, "top level"))
        // Each node needs at least its vector and link slot: refuse counts the file cannot hold.
        let perNode = dimension * 4 + (1 + parameters.maxGroundLinks) * 4 + 1
        guard count <= file.remaining / perNode, deletedCount <= count, topLevel >= -1, topLevel <= 16,
              count == 0 ? topLevel == -1 : Int(entry) < count
        else { throw file.damaged("inconsistent header (count \(count), entry \(entry), top level \(topLevel))") }
        let g = HNSWGraph(dimension: dimension, similarity: VectorSimilarity.allCases[simIndex], parameters: parameters, capacity: max(count, 16))
        g.rng = SplitMix64(seed: rngState)  // resumes the level sequence where the writer left it
        try file.read(into: g.levels, count: count, "levels")
        try file.read(into: g.vectors, count: count * dimension, "vectors")
        try file.read(into: g.groundLinks, count: count * g.groundSlot, "ground links")
        let uppers = Int(try file.read(UInt32.self, "upper node count"))
        guard uppers <= count else { throw file.damaged("\(uppers) upper nodes for \(count) nodes") }
        var offsets: [UInt32: Int] = [:]
        for _ in 0 ..< uppers {
            let node = try file.read(UInt32.self, "upper node")
            let offset = Int(try file.read(UInt32.self, "upper offset"))
            offsets[node] = offset
        }
        let used = Int(try file.read(UInt32.self, "upper links size"))
        guard used <= file.remaining / 4 else { throw file.damaged("upper links run past the end") }
        if used > g.upperCapacity {
            g.upperLinks.deallocate()
            g.upperLinks = .allocate(capacity: used)
            g.upperCapacity = used
        }
        try file.read(into: g.upperLinks, count: used, "upper links")
        try file.read(into: g.deleted, count: count / 64 + 1, "deletion marks")
        g.upperOffsets = offsets
        g.upperUsed = used
        g.nodeCount = count
        g.deletedCount = deletedCount
        g.entryPoint = entry
        g.topLevel = topLevel
        try g.checkStructure(file)
        return g
    }

    /// Every link count within its slot, every linked id a node, every upper-layer node's slots
    /// inside the pool, the entry point on the top layer.
    private func checkStructure(_ file: IndexFileReader) throws(VectorError) {
        let n = UInt32(nodeCount)
        var deletions = 0
        for node in 0 ..< n {
            let level = Int(levels[Int(node)])
            guard level <= max(topLevel, 0) else { throw file.damaged("node \(node) on level \(level) above the top \(topLevel)") }
            if level > 0 {
                guard let offset = upperOffsets[node], offset + level * upperSlot <= upperUsed else {
                    throw file.damaged("node \(node) has no upper links")
                }
            }
            for l in 0 ... level {
                let slot = links(node, level: l)
                let c = Int(slot[0])
                guard c <= (l == 0 ? groundSlot : upperSlot) - 1 else { throw file.damaged("node \(node) has \(c) links on level \(l)") }
                for j in 1 ... max(c, 1) where c > 0 {
                    guard slot[j] < n else { throw file.damaged("node \(node) links to \(slot[j]) of \(n)") }
                }
            }
            if isDeleted(node) { deletions += 1 }
        }
        guard deletions == deletedCount else { throw file.damaged("\(deletions) deletion marks, header says \(deletedCount)") }
        if nodeCount > 0, Int(levels[Int(entryPoint)]) != topLevel { throw file.damaged("entry point is not on the top level") }
    }
}
