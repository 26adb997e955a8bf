import BasaltCore

extension HNSWGraph {
    /// The layout ``write(to:)`` uses for a file of this version, and the newest one.
    ///
    /// - 1: header, levels, vectors, ground links, upper links, deletion marks.
    /// - 2: the same header followed by the quantisation settings and quantiser, then levels,
    ///   codes and corrections (when trained), ground links, upper links, deletion marks, and last
    ///   the float vectors, starting at a multiple of 64 bytes so that a mapped file can serve
    ///   them in place.
    public static let formatVersion: UInt16 = 2
    /// The versions ``read(from:)`` accepts: a file of version 1 reads as a float graph.
    public static let readableFormatVersions: ClosedRange<UInt16> = 1 ... 2

    /// Appends the whole graph to `file` in the layout of `file.version` (see ``formatVersion``),
    /// in the host's (little-endian) layout so that loading is a copy. A quantised graph needs
    /// version 2.
    public func write(to file: IndexFileWriter) throws(VectorError) {
        lock.readLock()
        defer { lock.unlock() }
        let layout = file.version
        precondition(layout >= 2 || parameters.quantization == .none, "a quantised graph needs index file format 2, not \(layout)")
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
            if layout >= 2 {
                file.write(UInt8(VectorQuantization.allCases.firstIndex(of: parameters.quantization)!))
                file.write(UInt32(parameters.rerank))
                file.write(UInt32(parameters.quantizerTrainingSize))
                file.write(UInt8(quantizer == nil ? 0 : 1))
                if let quantizer {
                    file.write(quantizer.scale.bitPattern)
                    quantizer.offsets.withUnsafeBufferPointer { file.write($0.baseAddress!, count: dimension) }
                }
            }
            file.write(levels, count: nodeCount)
            try file.flushIfLarge()
            // In slices, so the write buffer stays small.
            let perSlice = 4096
            if layout < 2 { try writeVectors(to: file) }
            if let codes, let corrections {
                var start = 0
                while start < nodeCount {
                    let n = min(perSlice, nodeCount - start)
                    file.write(codes + start * dimension, count: n * dimension)
                    try file.flushIfLarge()
                    start += n
                }
                file.write(corrections, count: nodeCount)
            }
            var start = 0
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
            if layout >= 2 {
                file.pad(toMultipleOf: 64)
                try writeVectors(to: file)
            }
        }
    }

    /// Every node's float vector in id order, in slices (caller holds the lock).
    private func writeVectors(to file: IndexFileWriter) throws(VectorError) {
        var start = 0
        while start < nodeCount {
            // Never across the boundary between mapped and heap vectors.
            let stop = start < heapVectorBase ? min(heapVectorBase, start + 4096) : min(nodeCount, start + 4096)
            file.write(floatVector(UInt32(start)), count: (stop - start) * dimension)
            try file.flushIfLarge()
            start = stop
        }
    }

    /// Reads a graph written by ``write(to:)`` and checks that every link stays inside the graph,
    /// so a file that passes its checksum but was built wrong is refused rather than trusted.
    ///
    /// A quantised graph with a trained quantiser read from a mapped `file` leaves its float
    /// vectors in the file (``mappedBytes``) and holds the mapping; otherwise everything is copied.
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
        let count = Int(try file.read(UInt32.self, "node count"))
        let deletedCount = Int(try file.read(UInt32.self, "deleted count"))
        let entry = try file.read(UInt32.self, "entry point")
        let topLevel = Int(try file.read(Int32.self, "top level"))
        var quantization = VectorQuantization.none
        var rerank = HNSWParameters.defaultRerank, trainingSize = HNSWParameters.defaultQuantizerTrainingSize
        var quantizer: ScalarQuantizer?
        if file.version >= 2 {
            let q = Int(try file.read(UInt8.self, "quantization"))
            guard q < VectorQuantization.allCases.count else { throw file.damaged("unknown quantization \(q)") }
            quantization = VectorQuantization.allCases[q]
            rerank = Int(try file.read(UInt32.self, "rerank"))
            trainingSize = Int(try file.read(UInt32.self, "quantizer training size"))
            let trained = try file.read(UInt8.self, "quantizer present")
            guard trained <= 1, trained == 0 || quantization == .int8 else { throw file.damaged("quantizer flag \(trained) with \(quantization)") }
            if trained == 1 {
                let scale = Float(bitPattern: try file.read(UInt32.self, "quantizer scale"))
                guard dimension <= ScalarQuantizer.maximumDimension else { throw file.damaged("a quantiser for \(dimension) dimensions") }
                var offsets = [Float](repeating: 0, count: dimension)
                try offsets.withUnsafeMutableBufferPointer { (p) throws(VectorError) in try file.read(into: p.baseAddress!, count: dimension, "quantizer offsets") }
                guard let q = ScalarQuantizer(dimension: dimension, offsets: offsets, scale: scale) else {
                    throw file.damaged("quantizer with scale \(scale) or offsets that are not finite")
                }
                quantizer = q
            }
        }
        let parameters = HNSWParameters(m: m, efConstruction: efc, efSearch: efs, seed: seed,
                                        quantization: quantization, rerank: rerank, quantizerTrainingSize: trainingSize)
        guard parameters.m == m else { throw file.damaged("M \(m) out of range") }
        // Each node needs at least its vector and link slot: refuse counts the file cannot hold.
        let perNode = dimension * 4 + (1 + parameters.maxGroundLinks) * 4 + 1
        guard count <= file.remaining / perNode, deletedCount <= count, topLevel >= -1, topLevel <= 16,
              count == 0 ? topLevel == -1 : Int(entry) < count
        else { throw file.damaged("inconsistent header (count \(count), entry \(entry), top level \(topLevel))") }
        let g = HNSWGraph(dimension: dimension, similarity: VectorSimilarity.allCases[simIndex], parameters: parameters, capacity: max(count, 16))
        g.rng = SplitMix64(seed: rngState)  // resumes the level sequence where the writer left it
        try file.read(into: g.levels, count: count, "levels")
        if file.version < 2 { try file.read(into: g.vectors, count: count * dimension, "vectors") }
        if let quantizer {
            let codes = UnsafeMutablePointer<Int8>.allocate(capacity: g.capacity * dimension)
            let corrections = UnsafeMutablePointer<Float>.allocate(capacity: g.capacity)
            g.codes = codes
            g.corrections = corrections
            g.quantizer = quantizer
            try file.read(into: codes, count: count * dimension, "codes")
            try file.read(into: corrections, count: count, "corrections")
            for i in 0 ..< count where !corrections[i].isFinite { throw file.damaged("node \(i) has a correction that is not finite") }
        }
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
        if file.version >= 2 {
            try file.skipPadding(toMultipleOf: 64, "padding before the vectors")
            if quantizer != nil && file.isMapped && count > 0 {
                g.adoptMappedVectors(try file.borrow(Float.self, count: count * dimension, "vectors"), count: count, in: file.contents)
            } else {
                try file.read(into: g.vectors, count: count * dimension, "vectors")
            }
        }
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
