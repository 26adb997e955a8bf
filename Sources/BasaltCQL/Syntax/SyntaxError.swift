import BasaltProtocol
/// A position in CQL source text.
///
/// `line` counts from 1 and `column` from 0 (characters since the line start), the convention of
/// Cassandra's ANTLR-generated errors (`line 1:7 …`); `offset` is the UTF-8 byte offset.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var offset: Int

    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    public var description: String { "\(line):\(column)" }
}

/// Why a statement could not be parsed, with where and what.
///
/// The message is shaped like Cassandra's: `line 1:9 mismatched input 'FORM' expecting FROM
/// (SELECT * [FORM] t...)` or `line 1:7 no viable alternative at input 'x'`. Statements Basalt
/// recognises but does not support (roles, permissions, user types, counters…) are reported with
/// ``isUnsupported`` set, answered as Invalid rather than Syntax errors.
public struct CQLSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    /// The offending input as written ('<EOF>' at the end).
    public var found: String
    /// What would have been accepted there, if known.
    public var expected: String?
    public var message: String
    public var isUnsupported: Bool

    public init(location: SourceLocation, found: String, expected: String?, message: String, isUnsupported: Bool = false) {
        self.location = location
        self.found = found
        self.expected = expected
        self.message = message
        self.isUnsupported = isUnsupported
    }

    public var description: String { message }

    /// The protocol error: 0x2000 Syntax, or 0x2200 Invalid for unsupported statements.
    public var cqlError: CQLError { isUnsupported ? .invalid(message) : .syntaxError(message) }
}
