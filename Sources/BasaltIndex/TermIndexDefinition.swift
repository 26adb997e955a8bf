import BasaltCluster
import BasaltCore
import BasaltStorage

/// A storage-attached index on anything but a vector: which column, what of it (the value, a
/// collection's elements, keys or entries, a frozen value whole), how text is analysed. (The CQL
/// layer turns its `CREATE CUSTOM INDEX … USING 'StorageAttachedIndex'` into this.)
///
/// A term belongs to a row, or — for a partition-key component or a static column — to the
/// whole partition (its key then has an empty clustering).
public struct TermIndexDefinition: Hashable, Sendable {
    public enum Target: UInt8, Hashable, Sendable {
        /// The column's value (a scalar, a tuple, a frozen value).
        case value = 0
        /// A non-frozen map's keys.
        case keys = 1
        /// A non-frozen list's or set's elements, or a map's values.
        case values = 2
        /// A non-frozen map's (key, value) entries.
        case entries = 3
        /// A frozen collection as a whole.
        case full = 4
    }

    public var name: String
    public var column: ColumnDefinition
    public var target: Target
    public var analysis: TermAnalysis
    /// Components of the table's partition key (to split a composite key).
    public var partitionKeyCount: Int

    public init(name: String, column: ColumnDefinition, target: Target, analysis: TermAnalysis = .none, partitionKeyCount: Int = 1) {
        self.name = name
        self.column = column
        self.target = target
        self.analysis = analysis
        self.partitionKeyCount = partitionKeyCount
    }

    /// Whether terms belong to whole partitions (partition-key components and static columns).
    public var isPartitionLevel: Bool { column.kind == .partitionKey || column.kind == .static }

    /// The file of this index beside SSTable `generation` in `directory`.
    func segmentPath(directory: String, generation: Int) -> String {
        "\(directory)/bs-\(generation)-TermIndex-\(fileSafeName).db"
    }

    var fileSafeName: String {
        let plain = name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
        return plain ? name : "x" + name.utf8.map { String($0, radix: 16) }.joined()
    }

    // MARK: terms

    /// The CQL type of single terms (for entries: the map's key type).
    var termType: CQLType {
        switch (target, column.type.unfrozen) {
        case let (.values, .list(e)), let (.values, .set(e)), let (.values, .map(_, e)), let (.keys, .map(e, _)), let (.entries, .map(e, _)): e
        default: column.type
        }
    }

    var entryValueType: CQLType {
        if case let .map(_, v) = column.type.unfrozen { return v }
        return column.type
    }

    /// Orders terms: the term type's CQL order; entries by key, then value; analysed text by bytes.
    func compareTerms(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if target == .entries {
            guard let (ka, va) = Self.splitEntry(a), let (kb, vb) = Self.splitEntry(b) else { return CQLType.blob.compare(a, b) }
            let c = termType.compare(ka, kb)
            return c != 0 ? c : entryValueType.compare(va, vb)
        }
        return termType.compare(a, b)
    }

    /// An entries term: the key's length (4 bytes, big-endian), the key, the value.
    static func entryTerm(key: [UInt8], value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + key.count + value.count)
        let n = UInt32(key.count)
        out += [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
        out += key
        out += value
        return out
    }

    static func splitEntry(_ t: [UInt8]) -> ([UInt8], [UInt8])? {
        guard t.count >= 4 else { return nil }
        let n = Int(t[0]) << 24 | Int(t[1]) << 16 | Int(t[2]) << 8 | Int(t[3])
        guard n <= t.count - 4 else { return nil }
        return (Array(t[4 ..< 4 + n]), Array(t[(4 + n)...]))
    }

    /// A stored or queried value as a term (text analysed when the index says so).
    func term(_ value: [UInt8]) -> [UInt8] {
        switch termType.unfrozen {
        case .text, .ascii: analysis.apply(value)
        default: value
        }
    }

