import BasaltCluster
import BasaltCore
import BasaltStorage

/// The term index of one SSTable, immutable: its rows numbered in the SSTable's order (token,
/// partition key, then clustering order, a whole-partition key before the partition's rows),
/// the distinct terms sorted in the term type's CQL order, and for each term the ascending row
/// numbers holding it. Built from the SSTable's data (its live cells), so it is exact for it.
final class SSTableTermSegment: Sendable {
    let keys: [RowKey]
    let tokens: [Int64]
    let terms: [[UInt8]]
    /// `postingStarts[i] ..< postingStarts[i + 1]` are term `i`'s row numbers in `postings`.
    let postingStarts: [Int]
    let postings: [UInt32]

    init(keys: [RowKey], terms: [[UInt8]], postingStarts: [Int], postings: [UInt32]) {
        self.keys = keys
        tokens = keys.map { Murmur3.token($0.partitionKey).value }
        self.terms = terms
        self.postingStarts = postingStarts
        self.postings = postings
    }

    /// Builds the segment from rows given in SSTable order with their terms.
    static func build(_ rows: [(RowKey, [[UInt8]])], _ d: TermIndexDefinition) -> SSTableTermSegment {
        var keys: [RowKey] = []
        var byTerm: [[UInt8]: [UInt32]] = [:]
        for (key, terms) in rows where !terms.isEmpty {
            if keys.last != key { keys.append(key) }
            let id = UInt32(keys.count - 1)
            for t in terms where byTerm[t]?.last != id { byTerm[t, default: []].append(id) }
        }
        let sorted = byTerm.keys.sorted { d.compareTerms($0, $1) < 0 }
        var starts = [0]
        var postings: [UInt32] = []
        postings.reserveCapacity(byTerm.values.reduce(0) { $0 + $1.count })
        for t in sorted {
            postings += byTerm[t]!
            starts.append(postings.count)
        }
        return SSTableTermSegment(keys: keys, terms: sorted, postingStarts: starts, postings: postings)
    }

    /// The terms in `span`, as `lo ..< hi` indexes into `terms`.
    func termRange(_ span: TermSpan, _ d: TermIndexDefinition) -> Range<Int> {
        func firstIndex(_ pred: ([UInt8]) -> Bool) -> Int {
            var lo = 0, hi = terms.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if pred(terms[mid]) { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
        switch span {
        case let .exact(t):
            let lo = firstIndex { d.compareTerms($0, t) >= 0 }
            let hi = firstIndex { d.compareTerms($0, t) > 0 }
            return lo ..< max(lo, hi)
        case let .range(lower, upper):
            var lo = 0, hi = terms.count
            if let (t, inc) = lower { lo = firstIndex { inc ? d.compareTerms($0, t) >= 0 : d.compareTerms($0, t) > 0 } }
            if let (t, inc) = upper { hi = firstIndex { inc ? d.compareTerms($0, t) > 0 : d.compareTerms($0, t) >= 0 } }
            return lo ..< max(lo, hi)
        }
    }

    func estimate(_ span: TermSpan, _ d: TermIndexDefinition) -> Int {
        let r = termRange(span, d)
        return r.isEmpty ? 0 : postingStarts[r.upperBound] - postingStarts[r.lowerBound]
    }

    /// Every key with a term in `span` (for filtering vector searches).
    func matching(_ span: TermSpan, _ d: TermIndexDefinition) -> [RowKey] {
        var ids = Set<UInt32>()
        for t in termRange(span, d) { ids.formUnion(postings[postingStarts[t] ..< postingStarts[t + 1]]) }
        return ids.map { keys[Int($0)] }
    }

    /// The first row number whose token is > `token`.
    private func firstRow(afterToken token: Int64) -> Int {
        var lo = 0, hi = tokens.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if tokens[mid] > token { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// The first row number after position `p`.
    private func firstRow(after p: ScanPosition, _ order: IndexKeyOrder) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let k = keys[mid]
            let here = ScanPosition(token: Token(tokens[mid]), partitionKey: k.partitionKey, clustering: k.clustering)
            if order.compare(here, p) > 0 { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// Up to `limit` keys with a term in `span`, in `ranges` (all when empty), after `after`,
    /// in ring order. Memory is bounded by `limit` whatever the number of matches.
    func keys(_ span: TermSpan, _ d: TermIndexDefinition, ranges: [TokenRange], after: ScanPosition?, limit: Int,
              order: IndexKeyOrder) -> [RowKey] {
        let termIDs = termRange(span, d)
        guard !termIDs.isEmpty, limit > 0 else { return [] }
        let start = after.map { firstRow(after: $0, order) } ?? 0
        // Row-number intervals of the ranges, ascending (ranges never wrap once cut into pieces;
        // a wrapping one is taken as its two parts).
        var intervals: [Range<Int>] = []
        if ranges.isEmpty {
            intervals = [start ..< keys.count]
        } else {
            for r in ranges {
                for part in r.unwrapped {
                    let lo = max(start, firstRow(afterToken: part.start.value))
                    let hi = part.end == .min ? keys.count : firstRow(afterToken: part.end.value)
                    if lo < hi { intervals.append(lo ..< hi) }
                }
            }
            intervals.sort { $0.lowerBound < $1.lowerBound }
        }
        var best: [UInt32] = [] // ascending, at most `limit`
        for interval in intervals {
            if best.count >= limit, let last = best.last, Int(last) < interval.lowerBound { break }
            for t in termIDs {
                let list = postings[postingStarts[t] ..< postingStarts[t + 1]]
                var i = Self.lowerBound(list, UInt32(interval.lowerBound))
                while i < list.endIndex {
                    let id = list[i]
                    if Int(id) >= interval.upperBound { break }
                    if best.count >= limit, id >= best.last! { break }
                    let at = Self.lowerBound(best[...], id)
                    if at == best.endIndex || best[at] != id {
                        best.insert(id, at: at)
                        if best.count > limit { best.removeLast() }
                    }
                    i += 1
                }
            }
        }
        return best.map { keys[Int($0)] }
    }

    static func lowerBound(_ list: ArraySlice<UInt32>, _ value: UInt32) -> Int {
        var lo = list.startIndex, hi = list.endIndex
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
