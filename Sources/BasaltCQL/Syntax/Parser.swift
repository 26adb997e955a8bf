/// A recursive-descent parser for the CQL subset of docs/cql.md.
///
/// `CQLParser.parse(text)` returns one statement (a trailing `;` is allowed) with its bind markers
/// numbered in order of appearance, or throws a ``CQLSyntaxError`` naming the line, column, the
/// input found and what was expected there. It never traps and always terminates: every loop
/// consumes a token or stops, and nesting depth is bounded.
public struct CQLParser {
    var tokens: [CQLToken]
    var p = 0
    let text: String
    var markers: [BindMarker] = []
    var depth = 0
    static let maxDepth = 64

    /// Keywords that cannot be used as unquoted identifiers (Cassandra's reserved keywords).
    public static let reservedWords: Set<String> = [
        "add", "allow", "alter", "and", "apply", "asc", "authorize", "batch", "begin", "by", "columnfamily", "create",
        "delete", "desc", "describe", "drop", "entries", "execute", "from", "full", "grant", "if", "in", "index",
        "infinity", "insert", "into", "is", "keyspace", "limit", "materialized", "mbean", "mbeans", "modify", "nan",
        "norecursive", "not", "null", "of", "on", "or", "order", "primary", "rename", "replace", "revoke", "schema",
        "select", "set", "table", "to", "token", "truncate", "unlogged", "unset", "update", "use", "using", "view",
        "where", "with",
    ]

    init(text: String) throws(CQLSyntaxError) {
        self.text = text
        tokens = try CQLLexer.tokenize(text)
    }

    /// Parses one statement.
    public static func parse(_ text: String) throws(CQLSyntaxError) -> ParsedStatement {
        var parser = try CQLParser(text: text)
        let statement = try parser.statement()
        while parser.acceptSymbol(";") {}
        guard parser.atEnd else { throw parser.mismatch(expecting: "<EOF>") }
        return ParsedStatement(statement: statement, markers: parser.markers, text: text)
    }

    // MARK: - Token access

    var current: CQLToken { tokens[min(p, tokens.count - 1)] }
    var atEnd: Bool { if case .endOfInput = current.kind { true } else { false } }

    func peek(_ d: Int) -> CQLToken { tokens[min(p + d, tokens.count - 1)] }

    mutating func advance() {
        if p < tokens.count - 1 { p += 1 }
    }

    func isWord(_ k: String) -> Bool { current.isWord(k) }

    mutating func acceptWord(_ k: String) -> Bool {
        guard isWord(k) else { return false }
        advance()
        return true
    }

    mutating func expectWord(_ k: String) throws(CQLSyntaxError) {
        guard acceptWord(k) else { throw mismatch(expecting: k.uppercased()) }
    }

    mutating func acceptSymbol(_ s: String) -> Bool {
        guard current.isSymbol(s) else { return false }
        advance()
        return true
    }

    mutating func expectSymbol(_ s: String) throws(CQLSyntaxError) {
        guard acceptSymbol(s) else { throw mismatch(expecting: "'\(s)'") }
    }

    mutating func enter() throws(CQLSyntaxError) {
        depth += 1
        if depth > Self.maxDepth { throw failure("expression nested too deeply") }
    }

    mutating func leave() { depth -= 1 }

    // MARK: - Errors

    /// `(… [token] next...)`: where in the statement the error is, as Cassandra prints it.
    func context() -> String {
        let t = current
        let bytes = Array(text.utf8)
        let start = max(0, t.location.offset - 40)
        var before = String(decoding: bytes[start ..< min(t.location.offset, bytes.count)], as: UTF8.self)
        if start > 0 { before = "..." + before }
        let next = peek(1)
        var after = ""
        if case .endOfInput = next.kind {} else if !atEnd { after = " " + next.text }
        return "(\(before)[\(t.display)]\(after)...)"
    }

    func mismatch(expecting what: String) -> CQLSyntaxError {
        let t = current
        return CQLSyntaxError(location: t.location, found: t.display, expected: what,
                              message: "line \(t.location.line):\(t.location.column) mismatched input '\(t.display)' expecting \(what) \(context())")
    }

    func noViableAlternative(expecting what: String? = nil) -> CQLSyntaxError {
        let t = current
        return CQLSyntaxError(location: t.location, found: t.display, expected: what,
                              message: "line \(t.location.line):\(t.location.column) no viable alternative at input '\(t.display)' \(context())")
    }

    func failure(_ what: String) -> CQLSyntaxError {
        let t = current
        return CQLSyntaxError(location: t.location, found: t.display, expected: nil, message: "line \(t.location.line):\(t.location.column) \(what)")
    }

    func unsupported(_ what: String) -> CQLSyntaxError {
        let t = tokens[0]
        return CQLSyntaxError(location: t.location, found: t.display, expected: nil, message: "\(what) is not supported by Basalt", isUnsupported: true)
    }

    /// A statement that parses but that Cassandra refuses as invalid (0x2200), with its message.
    func invalidRequest(_ message: String) -> CQLSyntaxError {
        let t = current
        return CQLSyntaxError(location: t.location, found: t.display, expected: nil, message: message, isUnsupported: true)
    }

    // MARK: - Names

    /// An identifier: an unquoted non-reserved word (folded to lower case) or a quoted name.
    mutating func identifier(_ what: String = "identifier") throws(CQLSyntaxError) -> String {
        switch current.kind {
        case let .word(w) where !Self.reservedWords.contains(w):
            advance()
            return w
        case let .quotedName(n):
            advance()
            return n
        default:
            throw mismatch(expecting: what)
        }
    }

    var atIdentifier: Bool {
        switch current.kind {
        case let .word(w): !Self.reservedWords.contains(w)
        case .quotedName: true
        default: false
        }
    }

    /// `name` or `keyspace.name`.
    mutating func qualifiedName(_ what: String = "identifier") throws(CQLSyntaxError) -> QualifiedName {
        let first = try identifier(what)
        if acceptSymbol(".") { return QualifiedName(keyspace: first, name: try identifier(what)) }
        return QualifiedName(name: first)
    }

    mutating func ifNotExists() throws(CQLSyntaxError) -> Bool {
        guard acceptWord("if") else { return false }
        try expectWord("not")
        try expectWord("exists")
        return true
    }

    mutating func ifExists() throws(CQLSyntaxError) -> Bool {
        guard acceptWord("if") else { return false }
        try expectWord("exists")
        return true
    }

    // MARK: - Statements

    mutating func statement() throws(CQLSyntaxError) -> Statement {
        guard case let .word(w) = current.kind else { throw noViableAlternative() }
        switch w {
        case "use":
            advance()
            return .use(try identifier("keyspace name"))
        case "create": return try createStatement()
        case "alter": return try alterStatement()
        case "drop": return try dropStatement()
        case "truncate":
            advance()
            _ = acceptWord("table")
            return .truncate(try qualifiedName("table name"))
        case "insert": return .insert(try insertStatement())
        case "update": return .update(try updateStatement())
        case "delete": return .delete(try deleteStatement())
        case "begin": return .batch(try batchStatement())
        case "select": return .select(try selectStatement())
        case "describe", "desc": return .describe(try describeStatement())
        case "grant", "revoke":
            advance()
            return .auth(try grantStatement(grant: w == "grant"))
        case "list":
            advance()
            return .auth(try listStatement())
        default:
            throw noViableAlternative()
        }
    }
}
