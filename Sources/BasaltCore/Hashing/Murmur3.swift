/// MurmurHash3 x64_128 exactly as Cassandra's `Murmur3Partitioner` computes it.
///
/// Follows Austin Appleby's reference (https://github.com/aappleby/smhasher, `MurmurHash3_x64_128`)
/// with Cassandra's one deviation: the tail bytes are read as Java *signed* bytes, so a tail byte
/// ≥ 0x80 is sign-extended before it is shifted into place. Every client driver reproduces that
/// behaviour, so tokens must too. Blocks are little-endian 64-bit words.
public enum Murmur3 {
    @usableFromInline static let c1: UInt64 = 0x87c3_7b91_1142_53d5
    @usableFromInline static let c2: UInt64 = 0x4cf5_ad43_2745_937f

    @inlinable @inline(__always)
    static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inlinable @inline(__always)
    static func fmix(_ k: UInt64) -> UInt64 {
        var k = k
        k ^= k >> 33
        k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }

    /// A tail byte as Java sees it: signed, widened to 64 bits.
    @inlinable @inline(__always)
    static func signed(_ b: UInt8) -> UInt64 { UInt64(bitPattern: Int64(Int8(bitPattern: b))) }

    /// The full 128-bit hash (h1, h2) with seed 0.
    @inlinable
    public static func hash128(_ key: UnsafeRawBufferPointer, seed: UInt64 = 0) -> (UInt64, UInt64) {
        let length = key.count
        let nblocks = length / 16
        var h1 = seed
        var h2 = seed
        for i in 0 ..< nblocks {
            var k1 = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: i * 16, as: UInt64.self))
            var k2 = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: i * 16 + 8, as: UInt64.self))
            k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
            h1 = rotl(h1, 27); h1 &+= h2; h1 = h1 &* 5 &+ 0x52dc_e729
            k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
            h2 = rotl(h2, 31); h2 &+= h1; h2 = h2 &* 5 &+ 0x3849_5ab5
        }
        let tail = nblocks * 16
        let rest = length & 15
        var k1: UInt64 = 0
        var k2: UInt64 = 0
        if rest > 8 {
            for j in stride(from: rest - 1, through: 8, by: -1) {
                k2 ^= signed(key[tail + j]) << UInt64((j - 8) * 8)
            }
            k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
        }
        if rest > 0 {
            for j in stride(from: min(rest, 8) - 1, through: 0, by: -1) {
                k1 ^= signed(key[tail + j]) << UInt64(j * 8)
            }
            k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
        }
        h1 ^= UInt64(length)
        h2 ^= UInt64(length)
        h1 &+= h2
        h2 &+= h1
        h1 = fmix(h1)
        h2 = fmix(h2)
        h1 &+= h2
        h2 &+= h1
        return (h1, h2)
    }

    /// The partitioner token of a serialized partition key.
    @inlinable
    public static func token(_ key: UnsafeRawBufferPointer) -> Token {
        let h = Int64(bitPattern: hash128(key).0)
        return Token(h == .min ? .max : h)
    }

    @inlinable
    public static func token(_ key: [UInt8]) -> Token {
        key.withUnsafeBytes { token($0) }
    }
}
