/// One lexical token of CQL text.
public struct CQLToken: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// An unquoted identifier or keyword, folded to lower case (`text` keeps the original).
        case word(String)
        /// A `"quoted"` identifier with `""` unescaped; case preserved.
        case quotedName(String)
        /// A `'string'` (with `''` unescaped) or `$$string$$`.
        case string(String)
        /// An integer literal, possibly negative, as written.
        case integer(String)
        /// A decimal or exponent literal, possibly negative, as written.
        case float(String)
        /// A `0x…` blob literal: the bytes.
        case hex([UInt8])
        /// A bare UUID literal, as written.
        case uuid(String)
        /// A punctuation or operator symbol: ( ) [ ] { } , ; . = < <= > >= != + - * : ?
        case symbol(String)
        case endOfInput
    }

    public var kind: Kind
    /// The source text of the token.
    public var text: String
    public var location: SourceLocation
    /// UTF-8 offset one past the token's last byte.
    public var endOffset: Int

    /// Whether this token is the unquoted keyword `k` (lower-case).
    @inlinable public func isWord(_ k: String) -> Bool {
        if case let .word(w) = kind { return w == k }
        return false
    }

    @inlinable public func isSymbol(_ s: String) -> Bool {
        if case let .symbol(x) = kind { return x == s }
        return false
    }

    /// How error messages quote this token.
    public var display: String {
        if case .endOfInput = kind { return "<EOF>" }
        return text
    }
}

/// Splits CQL text into tokens (Cassandra's `Lexer.g` rules for what Basalt accepts): keywords
/// and identifiers case-insensitive and folded to lower case, `"quoted"` names, `'strings'` with
/// `''`, `$$strings$$`, integers and floats (leading `-`, exponents), `0x` blobs, bare UUIDs,
/// comments `--`, `//` and `/* */`. Never traps: malformed text gives a ``CQLSyntaxError``.
public struct CQLLexer {
    let bytes: [UInt8]
    let source: String
    var i = 0
    var line = 1
    var lineStart = 0
    /// A known (offset, column) on the current line, so locating tokens stays linear.
    var columnMark = (offset: 0, column: 0)

    public init(_ text: String) {
        source = text
        bytes = Array(text.utf8)
    }

    /// All tokens, ending with `.endOfInput`.
    public static func tokenize(_ text: String) throws(CQLSyntaxError) -> [CQLToken] {
        var lexer = CQLLexer(text)
        var out = [CQLToken]()
        while true {
            let t = try lexer.next()
            out.append(t)
            if case .endOfInput = t.kind { return out }
        }
    }

    var location: SourceLocation { location(at: i) }

