import BasaltCore

/// The orders a table's data is kept in: clustering prefixes (per-column ASC/DESC), bounds of
/// clustering ranges, and cells within a row (by column name, then collection path in the column
/// element type's order).
///
/// Built once per table from its ``TableSchema``; cheap to copy.
public struct ClusteringComparator: Sendable {
    @usableFromInline let types: [CQLType]
    @usableFromInline let descending: [Bool]
    /// For multi-cell columns, the type whose order their cell paths follow.
    @usableFromInline let pathTypes: [String: CQLType]

    public init(_ schema: TableSchema) {
        types = schema.clustering.map(\.type)
        descending = schema.clustering.map(\.isDescending)
        var p: [String: CQLType] = [:]
        for c in schema.regular where c.type.isMultiCell {
            switch c.type {
            case .list: p[c.name] = .timeuuid
            case let .set(e): p[c.name] = e
            case let .map(k, _): p[c.name] = k
            default: break
            }
        }
        pathTypes = p
    }

    /// Number of clustering columns.
    public var clusteringCount: Int { types.count }

    /// Orders two clustering prefixes; a shorter prefix that matches sorts first.
    @inlinable
    public func compare(_ a: [[UInt8]], _ b: [[UInt8]]) -> Int {
        let c = compareCommon(a, b)
        if c != 0 { return c }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// Compares a clustering with a bound's prefix: equal when `a` begins with `b`.
    @inlinable
    func comparePrefix(_ a: [[UInt8]], _ b: [[UInt8]]) -> Int {
        let c = compareCommon(a, b)
        if c != 0 { return c }
        return a.count >= b.count ? 0 : -1
    }

    /// Orders the components the two have in common (0 when those are equal).
    @inlinable
    func compareCommon(_ a: [[UInt8]], _ b: [[UInt8]]) -> Int {
        let n = Swift.min(a.count, b.count)
        var i = 0
        while i < n {
            let c = i < types.count ? types[i].compare(a[i], b[i]) : compareBytes(a[i], b[i])
            if c != 0 { return i < descending.count && descending[i] ? -c : c }
            i += 1
        }
        return 0
    }

    /// Whether the row `clustering` lies at or after the start bound.
    @inlinable
    public func isAfter(_ clustering: [[UInt8]], start: ClusteringBound) -> Bool {
        if start.prefix.isEmpty { return true }
        let c = comparePrefix(clustering, start.prefix)
        return c > 0 || (c == 0 && start.isInclusive)
    }

    /// Whether the row `clustering` lies at or before the end bound.
    @inlinable
    public func isBefore(_ clustering: [[UInt8]], end: ClusteringBound) -> Bool {
        if end.prefix.isEmpty { return true }
        let c = comparePrefix(clustering, end.prefix)
        return c < 0 || (c == 0 && end.isInclusive)
    }

    @inlinable
    public func contains(_ slice: ClusteringSlice, _ clustering: [[UInt8]]) -> Bool {
        isAfter(clustering, start: slice.start) && isBefore(clustering, end: slice.end)
    }

    /// Where a bound sits among clusterings: -1 just before the rows with its prefix, +1 just after.
    @inlinable
    func side(_ b: ClusteringBound, isStart: Bool) -> Int {
        if b.prefix.isEmpty { return isStart ? -1 : 1 }
        return (isStart == b.isInclusive) ? -1 : 1
    }

    /// Orders two bounds as positions between clusterings (`aIsStart` says how to read `a`).
    @inlinable
    public func compareBounds(_ a: ClusteringBound, aIsStart: Bool, _ b: ClusteringBound, bIsStart: Bool) -> Int {
        // Unbounded ends: an empty start is -infinity, an empty end +infinity.
        if a.prefix.isEmpty || b.prefix.isEmpty {
            let va = a.prefix.isEmpty ? (aIsStart ? -1 : 1) : 0
            let vb = b.prefix.isEmpty ? (bIsStart ? -1 : 1) : 0
            return va == vb ? 0 : (va < vb ? -1 : 1)
        }
        let common = compareCommon(a.prefix, b.prefix)
        if common != 0 { return common }
        let sa = side(a, isStart: aIsStart), sb = side(b, isStart: bIsStart)
        if a.prefix.count == b.prefix.count { return sa == sb ? 0 : (sa < sb ? -1 : 1) }
        // The shorter prefix's bound lies outside all rows of the longer one.
        return a.prefix.count < b.prefix.count ? sa : -sb
    }

    /// Whether two clustering ranges share at least one possible row.
    @inlinable
    public func overlaps(_ a: ClusteringSlice, _ b: ClusteringSlice) -> Bool {
        compareBounds(a.start, aIsStart: true, b.end, bIsStart: false) < 0
            && compareBounds(b.start, aIsStart: true, a.end, bIsStart: false) < 0
    }

    /// Orders two cell paths of `column` (collection element order; unsigned bytes otherwise).
    @inlinable
    public func comparePaths(column: String, _ a: [UInt8]?, _ b: [UInt8]?) -> Int {
        switch (a, b) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case let (x?, y?):
            if let t = pathTypes[column] { return t.compare(x, y) }
            return compareBytes(x, y)
        }
    }

    /// Orders cells within a row: column name (UTF-8 bytes), then path.
    @inlinable
    public func compareCells(_ a: Cell, _ b: Cell) -> Int {
        if a.column != b.column { return a.column.utf8.lexicographicallyPrecedes(b.column.utf8) ? -1 : 1 }
        if a.path == nil && b.path == nil { return 0 }
        return comparePaths(column: a.column, a.path, b.path)
    }
}
