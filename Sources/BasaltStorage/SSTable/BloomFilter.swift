import BasaltCore

/// A Bloom filter over partition keys (Bloom, "Space/time trade-offs in hash coding with allowable
/// errors", CACM 1970), probed with double hashing of the key's Murmur3 x64_128 halves
/// (Kirsch & Mitzenmacher, "Less Hashing, Same Performance", 2006): probe i is `h1 + i·h2 mod m`.
///
/// Sized for a target false-positive rate p: m = -n·ln p / (ln 2)² bits, k = m/n · ln 2 probes.
/// It never answers "absent" for a key that was added.
struct BloomFilter: Sendable {
    private(set) var words: [UInt64]
    let bitCount: UInt64
    let hashCount: Int

    init(expectedKeys: Int, falsePositiveRate: Double) {
        let n = Double(max(expectedKeys, 1))
        let p = min(max(falsePositiveRate, 1e-6), 0.5)
        let m = max(64, Int((-n * log(p) / (0.6931471805599453 * 0.6931471805599453)).rounded(.up)))
        let words = (m + 63) / 64
        self.words = [UInt64](repeating: 0, count: words)
        bitCount = UInt64(words * 64)
        hashCount = min(30, max(1, Int((Double(words * 64) / n * 0.6931471805599453).rounded())))
    }

    init(words: [UInt64], hashCount: Int) {
        self.words = words
        bitCount = UInt64(words.count * 64)
        self.hashCount = hashCount
    }

    @inlinable
    mutating func add(_ h: (UInt64, UInt64)) {
        var x = h.0
        for _ in 0 ..< hashCount {
            let bit = x % bitCount
            words[Int(bit >> 6)] |= 1 << (bit & 63)
            x &+= h.1
        }
    }

    @inlinable
    func mightContain(_ h: (UInt64, UInt64)) -> Bool {
        var x = h.0
        return words.withUnsafeBufferPointer { w in
            for _ in 0 ..< hashCount {
                let bit = x % bitCount
                if w[Int(bit >> 6)] & (1 << (bit & 63)) == 0 { return false }
                x &+= h.1
            }
            return true
        }
    }

    /// File layout: magic "BSBF", version, hash count (u8), word count (u64), words (LE), CRC32C of
    /// everything before it.
    func serialized() -> [UInt8] {
        var w = ByteWriter(capacity: 20 + words.count * 8)
        w.writeBytes(Array("BSBF".utf8))
        w.writeUInt8(1)
        w.writeUInt8(UInt8(hashCount))
        w.writeUInt64(UInt64(words.count))
        for x in words { w.writeUInt64LE(x) }
        w.writeUInt32LE(Checksum.crc32c(w.bytes))
        return w.bytes
    }

    static func deserialize(_ bytes: [UInt8], path: String) throws -> BloomFilter {
        try SSTableMetadata.checked(bytes, magic: "BSBF", path: path) { r throws(DecodeError) in
            let k = Int(try r.readUInt8())
            let n = try r.readUInt64()
            guard k >= 1, n >= 1, n == UInt64(r.remaining / 8), r.remaining % 8 == 0 else {
                throw DecodeError.invalid("bloom filter header inconsistent with its size", at: 5)
            }
            var words = [UInt64]()
            words.reserveCapacity(Int(n))
            for _ in 0 ..< n { words.append(try r.readUInt64LE()) }
            return BloomFilter(words: words, hashCount: k)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