    /// The location of `offset` (on the current line, at or after the last located one), in
    /// time proportional to the distance from the previous call.
    mutating func locate(_ offset: Int) -> SourceLocation {
        if columnMark.offset < lineStart || columnMark.offset > offset { columnMark = (lineStart, 0) }
        var column = columnMark.column
        var k = columnMark.offset
        while k < offset && k < bytes.count {
            if bytes[k] & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        columnMark = (offset, column)
        return SourceLocation(line: line, column: column, offset: offset)
    }

    func location(at offset: Int) -> SourceLocation {
        var column = 0
        var k = lineStart
        while k < offset && k < bytes.count {
            if bytes[k] & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        return SourceLocation(line: line, column: column, offset: offset)
    }

    func peek(_ d: Int = 0) -> UInt8 { i + d < bytes.count ? bytes[i + d] : 0 }

    func text(_ from: Int, _ to: Int) -> String { String(decoding: bytes[from ..< min(to, bytes.count)], as: UTF8.self) }

    mutating func newline(at k: Int) {
        line += 1
        lineStart = k + 1
    }

    mutating func skipSpaceAndComments() throws(CQLSyntaxError) {
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x0A { newline(at: i); i += 1; continue }
            if c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0C { i += 1; continue }
            if (c == UInt8(ascii: "-") && peek(1) == UInt8(ascii: "-")) || (c == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "/")) {
                while i < bytes.count && bytes[i] != 0x0A { i += 1 }
                continue
            }
            if c == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*") {
                let start = location
                i += 2
                while true {
                    guard i < bytes.count else {
                        throw CQLSyntaxError(location: start, found: "<EOF>", expected: "*/",
                                             message: "line \(start.line):\(start.column) unterminated comment, expecting '*/'")
                    }
                    if bytes[i] == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/") { i += 2; break }
                    if bytes[i] == 0x0A { newline(at: i) }
                    i += 1
                }
                continue
            }
            return
        }
    }

    static func isIdentStart(_ c: UInt8) -> Bool { (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) }
    static func isIdentPart(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) || c == UInt8(ascii: "_") }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30 ... 0x39: c - 0x30
        case 0x61 ... 0x66: c - 0x61 + 10
        case 0x41 ... 0x46: c - 0x41 + 10
        default: nil
        }
    }

    public mutating func next() throws(CQLSyntaxError) -> CQLToken {
        try skipSpaceAndComments()
        let start = locate(i)
        let s = i
        func token(_ kind: CQLToken.Kind) -> CQLToken {
            CQLToken(kind: kind, text: text(s, i), location: start, endOffset: i)
        }
        guard i < bytes.count else { return token(.endOfInput) }
        let c = bytes[i]

        if let u = matchUUID() {
            i += 36
            return token(.uuid(u))
        }
        if c == UInt8(ascii: "0") && (peek(1) | 0x20) == UInt8(ascii: "x") {
            i += 2
            var nibbles = [UInt8]()
            while i < bytes.count, let v = Self.hexValue(bytes[i]) {
                nibbles.append(v)
                i += 1
            }
            // An odd digit count reads as if it had a leading zero, as Cassandra's Hex does.
            if nibbles.count % 2 == 1 { nibbles.insert(0, at: 0) }
            var hex = [UInt8]()
            hex.reserveCapacity(nibbles.count / 2)
            var k = 0
            while k < nibbles.count { hex.append(nibbles[k] << 4 | nibbles[k + 1]); k += 2 }
            if i < bytes.count && Self.isIdentPart(bytes[i]) { throw bad(at: s, "malformed blob literal '\(text(s, i + 1))'") }
            return token(.hex(hex))
        }
        if Self.isDigit(c) || (c == UInt8(ascii: "-") && Self.isDigit(peek(1))) {
            return try number(start: start)
        }
        if Self.isIdentStart(c) {
            while i < bytes.count && Self.isIdentPart(bytes[i]) { i += 1 }
            return token(.word(text(s, i).lowercased()))
        }
        switch c {
        case UInt8(ascii: "\""):
            return token(.quotedName(try quoted(0x22, start: start)))
        case UInt8(ascii: "'"):
            return token(.string(try quoted(0x27, start: start)))
        case UInt8(ascii: "$") where peek(1) == UInt8(ascii: "$"):
            i += 2
            let bodyStart = i
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "$") && peek(1) == UInt8(ascii: "$") {
                    let body = text(bodyStart, i)
                    i += 2
                    return token(.string(body))
                }
                if bytes[i] == 0x0A { newline(at: i) }
                i += 1
            }
            throw CQLSyntaxError(location: start, found: "<EOF>", expected: "$$",
                                 message: "line \(start.line):\(start.column) unterminated $$ string, expecting '$$'")
        default:
            break
        }
        let two = text(i, i + 2)
        if ["<=", ">=", "!=", "+=", "-="].contains(two) {
            i += 2
            return token(.symbol(two))
        }
        if "()[]{},;.=<>+-*:?".utf8.contains(c) {
            i += 1
            return token(.symbol(String(UnicodeScalar(c))))
        }
        // Report the whole (possibly multi-byte) character.
        var e = i + 1
        while e < bytes.count && bytes[e] & 0xC0 == 0x80 { e += 1 }
        throw CQLSyntaxError(location: start, found: text(i, e), expected: nil,
                             message: "line \(start.line):\(start.column) no viable alternative at character '\(text(i, e))'")
    }

    func bad(at offset: Int, _ what: String) -> CQLSyntaxError {
        let l = location(at: offset)
        return CQLSyntaxError(location: l, found: text(offset, min(offset + 16, bytes.count)), expected: nil, message: "line \(l.line):\(l.column) \(what)")
    }

    mutating func number(start: SourceLocation) throws(CQLSyntaxError) -> CQLToken {
        let s = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        while i < bytes.count && Self.isDigit(bytes[i]) { i += 1 }
        var isFloat = false
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") && Self.isDigit(peek(1)) {
            isFloat = true
            i += 1
            while i < bytes.count && Self.isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count && (bytes[i] | 0x20) == UInt8(ascii: "e") {
            var k = i + 1
            if k < bytes.count && (bytes[k] == UInt8(ascii: "+") || bytes[k] == UInt8(ascii: "-")) { k += 1 }
            if k < bytes.count && Self.isDigit(bytes[k]) {
                isFloat = true
                i = k
                while i < bytes.count && Self.isDigit(bytes[i]) { i += 1 }
            }
        }
        if i < bytes.count && Self.isIdentPart(bytes[i]) {
            // e.g. 12abc: not a number; durations and the like are not supported.
            var e = i
            while e < bytes.count && Self.isIdentPart(bytes[e]) { e += 1 }
            let l = location(at: s)
            throw CQLSyntaxError(location: l, found: text(s, e), expected: nil,
                                 message: "line \(l.line):\(l.column) no viable alternative at input '\(text(s, e))'")
        }
        let t = text(s, i)
        return CQLToken(kind: isFloat ? .float(t) : .integer(t), text: t, location: start, endOffset: i)
    }

    /// A quoted name or string: the body with doubled quotes unescaped.
    mutating func quoted(_ q: UInt8, start: SourceLocation) throws(CQLSyntaxError) -> String {
        i += 1
        var out = [UInt8]()
        while i < bytes.count {
            let c = bytes[i]
            if c == q {
                if peek(1) == q { out.append(q); i += 2; continue }
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c == 0x0A { newline(at: i) }
            out.append(c)
            i += 1
        }
        let quote = q == 0x22 ? "\"" : "'"
        let end = location
        throw CQLSyntaxError(location: end, found: "<EOF>", expected: quote,
                             message: "line \(end.line):\(end.column) mismatched character '<EOF>' expecting '\(quote)' (unterminated \(q == 0x22 ? "quoted identifier" : "string") starting at \(start.line):\(start.column))")
    }

    /// A bare UUID at the cursor (8-4-4-4-12 hex digits, not followed by an identifier character).
    func matchUUID() -> String? {
        guard i + 36 <= bytes.count else { return nil }
        for k in 0 ..< 36 {
            let c = bytes[i + k]
            if k == 8 || k == 13 || k == 18 || k == 23 {
                if c != UInt8(ascii: "-") { return nil }
            } else if Self.hexValue(c) == nil {
                return nil
            }
        }
        if i + 36 < bytes.count && Self.isIdentPart(bytes[i + 36]) { return nil }
        return text(i, i + 36)
    }
}
