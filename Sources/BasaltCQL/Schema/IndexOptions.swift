import BasaltCore
import BasaltProtocol

/// The `WITH OPTIONS = {…}` of a storage-attached index, parsed.
///
/// Accepted keys are Cassandra 5's SAI options — `similarity_function`, `optimize_for`,
/// `maximum_node_connections`, `construction_beam_width` (vector indexes), `case_sensitive`,
/// `normalize`, `ascii` (text indexes) — plus `source_model` (DataStax's vector option, which
/// cassio and Astra clients send). Keys are case-sensitive, as in Cassandra; values of the
/// enumerated options are not. ``validated(_:indexName:column:term:)`` checks a definition with
/// Cassandra's rules and messages; ``init(reading:)`` reads a stored, already validated one.
public struct IndexOptions: Hashable, Sendable {
    /// The embedding model the vectors come from (`source_model`); a named model implies
    /// DOT_PRODUCT similarity unless `similarity_function` says otherwise.
    public enum SourceModel: String, Hashable, Sendable, CaseIterable {
        case ada002 = "ADA002"
        case openAIV3Small = "OPENAI_V3_SMALL"
        case openAIV3Large = "OPENAI_V3_LARGE"
        case bert = "BERT"
        case gecko = "GECKO"
        case nvQA4 = "NV_QA_4"
        case other = "OTHER"

        public var defaultSimilarity: IndexSchema.Similarity { self == .other ? .cosine : .dotProduct }
    }

    /// What a vector index's graph is tuned for (`optimize_for`).
    public enum OptimizeFor: String, Hashable, Sendable, CaseIterable {
        case latency = "LATENCY"
        case recall = "RECALL"
    }

    public var similarity: IndexSchema.Similarity?
    public var sourceModel: SourceModel?
    public var optimizeFor: OptimizeFor?
    /// HNSW graph degree (`maximum_node_connections`, 1…512; Cassandra's default 16).
    public var maximumNodeConnections: Int?
    /// HNSW construction beam width (`construction_beam_width`, 1…3200; Cassandra's default 100).
    public var constructionBeamWidth: Int?
    /// Text analysis: match case exactly (default true).
    public var caseSensitive = true
    /// Text analysis: Unicode-normalize (NFC) before matching (default false).
    public var normalize = false
    /// Text analysis: fold to ASCII before matching (default false).
    public var ascii = false

    public init() {}

    /// The similarity a vector index uses: explicit, else the source model's, else COSINE.
    public var effectiveSimilarity: IndexSchema.Similarity { similarity ?? sourceModel?.defaultSimilarity ?? .cosine }

    /// Whether matching text goes through an analyzer (any non-default text option).
    public var isAnalyzed: Bool { !caseSensitive || normalize || ascii }

    static let analyzerKeys = ["ascii", "case_sensitive", "normalize"]
    static let vectorKeys = ["construction_beam_width", "maximum_node_connections", "optimize_for", "similarity_function", "source_model"]
    static let knownKeys = Set(analyzerKeys + vectorKeys)
    static let validSimilarities = "EUCLIDEAN, DOT_PRODUCT, COSINE"

    /// Reads stored options leniently: anything unreadable keeps its default.
    public init(reading options: [String: String]) {
        similarity = options["similarity_function"].flatMap { IndexSchema.Similarity(rawValue: $0.uppercased()) }
        sourceModel = options["source_model"].flatMap { SourceModel(rawValue: Self.modelName($0)) }
        optimizeFor = options["optimize_for"].flatMap { OptimizeFor(rawValue: $0.uppercased()) }
        maximumNodeConnections = options["maximum_node_connections"].flatMap { Int($0) }
        constructionBeamWidth = options["construction_beam_width"].flatMap { Int($0) }
        caseSensitive = options["case_sensitive"].flatMap { Bool($0.lowercased()) } ?? true
        normalize = options["normalize"].flatMap { Bool($0.lowercased()) } ?? false
        ascii = options["ascii"].flatMap { Bool($0.lowercased()) } ?? false
    }

    static func modelName(_ s: String) -> String { s.uppercased().replacingAll("-", with: "_") }

    /// What an index covers, for validation: the type of the indexed terms (a scalar, a vector,
    /// a frozen value, a collection's element or key) or, for `entries(m)`, the key and value types.
    public enum Term: Hashable, Sendable {
        case single(CQLType)
        case entries(key: CQLType, value: CQLType)

        var displayName: String {
            switch self {
            case let .single(t): t.cqlName
            case let .entries(k, v): "map<\(k.cqlName), \(v.cqlName)>"
            }
        }
    }

