/// A `keyspace.name` reference; `keyspace` is nil when the statement relies on the current one.
public struct QualifiedName: Hashable, Sendable, CustomStringConvertible {
    public var keyspace: String?
    public var name: String

    public init(keyspace: String? = nil, name: String) {
        self.keyspace = keyspace
        self.name = name
    }

    public var description: String { keyspace.map { "\($0).\(name)" } ?? name }
}

/// A bind marker: `?` or `:name`. `index` counts markers in order of appearance from 0.
public struct BindMarker: Hashable, Sendable {
    public var index: Int
    public var name: String?

    public init(index: Int, name: String? = nil) {
        self.index = index
        self.name = name
    }
}

/// A constant as written in CQL text; its type comes from where it is used (the binder).
public enum Literal: Hashable, Sendable {
    case string(String)
    /// Digits as written, possibly with a leading '-'.
    case integer(String)
    /// A decimal/exponent number as written.
    case float(String)
    case boolean(Bool)
    case hex([UInt8])
    case uuid(String)
    case null
    case nan
    case infinity(negative: Bool)
}

/// A value expression: a constant, a marker, a collection or tuple literal, or a function call.
public indirect enum Term: Hashable, Sendable {
    case literal(Literal)
    case marker(BindMarker)
    case list([Term])
    /// `{a, b}`; `{}` parses as an empty set and also stands for an empty map.
    case set([Term])
    case map([MapLiteralEntry])
    case tuple([Term])
    /// A function call such as `now()`, `uuid()`, `toTimestamp(now())`.
    case function(String, [Term])

    /// Every bind marker in the term, in order.
    public var markers: [BindMarker] {
        switch self {
        case .literal: []
        case let .marker(m): [m]
        case let .list(ts), let .set(ts), let .tuple(ts), let .function(_, ts): ts.flatMap(\.markers)
        case let .map(es): es.flatMap { $0.key.markers + $0.value.markers }
        }
    }
}

public struct MapLiteralEntry: Hashable, Sendable {
    public var key: Term
    public var value: Term

    public init(key: Term, value: Term) {
        self.key = key
        self.value = value
    }
}

/// The value of a `WITH name = value` property: a constant or a `{'k': v}` map.
public enum PropertyValue: Hashable, Sendable {
    /// The constant's text (strings unquoted, numbers and booleans as written).
    case constant(String)
    case map([(String, String)])

    public static func == (a: PropertyValue, b: PropertyValue) -> Bool {
        switch (a, b) {
        case let (.constant(x), .constant(y)): x == y
        case let (.map(x), .map(y)): x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        default: false
        }
    }

    public func hash(into h: inout Hasher) {
        switch self {
        case let .constant(c): h.combine(c)
        case let .map(m): for (k, v) in m { h.combine(k); h.combine(v) }
        }
    }

    /// Map entries by key (last wins).
    public var mapValue: [String: String]? {
        guard case let .map(m) = self else { return nil }
        var out = [String: String]()
        for (k, v) in m { out[k] = v }
        return out
    }
}

/// `WITH a = x AND b = {…}` properties in order of appearance.
public typealias Properties = [Property]

public struct Property: Hashable, Sendable {
    public var name: String
    public var value: PropertyValue

    public init(name: String, value: PropertyValue) {
        self.name = name
        self.value = value
    }
}
