import BasaltCore
import BasaltVector

/// The vector index of one memtable or one SSTable: an HNSW graph whose node `i` is the row
/// `keys[i]`.
///
/// A memtable's segment is written to while it is searched: an overwrite of a row in the same
/// memtable marks the row's old node deleted before adding the new one. An SSTable's segment is
/// immutable and persisted beside the SSTable.
final class VectorSegment: @unchecked Sendable {
    // @unchecked: `keys` and `nodeOfKey` are guarded by `lock`; the graph synchronises itself.
    let graph: HNSWGraph
    private let lock = Lock()
    private var keys: [RowKey] = []
    /// The token of each node's partition, for searches limited to token ranges.
    private var tokens: [Int64] = []
    /// Only while the segment is written to (a memtable's).
    private var nodeOfKey: [RowKey: UInt32]?

    init(_ definition: VectorIndexDefinition, mutable: Bool, capacity: Int = 1024) {
        graph = HNSWGraph(dimension: definition.dimension, similarity: definition.similarity, parameters: definition.parameters, capacity: capacity)
        nodeOfKey = mutable ? [:] : nil
    }

    private init(graph: HNSWGraph, keys: [RowKey]) {
        self.graph = graph
        self.keys = keys
        tokens = keys.map { Murmur3.token($0.partitionKey).value }
    }

    var count: Int { lock.withLock { keys.count } }

    /// Indexes `vector` for `key`, replacing what this segment held for the key. Serialised with
    /// other writes to the segment by the table's write lock.
    func put(_ key: RowKey, _ vector: [Float]) throws(VectorError) {
        let node = try graph.insert(vector)
        let old: UInt32? = lock.withLock {
            precondition(Int(node) == keys.count, "segment keys out of step with the graph")
            keys.append(key)
            tokens.append(Murmur3.token(key.partitionKey).value)
            return nodeOfKey?.updateValue(node, forKey: key)
        }
        if let old { graph.markDeleted(old) }
    }

    /// Forgets what this segment held for `key` (its vector was deleted or set to null).
    func remove(_ key: RowKey) {
        if let old = lock.withLock({ nodeOfKey?.removeValue(forKey: key) }) { graph.markDeleted(old) }
    }

    /// Forgets every row of a partition (a partition deletion).
    func removePartition(_ partitionKey: [UInt8]) {
        let nodes: [UInt32] = lock.withLock {
            guard let map = nodeOfKey else { return [] }
            let gone = map.filter { $0.key.partitionKey == partitionKey }
            for k in gone.keys { nodeOfKey?.removeValue(forKey: k) }
            return Array(gone.values)
        }
        for n in nodes { graph.markDeleted(n) }
    }

    /// The row of each node.
    func key(_ node: UInt32) -> RowKey { lock.withLock { keys[Int(node)] } }

    /// The `k` nearest rows to `query` whose partition token `accepts` takes and whose key
    /// `acceptsKey` takes (all when nil); by comparing with every accepted vector when `exact`.
    func search(_ query: [Float], k: Int, ef: Int?, accepts: (@Sendable (Token) -> Bool)?,
                acceptsKey: (@Sendable (RowKey) -> Bool)? = nil, exact: Bool = false) throws(VectorError) -> [(RowKey, Float)] {
        let found: [Neighbor]
        if accepts != nil || acceptsKey != nil || exact {
            let (tokens, keys) = lock.withLock { (self.tokens, self.keys) }
            let filter = RowFilter(tokens: tokens, keys: keys, accepts: accepts, acceptsKey: acceptsKey)
            found = try query.withUnsafeBufferPointer { (q) throws(VectorError) in
                exact ? try graph.exactSearch(q, k: k, filter: filter) : try graph.search(q, k: k, ef: ef, filter: filter)
            }
        } else {
            found = try graph.search(query, k: k, ef: ef)
        }
        return lock.withLock { found.map { (keys[Int($0.id)], $0.distance) } }
    }

    // MARK: files

    static let magic = "BVSG"
    static let version: UInt16 = 1

    /// Writes the segment to `path` (crash-safe replace).
    func write(to path: String, indexName: String) throws(VectorError) {
        let file = try IndexFileWriter(path: path, magic: Self.magic, version: Self.version)
        do {
            let name = Array(indexName.utf8)
            file.write(UInt32(name.count))
            file.write(name)
            try graph.write(to: file)
            let snapshot = lock.withLock { keys }
            file.write(UInt32(snapshot.count))
            var w = ByteWriter(capacity: 1 << 16)
            for k in snapshot {
                k.write(to: &w)
                if w.count >= 1 << 16 {
                    file.write(w.bytes)
                    w.removeAll(keepingCapacity: true)
                    try file.flushIfLarge()
                }
            }
            file.write(w.bytes)
            try file.finish()
        } catch {
            file.abandon()
            throw error
        }
    }

    /// Reads a segment written by ``write(to:indexName:)``, checking it belongs to `definition`.
    static func read(from path: String, definition: VectorIndexDefinition) throws(VectorError) -> VectorSegment {
        let file = try IndexFileReader(path: path, magic: magic, supportedVersions: 1 ... version)
        let nameLength = Int(try file.read(UInt32.self, "index name length"))
        guard nameLength <= file.remaining else { throw file.damaged("index name runs past the end") }
        let name = String(decoding: try file.readBytes(nameLength, "index name"), as: UTF8.self)
        guard name == definition.name else { throw file.damaged("holds index \(name), not \(definition.name)") }
        let graph = try HNSWGraph.read(from: file)
        guard graph.dimension == definition.dimension, graph.similarity == definition.similarity else {
            throw file.damaged("holds \(graph.dimension)-dimension \(graph.similarity) vectors, the index wants \(definition.dimension)-dimension \(definition.similarity)")
        }
        let count = Int(try file.read(UInt32.self, "key count"))
        guard count == graph.count else { throw file.damaged("\(count) keys for \(graph.count) vectors") }
        var r = ByteReader(try file.readBytes(file.remaining, "keys"))
        var keys: [RowKey] = []
        keys.reserveCapacity(count)
        do {
            for _ in 0 ..< count { keys.append(try RowKey.read(from: &r)) }
        } catch {
            throw file.damaged("keys: \(error)")
        }
        return VectorSegment(graph: graph, keys: keys)
    }
}

/// Accepts the nodes whose partition token is in the ranges a request covers and whose row
/// the query's other index restrictions allow.
struct RowFilter: NodeFilter {
    let tokens: [Int64]
    let keys: [RowKey]
    let accepts: (@Sendable (Token) -> Bool)?
    let acceptsKey: (@Sendable (RowKey) -> Bool)?

    func accepts(_ node: UInt32) -> Bool {
        let n = Int(node)
        guard n < tokens.count, n < keys.count else { return false }
        if let accepts, !accepts(Token(tokens[n])) { return false }
        if let acceptsKey, !acceptsKey(keys[n]) { return false }
        return true
    }
}