    /// Checks `options` for an index named `indexName` on `column` covering `term`, in
    /// Cassandra 5's order and wording: unknown keys (0x2300), analysis options on primary-key
    /// columns, analysis on non-text terms, boolean values, vector options on non-vector terms,
    /// enumerated and numeric values, unsupported term types, then the vector constraints.
    public static func validated(_ options: [String: String], indexName: String, column: ColumnDefinition, term: Term) throws(CQLError) -> IndexOptions {
        let unknown = options.keys.filter { !knownKeys.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw .configError("Properties specified [\(unknown.joined(separator: ", "))] are not understood by StorageAttachedIndex")
        }
        var out = IndexOptions()
        let analysis = analyzerKeys.filter { options[$0] != nil }
        if column.isPrimaryKey && !analysis.isEmpty {
            throw .invalid("Analysis options are not supported on primary key columns, but found "
                + SchemaDescriber.mapLiteral(analysis.map { ($0, options[$0] ?? "") }))
        }
        if !analysis.isEmpty {
            guard case let .single(t) = term, t == .text || t == .ascii else { throw .invalid("CQL type \(term.displayName) cannot be analyzed.") }
            for key in analysis {
                let value = try boolean(options[key] ?? "", key)
                switch key {
                case "case_sensitive": out.caseSensitive = value
                case "normalize": out.normalize = value
                default: out.ascii = value
                }
            }
        }
        if vectorKeys.contains(where: { options[$0] != nil }) {
            guard case let .single(t) = term, case .vector = t.unfrozen else { throw .invalid("CQL type \(term.displayName) cannot have vector options") }
            try out.readVectorOptions(options, indexName: indexName)
        }
        try checkSupported(term)
        if case let .single(t) = term, case let .vector(element, dimension) = t.unfrozen {
            guard element == .float else { throw .invalid("SAI ANN indexes are only allowed on vector columns with float elements") }
            if dimension == 1 && out.effectiveSimilarity == .cosine {
                throw .invalid("Cosine similarity is not supported for single-dimension vectors")
            }
        }
        return out
    }

    mutating func readVectorOptions(_ options: [String: String], indexName: String) throws(CQLError) {
        if let text = options["maximum_node_connections"] {
            guard let v = Int(text) else { throw .invalid("Maximum number of connections \(text) is not a valid integer for index \(indexName)") }
            guard v > 0 && v <= 512 else { throw .invalid("Maximum number of connections for index \(indexName) cannot be <= 0 or > 512, was \(v)") }
            maximumNodeConnections = v
        }
        if let text = options["construction_beam_width"] {
            guard let v = Int(text) else { throw .invalid("Construction beam width \(text) is not a valid integer for index \(indexName)") }
            guard v > 0 && v <= 3200 else { throw .invalid("Construction beam width for index \(indexName) cannot be <= 0 or > 3200, was \(v)") }
            constructionBeamWidth = v
        }
        if let text = options["source_model"] {
            let name = Self.modelName(text)
            guard let m = SourceModel(rawValue: name) else {
                let valid = SourceModel.allCases.map(\.rawValue).joined(separator: ", ")
                throw .invalid("source_model '\(name)' was not recognized for index \(indexName). Valid values are: \(valid)")
            }
            sourceModel = m
        }
        if let text = options["similarity_function"] {
            guard let f = IndexSchema.Similarity(rawValue: text.uppercased()) else {
                throw .invalid("Similarity function \(text.uppercased()) was not recognized for index \(indexName). Valid values are: \(Self.validSimilarities)")
            }
            similarity = f
        }
        if let text = options["optimize_for"] {
            guard let o = OptimizeFor(rawValue: text.uppercased()) else {
                throw .invalid("optimize_for '\(text.uppercased())' was not recognized for index \(indexName). Valid values are: LATENCY, RECALL")
            }
            optimizeFor = o
        }
    }

    static func boolean(_ value: String, _ option: String) throws(CQLError) -> Bool {
        if value.isEmpty { throw .invalid("Empty value for boolean option '\(option)'") }
        guard let b = Bool(value.lowercased()) else { throw .invalid("Illegal value for boolean option '\(option)': \(value)") }
        return b
    }

    /// Cassandra 5's SAI term types: the native types other than blob, counter and duration,
    /// frozen values and vectors.
    static func checkSupported(_ term: Term) throws(CQLError) {
        func supported(_ t: CQLType) -> Bool {
            switch t {
            case .blob: false
            case .list, .set, .map: false // a non-frozen collection is indexed through keys/values/entries
            default: true
            }
        }
        switch term {
        case let .single(t):
            guard supported(t) else { throw .invalid("Unsupported type: \(t.cqlName)") }
        case let .entries(k, v):
            for t in [k, v] where !supported(t) { throw .invalid("Unsupported type: \(t.cqlName)") }
        }
    }
}
