import BasaltCore

/// The persisted schema log: `<dir>/schema.log` = `BSSC`, version 1, u32 payload length,
/// payload (``SchemaLog/encode(_:)``), CRC32C (LE) of the payload, replaced with ``AtomicFile``
/// (a crash leaves the old or the new file, never a torn one). A file that fails its checks is an
/// error naming it.
struct SchemaFile: Sendable {
    let directory: String
    var path: String { directory + "/schema.log" }

    struct Damaged: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "schema file \(path) is damaged: \(reason)" }
    }

    func load() throws -> [SchemaLogEntry] {
        guard let bytes = try AtomicFile.read(path, limit: 1 << 30) else { return [] }
        var r = ByteReader(bytes)
        do {
            let magic = try r.readBytes(4)
            guard magic == Array("BSSC".utf8) else { throw Damaged(path: path, reason: "bad magic at offset 0") }
            let version = try r.readUInt8()
            guard version == 1 else { throw Damaged(path: path, reason: "unknown version \(version) at offset 4") }
            let length = Int(try r.readUInt32())
            let payload = try r.readBytes(length)
            let crc = try r.readUInt32LE()
            guard CRC32C.checksum(payload) == crc else { throw Damaged(path: path, reason: "checksum mismatch at offset 9") }
            return try SchemaLog.decode(payload)
        } catch let e as Damaged {
            throw e
        } catch {
            throw Damaged(path: path, reason: "\(error)")
        }
    }

    func save(_ entries: [SchemaLogEntry]) throws {
        let payload = SchemaLog.encode(entries)
        var w = ByteWriter(capacity: payload.count + 16)
        w.writeBytes(Array("BSSC".utf8))
        w.writeUInt8(1)
        w.writeUInt32(UInt32(payload.count))
        w.writeBytes(payload)
        w.writeUInt32LE(CRC32C.checksum(payload))
        try AtomicFile.replace(path, with: w.bytes)
    }
}
