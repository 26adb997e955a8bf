import Testing
import BasaltCore

struct BytesTests {
    @Test func crc32cKnownValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func crc32cIncrementalEqualsWhole() {
        var g = SystemRandomNumberGenerator()
        let data = (0 ..< 1000).map { _ in UInt8.random(in: 0 ... 255, using: &g) }
        let whole = CRC32C.checksum(data)
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let a = data[..<split].withUnsafeBytes { CRC32C.update(0, $0) }
            let b = data[split...].withUnsafeBytes { CRC32C.update(a, $0) }
            #expect(b == whole)
        }
    }

    @Test func roundTripsEveryWidth() throws {
        var w = ByteWriter()
        w.writeUInt8(0xab); w.writeInt16(-2); w.writeInt32(-3); w.writeInt64(.min); w.writeFloat(1.5); w.writeDouble(-2.25)
        w.writeVarUInt(0); w.writeVarUInt(300); w.writeVarUInt(.max); w.writeVarInt(-1); w.writeVarInt(.min)
        w.writeVarString("héllo"); w.writeUInt32LE(0x0102_0304); w.writeUInt64LE(42)
        var r = ByteReader(w.bytes)
        #expect(try r.readUInt8() == 0xab)
        #expect(try r.readInt16() == -2)
        #expect(try r.readInt32() == -3)
        #expect(try r.readInt64() == .min)
        #expect(try r.readFloat() == 1.5)
        #expect(try r.readDouble() == -2.25)
        #expect(try r.readVarUInt() == 0)
        #expect(try r.readVarUInt() == 300)
        #expect(try r.readVarUInt() == .max)
        #expect(try r.readVarInt() == -1)
        #expect(try r.readVarInt() == .min)
        #expect(try r.readVarString() == "héllo")
        #expect(try r.readUInt32LE() == 0x0102_0304)
        #expect(try r.readUInt64LE() == 42)
        #expect(r.isAtEnd)
    }

    @Test func truncatedInputThrowsNeverTraps() {
        var r = ByteReader([0x00, 0x01])
        #expect(throws: DecodeError.truncated(needed: 4, available: 2, at: 0)) { try r.readUInt32() }
        var v = ByteReader([0xff, 0xff])
        #expect(throws: DecodeError.self) { try v.readVarUInt() }
        var huge = ByteReader([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
        #expect(throws: DecodeError.self) { try huge.readVarUInt() }
        var badLength = ByteReader([0x05, 0x41])
        #expect(throws: DecodeError.self) { try badLength.readVarBytes() }
        var badUTF8 = ByteReader([0x02, 0xc3, 0x28])
        #expect(throws: DecodeError.self) { try badUTF8.readVarString() }
    }

    @Test func uuidTextAndTime() throws {
        let u = try #require(UUIDValue("550E8400-e29b-41d4-a716-446655440000"))
        #expect(u.description == "550e8400-e29b-41d4-a716-446655440000")
        #expect(u.version == 4)
        #expect(UUIDValue("550e8400e29b41d4a716446655440000") == nil)
        let t = UUIDValue.timeBased(unixMicros: 1_700_000_000_123_000, sequenceAndNode: 0x1234)
        #expect(t.version == 1)
        #expect(t.unixMillis == 1_700_000_000_123)
        #expect(UUIDValue(t.description) == t)
    }

    @Test func timestampGeneratorIsStrictlyIncreasing() {
        let clock = ManualClock()
        let g = TimestampGenerator(clock: clock)
        let a = g.next(), b = g.next()
        clock.setWall(micros: clock.now().micros - 1_000_000)
        let c = g.next()
        #expect(a < b && b < c)
    }
}

/// Downstream modules name the injected clock unqualified.
struct ClockNamingTests {
    @Test func injectedClockIsUsableByName() {
        let clocks: [any Clock] = [SystemClock(), ManualClock()]
        #expect(clocks.allSatisfy { $0.now().micros > 0 && $0.monotonicNanos() > 0 })
    }
}

struct MD5Tests {
    /// RFC 1321 appendix A.5 test suite.
    @Test(arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func rfcVectors(input: String, hex: String) {
        #expect(MD5.digest(Array(input.utf8)).hexString == hex)
    }

    @Test func nameBasedUUIDSetsVersion3() {
        // Java: UUID.nameUUIDFromBytes("abc".getBytes()) = 90015098-3cd2-3fb0-9696-3f7d28e17f72
        #expect(UUIDValue.nameBased(Array("abc".utf8)).description == "90015098-3cd2-3fb0-9696-3f7d28e17f72")
    }
}
