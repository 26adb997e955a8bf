import BasaltCluster
import BasaltCore
import BasaltIndex

extension IndexRestriction where Value == [UInt8] {
    /// The restriction as replicas receive it.
    var termRestriction: IndexTermRestriction {
        let p: IndexTermRestriction.Predicate = switch predicate {
        case let .equals(v): .equals(v)
        case let .range(lo, hi): .range(lower: lo?.value, lowerInclusive: lo?.inclusive ?? false, upper: hi?.value, upperInclusive: hi?.inclusive ?? false)
        case let .contains(v): .contains(v)
        case let .containsKey(v): .containsKey(v)
        case let .entry(k, v): .entry(key: k, value: v)
        }
        return IndexTermRestriction(index: index.name, predicate: p)
    }
}

/// A query's index restrictions checked on a row the coordinator read: the same terms and
/// analysis (case, normalization, ASCII folding) the replicas' indexes use, so a row is kept
/// exactly when its current version satisfies every restriction.
struct IndexRowChecks {
    let checks: [(definition: TermIndexDefinition, predicate: IndexTermRestriction.Predicate)]

    init(_ query: ReadQuery) {
        checks = query.indexRestrictions.compactMap { r in
            TermIndexDefinition(r.index, column: r.column, table: query.table).map { ($0, r.termRestriction.predicate) }
        }
    }

    var isEmpty: Bool { checks.isEmpty }

    /// Whether any restriction is on a partition-key component or a static column (its index
    /// then proposes whole partitions).
    var hasPartitionLevel: Bool { checks.contains { $0.definition.isPartitionLevel } }

    func passes(_ s: RowAssembler.Source) -> Bool {
        checks.allSatisfy { d, p in
            d.matches(p, partitionKey: s.partitionKey, components: s.keyComponents, clustering: s.row?.clustering,
                      rowCells: s.row?.cells ?? [], staticCells: s.staticRow?.cells ?? [])
        }
    }
}
