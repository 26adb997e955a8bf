import BasaltCore

/// A node reached by a search and its distance to the query.
public struct Neighbor: Hashable, Sendable {
    public var id: UInt32
    public var distance: Float

    @inlinable
    public init(id: UInt32, distance: Float) {
        self.id = id
        self.distance = distance
    }
}

/// Which end of a ``CandidateHeap`` is on top.
@usableFromInline
protocol HeapOrder {
    /// Whether `a` belongs above `b`.
    static func above(_ a: Float, _ b: Float) -> Bool
}

/// The closest candidate on top: the search frontier.
@usableFromInline
enum ClosestFirst: HeapOrder {
    @inlinable @inline(__always) static func above(_ a: Float, _ b: Float) -> Bool { a < b }
}

/// The farthest result on top: the bounded result set, whose top is evicted first.
@usableFromInline
enum FarthestFirst: HeapOrder {
    @inlinable @inline(__always) static func above(_ a: Float, _ b: Float) -> Bool { a > b }
}

/// A binary heap of neighbours in one growable contiguous buffer, reused from search to search.
@usableFromInline
struct CandidateHeap<Order: HeapOrder> {
    @usableFromInline var items: UnsafeMutablePointer<Neighbor>
    @usableFromInline var capacity: Int
    @usableFromInline var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        items = .allocate(capacity: self.capacity)
    }

    func free() { items.deallocate() }

    @inlinable var isEmpty: Bool { count == 0 }
    @inlinable var top: Neighbor { items[0] }

    @inlinable @inline(__always)
    mutating func removeAll() { count = 0 }

    @inlinable
    mutating func push(_ n: Neighbor) {
        if count == capacity { grow() }
        var i = count
        count &+= 1
        while i > 0 {
            let parent = (i &- 1) >> 1
            guard Order.above(n.distance, items[parent].distance) else { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = n
    }

    @inlinable
    @discardableResult
    mutating func pop() -> Neighbor {
        let result = items[0]
        count &-= 1
        guard count > 0 else { return result }
        let last = items[count]
        var i = 0
        while true {
            let l = 2 &* i &+ 1
            if l >= count { break }
            let r = l &+ 1
            let c = r < count && Order.above(items[r].distance, items[l].distance) ? r : l
            guard Order.above(items[c].distance, last.distance) else { break }
            items[i] = items[c]
            i = c
        }
        items[i] = last
        return result
    }

    @usableFromInline
    mutating func grow() {
        let bigger = UnsafeMutablePointer<Neighbor>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: items, count: count)
        items.deallocate()
        items = bigger
        capacity *= 2
    }
}

/// Marks of the nodes one search has visited: a tag per node equal to the search's epoch when
/// visited, so starting a new search is one increment, not a clear.
@usableFromInline
struct VisitedMarks {
    @usableFromInline var tags: UnsafeMutablePointer<UInt16>
    @usableFromInline var capacity: Int
    @usableFromInline var epoch: UInt16 = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1024)
        tags = .allocate(capacity: self.capacity)
        tags.initialize(repeating: 0, count: self.capacity)
    }

    func free() { tags.deallocate() }

    /// Starts a search over `nodes` nodes.
    @usableFromInline
    mutating func reset(nodes: Int) {
        if nodes > capacity {
            tags.deallocate()
            capacity = max(nodes, capacity * 2)
            tags = .allocate(capacity: capacity)
            tags.initialize(repeating: 0, count: capacity)
            epoch = 0
        }
        epoch &+= 1
        if epoch == 0 {
            tags.update(repeating: 0, count: capacity)
            epoch = 1
        }
    }

    /// Marks `node`; returns whether it was already marked in this search.
    @inlinable @inline(__always)
    mutating func testAndSet(_ node: UInt32) -> Bool {
        let p = tags + Int(node)
        if p.pointee == epoch { return true }
        p.pointee = epoch
        return false
    }
}

/// Everything one search needs besides the graph, kept in a pool so a search allocates nothing.
@usableFromInline
final class SearchScratch {
    @usableFromInline var visited: VisitedMarks
    @usableFromInline var frontier: CandidateHeap<ClosestFirst>
    @usableFromInline var results: CandidateHeap<FarthestFirst>
    /// The query as the graph stores vectors (normalised for cosine).
    @usableFromInline var query: UnsafeMutablePointer<Float>
    /// The query's int8 codes, for a quantised graph.
    @usableFromInline var queryCodes: UnsafeMutablePointer<Int8>
    /// The unvisited neighbours of the node being expanded (at most 2 · M ≤ 256).
    @usableFromInline let batch: UnsafeMutablePointer<UInt32>
    @usableFromInline let dimension: Int

    init(dimension: Int, nodes: Int) {
        self.dimension = dimension
        visited = VisitedMarks(capacity: nodes)
        frontier = CandidateHeap(capacity: 256)
        results = CandidateHeap(capacity: 256)
        query = .allocate(capacity: max(dimension, 1))
        queryCodes = .allocate(capacity: max(dimension, 1))
        batch = .allocate(capacity: 256)
    }

    deinit {
        visited.free()
        frontier.free()
        results.free()
        query.deallocate()
        queryCodes.deallocate()
        batch.deallocate()
    }
}

/// A small stack of ``SearchScratch`` values shared by the threads searching one graph.
final class ScratchPool: @unchecked Sendable {
    // @unchecked: `free` is only touched under `lock`; a scratch is used by one thread at a time
    // (taken out of the pool for the duration of a search).
    private let lock = Lock()
    private var free: [SearchScratch] = []
    private let dimension: Int

    init(dimension: Int) { self.dimension = dimension }

    func take(nodes: Int) -> SearchScratch {
        let s = lock.withLock { free.popLast() } ?? SearchScratch(dimension: dimension, nodes: nodes)
        return s
    }

    func give(_ s: SearchScratch) {
        lock.withLock { if free.count < 64 { free.append(s) } }
    }
}
