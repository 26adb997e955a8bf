import Testing
import BasaltCore

/// Vectors from docs/CQL-COMPAT.md §4, checked against the Python driver's murmur3.
struct Murmur3Tests {
    static let vectors: [([UInt8], Int64)] = [
        (Array("123".utf8), -7468325962851647638),
        (Array(repeating: [0x00, 0xff, 0x10, 0xfa, 0x99] as [UInt8], count: 10).flatMap { $0 }, 5837342703291459765),
        (Array(repeating: 0xfe, count: 8), -8927430733708461935),
        (Array(repeating: 0x10, count: 8), 1446172840243228796),
        (Array("9223372036854775807".utf8), 7162290910810015547),
        ([], 0),
        ([0, 0, 0, 1], -4069959284402364209),
        ([0, 0, 0, 0], -3485513579396041028),
        ([0, 0, 0, 0, 0, 0, 0, 1], 6292367497774912474),
        (Array("a".utf8), -8839064797231613815),
        (Array(0x80 ... 0x90), -3616694464407856223),
        ([0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00], 6516349416904725244),
    ]

    @Test(arguments: vectors)
    func tokenMatchesCassandra(input: [UInt8], expected: Int64) {
        #expect(Murmur3.token(input) == Token(expected))
    }

    @Test func compositeKeyLayout() {
        let key = TableSchema.partitionKeyBytes([[0, 0, 0, 1], Array("a".utf8)])
        #expect(key == [0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00])
        #expect(Murmur3.token(key) == Token(6516349416904725244))
    }

    @Test func tokenRangeContainment() {
        let r = TokenRange(start: Token(10), end: Token(20))
        #expect(!r.contains(Token(10)) && r.contains(Token(11)) && r.contains(Token(20)) && !r.contains(Token(21)))
        let w = TokenRange(start: Token(20), end: Token(-5))
        #expect(w.wraps && w.contains(Token(21)) && w.contains(Token.max) && w.contains(Token(-5)) && !w.contains(Token(0)))
        #expect(w.unwrapped == [TokenRange(start: .min, end: Token(-5)), TokenRange(start: Token(20), end: .min)])
        let all = TokenRange(start: Token(3), end: Token(3))
        #expect(all.contains(Token(3)) && all.contains(Token(-100)) && all.contains(Token(100)))
    }
}
