import BasaltCore

extension CQLParser {
    /// A new marker, numbered in order of appearance.
    mutating func newMarker(named name: String?) -> Term {
        let m = BindMarker(index: markers.count, name: name)
        markers.append(m)
        return .marker(m)
    }

    /// A value: constant, marker, collection, tuple or function call.
    mutating func term() throws(CQLSyntaxError) -> Term {
        try enter()
        defer { leave() }
        let t = current
        switch t.kind {
        case let .string(s): advance(); return .literal(.string(s))
        case let .integer(s): advance(); return .literal(.integer(s))
        case let .float(s): advance(); return .literal(.float(s))
        case let .hex(b): advance(); return .literal(.hex(b))
        case let .uuid(u): advance(); return .literal(.uuid(u))
        case let .word(w):
            switch w {
            case "true": advance(); return .literal(.boolean(true))
            case "false": advance(); return .literal(.boolean(false))
            case "null": advance(); return .literal(.null)
            case "nan": advance(); return .literal(.nan)
            case "infinity": advance(); return .literal(.infinity(negative: false))
            default:
                guard peek(1).isSymbol("("), !Self.reservedWords.contains(w) || w == "token" else { throw noViableAlternative(expecting: "a value") }
                advance()
                advance()
                var args = [Term]()
                if !acceptSymbol(")") {
                    repeat { args.append(try term()) } while acceptSymbol(",")
                    try expectSymbol(")")
                }
                return .function(w, args)
            }
        case let .symbol(s):
            switch s {
            case "?":
                advance()
                return newMarker(named: nil)
            case ":":
                advance()
                return newMarker(named: try identifier("marker name"))
            case "-":
                advance()
                if acceptWord("infinity") { return .literal(.infinity(negative: true)) }
                if acceptWord("nan") { return .literal(.nan) }
                throw noViableAlternative(expecting: "a value")
            case "[":
                advance()
                var items = [Term]()
                if !acceptSymbol("]") {
                    repeat { items.append(try term()) } while acceptSymbol(",")
                    try expectSymbol("]")
                }
                return .list(items)
            case "{":
                advance()
                if acceptSymbol("}") { return .set([]) }
                let first = try term()
                if acceptSymbol(":") {
                    var entries = [MapLiteralEntry(key: first, value: try term())]
                    while acceptSymbol(",") {
                        let k = try term()
                        try expectSymbol(":")
                        entries.append(MapLiteralEntry(key: k, value: try term()))
                    }
                    try expectSymbol("}")
                    return .map(entries)
                }
                var items = [first]
                while acceptSymbol(",") { items.append(try term()) }
                try expectSymbol("}")
                return .set(items)
            case "(":
                advance()
                var items = [try term()]
                while acceptSymbol(",") { items.append(try term()) }
                try expectSymbol(")")
                return .tuple(items)
            default:
                throw noViableAlternative(expecting: "a value")
            }
        default:
            throw noViableAlternative(expecting: "a value")
        }
    }

    /// A column type: native names, `frozen<>`, `list<>`, `set<>`, `map<,>`, `tuple<>`,
    /// `vector<float, n>`. Collections inside collections are frozen, as CQL requires.
    mutating func type() throws(CQLSyntaxError) -> CQLType {
        try enter()
        defer { leave() }
        let at = current
        let name: String
        switch at.kind {
        case let .word(w): name = w; advance()
        case let .quotedName(n): name = n; advance()
        case let .string(s):
            advance()
            throw CQLSyntaxError(location: at.location, found: at.display, expected: nil,
                                 message: "custom type '\(s)' is not supported by Basalt", isUnsupported: true)
        default: throw mismatch(expecting: "a type")
        }
        func nested(_ t: CQLType) -> CQLType {
            switch t {
            case .list, .set, .map, .tuple: .frozen(t)
            default: t
            }
        }
        switch name {
        case "frozen":
            try expectSymbol("<")
            let innerAt = current
            let inner = try type()
            try closeAngle()
            switch inner {
            case .list, .set, .map, .tuple: return .frozen(inner)
            case .frozen: return inner
            default:
                throw CQLSyntaxError(location: innerAt.location, found: innerAt.display, expected: nil,
                                     message: "frozen<> is only allowed on collections, tuples, and user-defined types", isUnsupported: true)
            }
        case "list", "set":
            try expectSymbol("<")
            let e = nested(try type())
            try closeAngle()
            return name == "list" ? .list(e) : .set(e)
        case "map":
            try expectSymbol("<")
            let k = nested(try type())
            try expectSymbol(",")
            let v = nested(try type())
            try closeAngle()
            return .map(k, v)
        case "tuple":
            try expectSymbol("<")
            var parts = [nested(try type())]
            while acceptSymbol(",") { parts.append(nested(try type())) }
            try closeAngle()
            return .frozen(.tuple(parts))
        case "vector":
            try expectSymbol("<")
            let elemAt = current
            let e = try type()
            guard e == .float else {
                throw CQLSyntaxError(location: elemAt.location, found: elemAt.display, expected: "float",
                                     message: "vectors of \(e.cqlName) are not supported by Basalt (only vector<float, n>)", isUnsupported: true)
            }
            try expectSymbol(",")
            let dimAt = current
            guard case let .integer(d) = dimAt.kind else { throw mismatch(expecting: "a vector dimension") }
            advance()
            guard let dim = Int(d), dim > 0, dim <= 8192 else {
                throw CQLSyntaxError(location: dimAt.location, found: dimAt.display, expected: nil,
                                     message: "vector dimension must be between 1 and 8192, got \(d)", isUnsupported: true)
            }
            try closeAngle()
            return .vector(e, dim)
        default:
            if let t = CQLType.simple(named: name) { return t }
            if CQLType.unsupportedNames.contains(name) {
                throw CQLSyntaxError(location: at.location, found: at.display, expected: nil,
                                     message: "type '\(name)' is not supported by Basalt", isUnsupported: true)
            }
            throw CQLSyntaxError(location: at.location, found: at.display, expected: "a type",
                                 message: "Unknown type \(name)", isUnsupported: true)
        }
    }

    /// `>`; a `>=` token cannot appear inside a type, so only `>` is accepted.
    mutating func closeAngle() throws(CQLSyntaxError) {
        try expectSymbol(">")
    }

    /// `name = value [AND name = value …]` after WITH.
    mutating func properties() throws(CQLSyntaxError) -> Properties {
        var out = Properties()
        repeat {
            let name = try propertyName()
            try expectSymbol("=")
            out.append(Property(name: name, value: try propertyValue()))
        } while acceptWord("and")
        return out
    }

    mutating func propertyName() throws(CQLSyntaxError) -> String {
        if case let .word(w) = current.kind { advance(); return w }
        return try identifier("property name")
    }

    mutating func propertyValue() throws(CQLSyntaxError) -> PropertyValue {
        if acceptSymbol("{") {
            var entries = [(String, String)]()
            if !acceptSymbol("}") {
                repeat {
                    let k = try constantText()
                    try expectSymbol(":")
                    entries.append((k, try constantText()))
                } while acceptSymbol(",")
                try expectSymbol("}")
            }
            return .map(entries)
        }
        return .constant(try constantText())
    }

    /// A constant's text: strings unquoted, numbers, booleans and words as written.
    mutating func constantText() throws(CQLSyntaxError) -> String {
        switch current.kind {
        case let .string(s): advance(); return s
        case let .integer(s), let .float(s): advance(); return s
        case let .word(w): advance(); return w
        case let .quotedName(n): advance(); return n
        default: throw mismatch(expecting: "a constant")
        }
    }
}
