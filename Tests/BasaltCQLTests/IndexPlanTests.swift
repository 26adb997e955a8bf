import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

/// SELECT planning against storage-attached indexes: which restrictions become
/// ``IndexRestriction``s, which are filters, when ALLOW FILTERING is needed, the ANN rules, and
/// the bound form the executor receives.
struct IndexPlanTests {
    static func schema() throws -> Schema {
        var h = try SchemaTests.feast()
        try h.run("""
            CREATE TABLE ks.docs (p int, q text, c int, d int, body text, n int, u uuid, tags set<text>, l list<int>,
                meta map<text, text>, e vector<float, 3>, e2 vector<float, 3>, plain int, PRIMARY KEY ((p, q), c, d))
            """)
        for target in ["body", "n", "u", "tags", "KEYS(meta)", "VALUES(meta)", "ENTRIES(meta)", "e", "c", "q"] {
            try h.run("CREATE CUSTOM INDEX ON ks.docs (\(target)) USING 'StorageAttachedIndex'")
        }
        try h.run("CREATE TABLE ks.dot (k int PRIMARY KEY, e vector<float, 2>)")
        try h.run("CREATE INDEX ON ks.dot (e) WITH OPTIONS = {'similarity_function': 'dot_product'}")
        return h.schema
    }

    static func plan(_ text: String) throws -> (BoundStatement, SelectPlan) {
        let b = try Binder(schema: try schema(), keyspace: "ks").bind(text)
        guard case let .select(p) = b.kind else { throw CQLError.serverError("not a select") }
        return (b, p)
    }

    static func error(_ text: String) -> CQLError? {
        do {
            _ = try plan(text)
            return nil
        } catch let e as CQLError {
            return e
        } catch {
            return .serverError("\(error)")
        }
    }

    static let ctx = ExecutionContext(nowMicros: 1_700_000_000_000_000)
    static func int(_ v: Int32) -> [UInt8] { (try? CQLType.int.encode(.int(v))) ?? [] }
    static func vector(_ v: [Float]) -> [UInt8] { (try? CQLType.vector(.float, v.count).encode(.vector(v))) ?? [] }

    /// "column predicate" for each restriction, e.g. `n =` or `meta entry`.
    static func shape(_ p: SelectPlan) -> [String] {
        p.indexRestrictions.map { r in
            let kind = switch r.predicate {
            case .equals: "="
            case let .range(lo, hi): "\(lo.map { $0.inclusive ? "[" : "(" } ?? "-")range\(hi.map { $0.inclusive ? "]" : ")" } ?? "-")"
            case .contains: "contains"
            case .containsKey: "containsKey"
            case .entry: "entry"
            }
            return "\(r.column.name) \(kind) \(r.index.name)"
        }
    }

    @Test func indexedRestrictionsNeedNoAllowFiltering() throws {
        let cases: [(String, [String])] = [
            ("SELECT * FROM docs WHERE n = 5", ["n = docs_n_idx"]),
            ("SELECT * FROM docs WHERE n > 1 AND n <= 10", ["n (range] docs_n_idx"]),
            ("SELECT * FROM docs WHERE n < 3", ["n -range) docs_n_idx"]),
            ("SELECT * FROM docs WHERE body = 'x' AND u = 5bc2c4e8-7fae-11ee-b962-0242ac120002", ["body = docs_body_idx", "u = docs_u_idx"]),
            ("SELECT * FROM docs WHERE tags CONTAINS 'x'", ["tags contains docs_tags_idx"]),
            ("SELECT * FROM docs WHERE meta CONTAINS KEY 'k' AND meta CONTAINS 'v'", ["meta containsKey docs_meta_idx", "meta contains docs_meta_idx_1"]),
            ("SELECT * FROM docs WHERE meta['k'] = 'v' AND meta['j'] = 'w'", ["meta entry docs_meta_idx_2", "meta entry docs_meta_idx_2"]),
            ("SELECT * FROM docs WHERE p = 1 AND q = 'a' AND n = 5", ["n = docs_n_idx"]),
            ("SELECT * FROM docs WHERE q = 'a'", ["q = docs_q_idx"]),
            ("SELECT * FROM docs WHERE c = 3", ["c = docs_c_idx"]),
            ("SELECT * FROM docs WHERE c > 3 AND n = 1", ["n = docs_n_idx", "c (range- docs_c_idx"]),
            ("SELECT * FROM docs WHERE token(p, q) > 0 AND n = 1", ["n = docs_n_idx"]),
        ]
        for (text, expected) in cases {
            let (_, p) = try Self.plan(text)
            #expect(Self.shape(p) == expected, "\(text)")
            #expect(p.filters.isEmpty, "\(text)")
        }
        // The partition key given with = keeps its role; a clustering prefix in it needs no index.
        let (_, single) = try Self.plan("SELECT * FROM docs WHERE p = 1 AND q = 'a' AND n = 5")
        #expect(single.partitionKey?.count == 2)
        let (_, prefix) = try Self.plan("SELECT * FROM docs WHERE p = 1 AND q = 'a' AND c = 3")
        #expect(prefix.indexRestrictions.isEmpty && prefix.clustering.count == 1)
    }

