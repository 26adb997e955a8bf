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

    /// File layout: magic "BSBF", version, hash count (u8), word count (u64 BE), words (LE),
    /// CRC32C of everything before it. Written and read without a copy of the words in memory (a
    /// large compaction's filter takes megabytes, and its copies showed as a spike of resident
    /// memory when the compaction finished).
    func write(to path: String) throws {
        var header = ByteWriter(capacity: 14)
        header.writeBytes(Array("BSBF".utf8))
        header.writeUInt8(1)
        header.writeUInt8(UInt8(hashCount))
        header.writeUInt64(UInt64(words.count))
        try FileSystem.writeChecksummed(path, header: header.bytes) { write in
            try Self.withLittleEndianPieces(words, write)
        }
    }

    static func read(from path: String) throws -> BloomFilter {
        let file = try ReadOnlyFile(path: path)
        func corrupt(_ offset: Int, _ reason: String) -> StorageError { .corrupt(path: path, offset: offset, reason: reason) }
        guard file.size >= 18 else { throw corrupt(0, "file too short (\(file.size) bytes)") }
        var header = [UInt8](repeating: 0, count: 14)
        try header.withUnsafeMutableBytes { try file.read(at: 0, 14, into: $0) }
        try header.withUnsafeBytes { try SSTableMetadata.checkMagic($0, magic: "BSBF", path: path) }
        let k = Int(header[5])
        let n = header[6 ..< 14].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard k >= 1, n >= 1, n == UInt64((file.size - 18) / 8), (file.size - 18) % 8 == 0 else {
            throw corrupt(5, "bloom filter header inconsistent with its size")
        }
        let words = try [UInt64](unsafeUninitializedCapacity: Int(n)) { buf, count in
            try file.read(at: 14, Int(n) * 8, into: UnsafeMutableRawBufferPointer(buf))
            count = Int(n)
        }
        var crc = header.withUnsafeBytes { Checksum.update(0, $0) }
        try withLittleEndianPieces(words) { crc = Checksum.update(crc, $0) }
        try SSTableMetadata.checkCRC(stored: SSTableMetadata.storedCRC(file), computed: crc, path: path, at: file.size - 4)
        return BloomFilter(words: 1.littleEndian == 1 ? words : words.map { UInt64(littleEndian: $0) }, hashCount: k)
    }

    /// The words' little-endian bytes, a piece at a time (the words' own memory on a
    /// little-endian machine).
    private static func withLittleEndianPieces(_ words: [UInt64], _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if 1.littleEndian == 1 {
            try words.withUnsafeBytes { all in
                var at = 0
                while at < all.count {
                    let end = min(all.count, at + (1 << 20))
                    try body(UnsafeRawBufferPointer(rebasing: all[at ..< end]))
                    at = end
                }
            }
        } else {
            var at = 0
            while at < words.count {
                let piece = words[at ..< min(words.count, at + (1 << 17))].map(\.littleEndian)
                try piece.withUnsafeBytes { try body($0) }
                at += piece.count
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
