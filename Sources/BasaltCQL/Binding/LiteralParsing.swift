import BasaltCore

/// Text forms of CQL values that literals may use: timestamps, dates, times and addresses.
/// All parsing is Foundation-free and total (nil on anything malformed).
public enum LiteralParsing {
    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    struct Cursor {
        let b: [UInt8]
        var i = 0
        var atEnd: Bool { i >= b.count }
        func peek() -> UInt8? { i < b.count ? b[i] : nil }
        mutating func accept(_ c: Character) -> Bool {
            guard let p = peek(), p == c.asciiValue else { return false }
            i += 1
            return true
        }
        /// Exactly `min...max` decimal digits.
        mutating func digits(_ minCount: Int, _ maxCount: Int) -> (Int64, Int)? {
            var v: Int64 = 0
            var n = 0
            while n < maxCount, let p = peek(), p >= 0x30, p <= 0x39 {
                v = v * 10 + Int64(p - 0x30)
                n += 1
                i += 1
            }
            return n >= minCount ? (v, n) : nil
        }
    }

    static func date(_ c: inout Cursor) -> Int64? {
        let negative = c.accept("-")
        guard let (y, _) = c.digits(1, 9), c.accept("-"), let (m, _) = c.digits(1, 2), c.accept("-"), let (d, _) = c.digits(1, 2),
              (1 ... 12).contains(m), (1 ... 31).contains(d)
        else { return nil }
        let year = negative ? -y : y
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let monthDays: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= monthDays[Int(m - 1)] else { return nil }
        return daysFromCivil(year: year, month: m, day: d)
    }

    /// `hh:mm[:ss[.fraction]]` as nanoseconds since midnight.
    static func timeOfDay(_ c: inout Cursor, requireSeconds: Bool) -> Int64? {
        guard let (h, _) = c.digits(1, 2), c.accept(":"), let (mi, _) = c.digits(2, 2), h < 24, mi < 60 else { return nil }
        var nanos = (h * 3600 + mi * 60) * 1_000_000_000
        if c.accept(":") {
            guard let (s, _) = c.digits(2, 2), s < 60 else { return nil }
            nanos += s * 1_000_000_000
            if c.accept(".") {
                guard let (f, n) = c.digits(1, 9) else { return nil }
                var frac = f
                for _ in n ..< 9 { frac *= 10 }
                nanos += frac
            }
        } else if requireSeconds {
            return nil
        }
        return nanos
    }

    /// Milliseconds since the epoch from Cassandra's timestamp formats: `yyyy-mm-dd`,
    /// `yyyy-mm-dd[ T]hh:mm[:ss[.fff]]`, with an optional zone `Z`, `+hh`, `+hhmm` or `+hh:mm`
    /// (UTC when absent).
    public static func timestampMillis(_ text: String) -> Int64? {
        var c = Cursor(b: Array(text.utf8))
        guard let days = date(&c) else { return nil }
        var nanos: Int64 = 0
        if c.accept(" ") || c.accept("T") || c.accept("t") {
            guard let t = timeOfDay(&c, requireSeconds: false) else { return nil }
            nanos = t
        }
        var offsetMinutes: Int64 = 0
        _ = c.accept(" ")
        if c.accept("Z") || c.accept("z") {
        } else if let sign = c.peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            c.i += 1
            guard let (hh, _) = c.digits(2, 2) else { return nil }
            var mm: Int64 = 0
            _ = c.accept(":")
            if let (m, _) = c.digits(2, 2) { mm = m }
            offsetMinutes = (hh * 60 + mm) * (sign == UInt8(ascii: "-") ? -1 : 1)
        }
        guard c.atEnd else { return nil }
        let (ms, o1) = days.multipliedReportingOverflow(by: 86_400_000)
        guard !o1 else { return nil }
        return ms + nanos / 1_000_000 - offsetMinutes * 60_000
    }

    /// A `date` value (days with the epoch at 2³¹) from `yyyy-mm-dd`.
    public static func dateValue(_ text: String) -> UInt32? {
        var c = Cursor(b: Array(text.utf8))
        guard let days = date(&c), c.atEnd else { return nil }
        let v = days + (1 << 31)
        guard v >= 0, v <= Int64(UInt32.max) else { return nil }
        return UInt32(v)
    }

    /// A `time` value (ns since midnight) from `hh:mm:ss[.fffffffff]`.
    public static func timeValue(_ text: String) -> Int64? {
        var c = Cursor(b: Array(text.utf8))
        guard let t = timeOfDay(&c, requireSeconds: true), c.atEnd else { return nil }
        return t
    }

    /// 4 or 16 address bytes from dotted-quad or colon-hex (with `::`, and a trailing dotted quad).
    public static func inetBytes(_ text: String) -> [UInt8]? {
        if !text.contains(":") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var out = [UInt8]()
            for p in parts {
                guard !p.isEmpty, p.count <= 3, let v = UInt8(p) else { return nil }
                out.append(v)
            }
            return out
        }
        let halves = text.components(separatedByString: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt8]? {
            if s.isEmpty { return [] }
            var out = [UInt8]()
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in parts.enumerated() {
                if i == parts.count - 1, p.contains("."), let v4 = inetBytes(String(p)), v4.count == 4 {
                    out += v4
                    continue
                }
                guard !p.isEmpty, p.count <= 4, let v = UInt16(p, radix: 16) else { return nil }
                out.append(UInt8(v >> 8))
                out.append(UInt8(v & 0xff))
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count < 16 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

extension String {
    /// Splits on every occurrence of `separator` (Foundation-free).
    func components(separatedByString separator: String) -> [String] {
        var out = [String]()
        var rest = self[...]
        while let r = rest.firstRange(of: separator) {
            out.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }
}
