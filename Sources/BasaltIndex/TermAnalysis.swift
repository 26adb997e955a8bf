/// How a text index turns a value into the term it stores and matches (Cassandra 5 SAI's
/// non-tokenizing analyzer options): `normalize` puts the text in Unicode NFC form,
/// `case_sensitive = false` lower-cases it, `ascii` folds accented Latin letters to their ASCII
/// base letters (é → e, ß → ss, æ → ae). The same analysis is applied to stored values and to
/// query values, so `WHERE t = 'ÉTUDE'` matches `étude` on a case-insensitive ascii index.
public struct TermAnalysis: Hashable, Sendable {
    public var caseSensitive: Bool
    public var normalize: Bool
    public var ascii: Bool

    public init(caseSensitive: Bool = true, normalize: Bool = false, ascii: Bool = false) {
        self.caseSensitive = caseSensitive
        self.normalize = normalize
        self.ascii = ascii
    }

    /// No analysis: terms are the values' bytes.
    public static let none = TermAnalysis()

    public var isIdentity: Bool { caseSensitive && !normalize && !ascii }

    /// The analysed form of a UTF-8 value (bytes that are not UTF-8 are kept as they are).
    public func apply(_ bytes: [UInt8]) -> [UInt8] {
        guard !isIdentity else { return bytes }
        var text = String(decoding: bytes, as: UTF8.self)
        guard Array(text.utf8) == bytes else { return bytes }
        // Folding and lower-casing can produce composed or decomposed forms: normalise last
        // as well when asked.
        if normalize { text = Self.nfc(text) }
        if !caseSensitive { text = text.lowercased() }
        if ascii { text = Self.foldToASCII(text) }
        if normalize { text = Self.nfc(text) }
        return Array(text.utf8)
    }

    static func nfc(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        s._withNFCCodeUnits { out.append($0) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Replaces Latin letters with diacritics (composed or followed by combining marks) and the
    /// common Latin ligatures by ASCII; other characters are kept.
    static func foldToASCII(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in nfc(s).unicodeScalars {
            let v = scalar.value
            if v < 0x80 { out.append(scalar); continue }
            // Combining diacritical marks (left over from decomposed input) are dropped.
            if v >= 0x300 && v <= 0x36F { continue }
            if let folded = latinFolding[v] {
                out.append(contentsOf: folded.unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Latin-1 Supplement and Latin Extended-A letters with their ASCII foldings.
    static let latinFolding: [UInt32: String] = {
        var m: [UInt32: String] = [:]
        func put(_ letters: String, _ ascii: String) {
            for s in letters.unicodeScalars { m[s.value] = ascii }
        }
        put("ÀÁÂÃÄÅĀĂĄ", "A"); put("àáâãäåāăą", "a")
        put("ÇĆĈĊČ", "C"); put("çćĉċč", "c")
        put("ĎĐÐ", "D"); put("ďđð", "d")
        put("ÈÉÊËĒĔĖĘĚ", "E"); put("èéêëēĕėęě", "e")
        put("ĜĞĠĢ", "G"); put("ĝğġģ", "g")
        put("ĤĦ", "H"); put("ĥħ", "h")
        put("ÌÍÎÏĨĪĬĮİ", "I"); put("ìíîïĩīĭįı", "i")
        put("Ĵ", "J"); put("ĵ", "j")
        put("Ķ", "K"); put("ķĸ", "k")
        put("ĹĻĽĿŁ", "L"); put("ĺļľŀł", "l")
        put("ÑŃŅŇŊ", "N"); put("ñńņňŉŋ", "n")
        put("ÒÓÔÕÖØŌŎŐ", "O"); put("òóôõöøōŏő", "o")
        put("ŔŖŘ", "R"); put("ŕŗř", "r")
        put("ŚŜŞŠ", "S"); put("śŝşšſ", "s")
        put("ŢŤŦ", "T"); put("ţťŧ", "t")
        put("ÙÚÛÜŨŪŬŮŰŲ", "U"); put("ùúûüũūŭůűų", "u")
        put("Ŵ", "W"); put("ŵ", "w")
        put("ÝŶŸ", "Y"); put("ýÿŷ", "y")
        put("ŹŻŽ", "Z"); put("źżž", "z")
        put("Æ", "AE"); put("æ", "ae"); put("Œ", "OE"); put("œ", "oe")
        put("Þ", "TH"); put("þ", "th"); put("ß", "ss"); put("Ĳ", "IJ"); put("ĳ", "ij")
        return m
    }()
}