    @Test func unindexedRestrictionsNeedAllowFilteringAndBecomeFilters() throws {
        for text in ["SELECT * FROM docs WHERE n = 1 AND plain = 2", "SELECT * FROM docs WHERE body > 'a'", "SELECT * FROM docs WHERE l CONTAINS 1",
                     "SELECT * FROM docs WHERE p = 1", "SELECT * FROM docs WHERE c = 3 AND d = 4", "SELECT * FROM docs WHERE n IN (1, 2)",
                     "SELECT * FROM docs WHERE p = 1 AND q = 'a' AND d = 4 AND n = 1"] {
            #expect(Self.error(text) == .invalid(Binder.filteringMessage), "\(text)")
        }
        let (_, p) = try Self.plan("SELECT * FROM docs WHERE c = 3 AND d = 4 AND n = 1 ALLOW FILTERING")
        #expect(Self.shape(p) == ["n = docs_n_idx", "c = docs_c_idx"])
        #expect(p.filters.map(\.column.name) == ["d"])
        let (_, text) = try Self.plan("SELECT * FROM docs WHERE body > 'a' ALLOW FILTERING")
        #expect(text.indexRestrictions.isEmpty && text.filters.map(\.column.name) == ["body"])
        let (_, entries) = try Self.plan("SELECT * FROM docs WHERE plain = 1 AND meta['k'] = 'v' ALLOW FILTERING")
        #expect(Self.shape(entries) == ["meta entry docs_meta_idx_2"] && entries.filters.map(\.column.name) == ["plain"])
    }