    /// The terms one row holds: from the partition key (`components`), the row's clustering, or
    /// its cells of the column (live ones; for a static column, the static row's cells).
    func terms<C: TermCell>(components: [[UInt8]]?, clustering: [[UInt8]], cells: [C]) -> [[UInt8]] {
        switch column.kind {
        case .partitionKey:
            guard let components, column.position < components.count else { return [] }
            return [term(components[column.position])]
        case .clustering:
            guard column.position < clustering.count else { return [] }
            return [term(clustering[column.position])]
        case .regular, .static:
            var out: [[UInt8]] = []
            for c in cells where c.column == column.name && !c.isDeletion {
                switch target {
                case .value, .full: if c.path == nil { out.append(term(c.value)) }
                case .keys: if let p = c.path { out.append(term(p)) }
                case .values:
                    guard let p = c.path else { continue }
                    if case .set = column.type.unfrozen { out.append(term(p)) } else { out.append(term(c.value)) }
                case .entries: if let p = c.path { out.append(Self.entryTerm(key: p, value: c.value)) }
                }
            }
            return out
        }
    }

    /// The partition-key components of `key`, split as the table builds composite keys.
    func components(_ key: [UInt8]) -> [[UInt8]]? {
        guard column.kind == .partitionKey else { return nil }
        if partitionKeyCount == 1 { return [key] }
        var r = ByteReader(key)
        var out: [[UInt8]] = []
        for _ in 0 ..< partitionKeyCount {
            guard let n = try? r.readUInt16(), let b = try? r.readBytes(Int(n)), (try? r.readUInt8()) == 0 else { return nil }
            out.append(b)
        }
        return r.isAtEnd ? out : nil
    }

    // MARK: predicates

    /// The terms a predicate matches: one term, or a range of terms.
    func span(_ p: IndexTermRestriction.Predicate) -> TermSpan {
        switch p {
        case let .equals(v), let .contains(v), let .containsKey(v): return .exact(term(v))
        case let .entry(k, v): return .exact(Self.entryTerm(key: k, value: v))
        case let .range(lo, loInc, hi, hiInc):
            return .range(lower: lo.map { (term($0), loInc) }, upper: hi.map { (term($0), hiInc) })
        }
    }

    /// Whether a term lies in the span.
    func contains(_ span: TermSpan, _ t: [UInt8]) -> Bool {
        switch span {
        case let .exact(x): return compareTerms(t, x) == 0
        case let .range(lower, upper):
            if let (lo, inc) = lower {
                let c = compareTerms(t, lo)
                if c < 0 || (c == 0 && !inc) { return false }
            }
            if let (hi, inc) = upper {
                let c = compareTerms(t, hi)
                if c > 0 || (c == 0 && !inc) { return false }
            }
            return true
        }
    }

    /// Whether a row's current (live) values satisfy the predicate: one of its terms is in the
    /// span. `row` is nil for a partition with only static cells; `staticCells` are the static row's.
    public func matches(_ p: IndexTermRestriction.Predicate, partitionKey: [UInt8], components: [[UInt8]]? = nil,
                        clustering: [[UInt8]]?, rowCells: [LiveCell], staticCells: [LiveCell]) -> Bool {
        let span = span(p)
        let cells = column.kind == .static ? staticCells : rowCells
        if column.kind == .clustering || column.kind == .regular, clustering == nil { return false }
        let found = terms(components: components ?? self.components(partitionKey), clustering: clustering ?? [], cells: cells)
        return found.contains { contains(span, $0) }
    }
}

/// The terms a predicate matches.
enum TermSpan: Hashable {
    case exact([UInt8])
    case range(lower: ([UInt8], Bool)?, upper: ([UInt8], Bool)?)

    static func == (a: TermSpan, b: TermSpan) -> Bool {
        switch (a, b) {
        case let (.exact(x), .exact(y)): return x == y
        case let (.range(l1, u1), .range(l2, u2)):
            return l1?.0 == l2?.0 && l1?.1 == l2?.1 && u1?.0 == u2?.0 && u1?.1 == u2?.1
        default: return false
        }
    }

    func hash(into h: inout Hasher) {
        switch self {
        case let .exact(x): h.combine(x)
        case let .range(l, u): h.combine(l?.0); h.combine(u?.0)
        }
    }
}

/// A cell as term extraction sees it (storage cells and live cells alike).
public protocol TermCell {
    var column: String { get }
    var path: [UInt8]? { get }
    var value: [UInt8] { get }
    /// A tombstone: no term.
    var isDeletion: Bool { get }
}

extension Cell: TermCell {
    public var isDeletion: Bool { isTombstone }
}

extension LiveCell: TermCell {
    public var isDeletion: Bool { false }
}
