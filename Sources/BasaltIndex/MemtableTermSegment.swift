import BasaltCluster
import BasaltCore
import BasaltStorage

/// The term index of one memtable: every term written to the memtable since the index existed,
/// each with the keys of the rows (or partitions) it was written for.
///
/// Entries are only added, never removed: an overwrite or a deletion can carry an older
/// timestamp than what it seems to replace, so only a read knows the row's current value. The
/// segment therefore answers a superset of the matching rows; whoever asks checks each row.
final class MemtableTermSegment: @unchecked Sendable {
    // @unchecked: `postings` is guarded by `lock`.
    private let lock = Lock()
    private var postings: [[UInt8]: Set<RowKey>] = [:]

    func add(_ term: [UInt8], _ key: RowKey) {
        lock.withLock { _ = postings[term, default: []].insert(key) }
    }

    var termCount: Int { lock.withLock { postings.count } }

    /// Every key with a term in `span`.
    func matching(_ span: TermSpan, _ d: TermIndexDefinition) -> [RowKey] {
        lock.withLock {
            switch span {
            case let .exact(t):
                if let keys = postings[t] { return Array(keys) }
                // Terms equal in CQL order but written with other bytes (none today, but the
                // comparison is the contract).
                return postings.filter { d.compareTerms($0.key, t) == 0 }.flatMap(\.value)
            case .range:
                return postings.filter { d.contains(span, $0.key) }.flatMap(\.value)
            }
        }
    }

    /// How many keys `span` matches (an estimate for choosing which restriction leads).
    func estimate(_ span: TermSpan, _ d: TermIndexDefinition) -> Int {
        lock.withLock {
            if case let .exact(t) = span { return postings[t]?.count ?? 0 }
            return postings.reduce(0) { $0 + (d.contains(span, $1.key) ? $1.value.count : 0) }
        }
    }

    /// Up to `limit` keys with a term in `span`, in `ranges` (all when empty), after `after`,
    /// in ring order.
    func keys(_ span: TermSpan, _ d: TermIndexDefinition, ranges: [TokenRange], after: ScanPosition?, limit: Int,
              order: IndexKeyOrder) -> [RowKey] {
        var found: [(ScanPosition, RowKey)] = []
        for key in matching(span, d) {
            let p = ScanPosition(token: Murmur3.token(key.partitionKey), partitionKey: key.partitionKey, clustering: key.clustering)
            if !ranges.isEmpty && !ranges.contains(where: { $0.contains(p.token) }) { continue }
            if let after, order.compare(p, after) <= 0 { continue }
            found.append((p, key))
        }
        found.sort { order.compare($0.0, $1.0) < 0 }
        return found.prefix(limit).map(\.1)
    }
}