    @Test func boundIndexRestrictionsCarryTheirValues() throws {
        let (b, p) = try Self.plan("SELECT * FROM docs WHERE meta[?] = ? AND n > ? AND n < 10 ORDER BY e ANN OF ? LIMIT ?")
        #expect(b.variables.map(\.name) == ["key(meta)", "value(meta)", "n", "e", "[limit]"])
        #expect(b.variables.map(\.type) == [.text, .text, .int, .vector(.float, 3), .int])
        let q = try p.query([.bytes(Array("k".utf8)), .bytes(Array("v".utf8)), .bytes(Self.int(2)), .bytes(Self.vector([1, 2, 3])), .bytes(Self.int(7))],
                            context: Self.ctx)
        #expect(q.usesIndex && q.ann?.k == 7 && q.ann?.vector == [1, 2, 3] && q.ann?.index.name == "docs_e_idx")
        let byColumn = Dictionary(grouping: q.indexRestrictions, by: \.column.name)
        #expect(byColumn["meta"]?.first?.predicate == .entry(key: Array("k".utf8), value: Array("v".utf8)))
        #expect(byColumn["n"]?.first?.predicate == .range(lower: IndexBound(value: Self.int(2), inclusive: false), upper: IndexBound(value: Self.int(10), inclusive: false)))
        #expect(throws: CQLError.invalid("Invalid null value in condition for column n")) {
            try p.query([.bytes(Array("k".utf8)), .bytes(Array("v".utf8)), .null, .bytes(Self.vector([1, 2, 3])), .bytes(Self.int(7))], context: Self.ctx)
        }
        #expect(throws: CQLError.invalid("Use of ANN OF in an ORDER BY clause requires a LIMIT that is not greater than 1000. LIMIT was 1001")) {
            try p.query([.bytes(Array("k".utf8)), .bytes(Array("v".utf8)), .bytes(Self.int(2)), .bytes(Self.vector([1, 2, 3])), .bytes(Self.int(1001))], context: Self.ctx)
        }
        #expect(throws: CQLError.invalid("Zero and near-zero vectors cannot be indexed or queried with cosine similarity")) {
            try p.query([.bytes(Array("k".utf8)), .bytes(Array("v".utf8)), .bytes(Self.int(2)), .bytes(Self.vector([0, 1e-7, 0])), .bytes(Self.int(3))], context: Self.ctx)
        }
        // A dot-product index takes a zero query vector.
        let (_, dot) = try Self.plan("SELECT * FROM dot ORDER BY e ANN OF [0, 0] LIMIT 3")
        #expect(try dot.query([], context: Self.ctx).ann?.vector == [0, 0])
    }

    @Test func annRules() throws {
        let (_, alone) = try Self.plan("SELECT * FROM docs ORDER BY e ANN OF [1, 2, 3] LIMIT 10")
        #expect(alone.ann?.column.name == "e" && alone.indexRestrictions.isEmpty)
        let (_, partition) = try Self.plan("SELECT * FROM docs WHERE p = 1 AND q = 'a' AND c = 2 ORDER BY e ANN OF [1, 2, 3] LIMIT 10")
        #expect(partition.partitionKey != nil && partition.clustering.count == 1)
        let (_, filtered) = try Self.plan("SELECT * FROM docs WHERE tags CONTAINS 't' AND n > 3 ORDER BY e ANN OF [1, 2, 3] ASC LIMIT 10")
        #expect(Self.shape(filtered) == ["tags contains docs_tags_idx", "n (range- docs_n_idx"])
        let cases: [(String, CQLError)] = [
            ("SELECT * FROM docs WHERE plain = 1 ORDER BY e ANN OF [1, 2, 3] LIMIT 10 ALLOW FILTERING", .invalid(Binder.annRequiresIndexedFiltering)),
            ("SELECT * FROM docs WHERE p = 1 ORDER BY e ANN OF [1, 2, 3] LIMIT 10 ALLOW FILTERING", .invalid(Binder.annRequiresIndexedFiltering)),
            ("SELECT * FROM docs WHERE p = 1 AND q = 'a' AND d = 2 ORDER BY e ANN OF [1, 2, 3] LIMIT 10 ALLOW FILTERING", .invalid(Binder.annRequiresIndexedFiltering)),
            ("SELECT * FROM docs WHERE body > 'a' ORDER BY e ANN OF [1, 2, 3] LIMIT 10", .invalid(Binder.filteringMessage)),
            ("SELECT * FROM docs WHERE p IN (1, 2) AND q = 'a' ORDER BY e ANN OF [1, 2, 3] LIMIT 10",
             .invalid("Select on indexed columns and with IN clause for the PRIMARY KEY are not supported")),
            ("SELECT * FROM docs ORDER BY e2 ANN OF [1, 2, 3] LIMIT 1", .invalid("ANN ordering by vector requires the column to be indexed")),
            ("SELECT * FROM docs ORDER BY n ANN OF [1] LIMIT 1", .invalid("ANN ordering is only supported on float vector indexes")),
            ("SELECT * FROM docs ORDER BY e ANN OF [1, 2, 3] DESC LIMIT 1", .invalid("Descending ANN ordering is not supported")),
            ("SELECT * FROM docs ORDER BY e ANN OF [1, 2, 3], c ASC LIMIT 1", .invalid("ANN ordering does not support any other ordering")),
            ("SELECT * FROM docs ORDER BY c ASC, e ANN OF [1, 2, 3] LIMIT 1", .invalid("ANN ordering does not support any other ordering")),
            ("SELECT * FROM docs ORDER BY e ANN OF [1, 2, 3], e2 ANN OF [1, 2, 3] LIMIT 1", .invalid("Cannot specify more than one ANN ordering")),
            ("SELECT * FROM docs ORDER BY e ANN OF [1, 2] LIMIT 1", .invalid("Invalid vector literal for e of type vector<float, 3>; expected 3 elements, but given 2")),
            ("SELECT * FROM docs ORDER BY e ANN OF [1, 2, 3]", .invalid("Use of ANN OF in an ORDER BY clause requires a LIMIT that is not greater than 1000. LIMIT was NO LIMIT")),
            ("SELECT * FROM docs ORDER BY e ANN OF [1, 2, 3] LIMIT 1001", .invalid("Use of ANN OF in an ORDER BY clause requires a LIMIT that is not greater than 1000. LIMIT was 1001")),
            ("SELECT * FROM docs ORDER BY e ANN OF [1, 2, 3] PER PARTITION LIMIT 1 LIMIT 5", .invalid("SAI based ORDER BY clause does not support PER PARTITION LIMIT")),
            ("SELECT * FROM docs WHERE e = [1, 2, 3]", .invalid("Vector indexes only support ANN queries")),
        ]
        for (text, expected) in cases { #expect(Self.error(text) == expected, "\(text)") }
    }

    @Test func restrictionErrorsAreCassandras() {
        let cases: [(String, CQLError)] = [
            ("SELECT * FROM docs WHERE n = 1 AND n > 2", .invalid("n cannot be restricted by more than one relation if it includes an Equal")),
            ("SELECT * FROM docs WHERE n > 1 AND n > 2", .invalid("More than one restriction was found for the start bound on n")),
            ("SELECT * FROM docs WHERE n < 1 AND n <= 2", .invalid("More than one restriction was found for the end bound on n")),
            ("SELECT * FROM docs WHERE n > 1 AND n = 2", .invalid("Column \"n\" cannot be restricted by both an equality and an inequality relation")),
            ("SELECT * FROM docs WHERE n IN (1, 2) AND n = 2", .invalid("n cannot be restricted by more than one relation if it includes a IN")),
            ("SELECT * FROM docs WHERE tags CONTAINS 'a' AND tags = {'a'}",
             .invalid("Collection column 'tags' can only be restricted by CONTAINS, CONTAINS KEY, or map-entry equality")),
            ("SELECT * FROM docs WHERE l[0] = 1", .invalid("Indexes on list entries (l[index] = value) are not currently supported.")),
            ("SELECT * FROM docs WHERE body['a'] = 'x'", .invalid("Column body cannot be used as a map")),
            ("SELECT * FROM docs WHERE meta['a'] > 'x'", .invalid("Only EQ relations are supported on map entries")),
            ("SELECT * FROM docs WHERE meta CONTAINS KEY null", .invalid("Unsupported null value for column meta")),
            ("SELECT * FROM docs WHERE n CONTAINS KEY 1", .invalid("Cannot use CONTAINS KEY on non-map column n")),
            ("SELECT * FROM docs WHERE n CONTAINS 1", .invalid("Cannot use CONTAINS on non-collection column n")),
            ("SELECT * FROM docs WHERE body : 'word'",
             .invalid("The analyzer match operator ':' needs a storage-attached index with an index_analyzer, which Basalt does not support; restrict body with = or CONTAINS instead")),
        ]
        for (text, expected) in cases { #expect(Self.error(text) == expected, "\(text)") }
    }

    @Test func similarityFunctionsUseCassandrasScaling() throws {
        #expect(IndexSchema.Similarity.cosine.score([1, 0], [1, 0]) == 1)
        #expect(IndexSchema.Similarity.cosine.score([1, 0], [0, 1]) == 0.5)
        #expect(IndexSchema.Similarity.cosine.score([1, 0], [-1, 0]) == 0)
        #expect(IndexSchema.Similarity.dotProduct.score([0.5, 0], [0.5, 0]) == 0.625)
        #expect(IndexSchema.Similarity.dotProduct.score([1, 0], [-1, 0]) == 0)
        #expect(IndexSchema.Similarity.euclidean.score([0, 0], [3, 4]) == Float(1) / 26)
        #expect(IndexSchema.Similarity.euclidean.score([1, 2], [1, 2]) == 1)
        let (b, p) = try Self.plan("SELECT similarity_euclidean(e, ?), similarity_dot_product([1, 0, 0], e) FROM docs WHERE p = 1 AND q = 'a'")
        #expect(b.variables.map(\.type) == [.vector(.float, 3)])
        #expect(b.resultColumns.map(\.type) == [.float, .float])
        let q = try p.query([.bytes(Self.vector([0, 0, 0]))], context: Self.ctx)
        guard case let .similarity(.euclidean, _, v) = q.selection[0].source else { Issue.record("no euclidean"); return }
        #expect(v == [0, 0, 0])
        let (_, cos) = try Self.plan("SELECT similarity_cosine(e, [0, 0, 0]) FROM docs WHERE p = 1 AND q = 'a'")
        #expect(throws: CQLError.invalid("Function system.similarity_cosine doesn't support all-zero vectors.")) { try cos.query([], context: Self.ctx) }
    }
}
