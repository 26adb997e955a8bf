import BasaltCore

extension ByteReader {
    public mutating func readConsistency() throws(DecodeError) -> ConsistencyLevel {
        let at = position
        let raw = try readUInt16()
        guard let c = ConsistencyLevel(rawValue: raw) else {
            throw DecodeError.invalid("unknown consistency level 0x\(String(raw, radix: 16))", at: at)
        }
        return c
    }
}

extension ByteWriter {
    public mutating func writeConsistency(_ c: ConsistencyLevel) { writeUInt16(c.rawValue) }
}
