#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BasaltCore

/// The persisted schema log: `<dir>/schema.log` = `BSSC`, version 1, u32 payload length,
/// payload (``SchemaLog/encode(_:)``), CRC32C (LE) of the payload. Written to a temporary file,
/// fsynced, renamed over the old one, then the directory is fsynced: a crash leaves the old or the
/// new file, never a torn one. A file that fails its checks is an error naming it.
struct SchemaFile: Sendable {
    let directory: String
    var path: String { directory + "/schema.log" }

    struct Damaged: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "schema file \(path) is damaged: \(reason)" }
    }

    func load() throws -> [SchemaLogEntry] {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return [] }
            throw Damaged(path: path, reason: "cannot open (errno \(errno))")
        }
        defer { close(fd) }
        var bytes = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw Damaged(path: path, reason: "read failed (errno \(errno))") }
            if n == 0 { break }
            bytes += chunk[0 ..< n]
        }
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
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw Damaged(path: tmp, reason: "cannot create (errno \(errno))") }
        var offset = 0
        let bytes = w.bytes
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 { close(fd); throw Damaged(path: tmp, reason: "write failed (errno \(errno))") }
            offset += n
        }
        guard fsync(fd) == 0 else { close(fd); throw Damaged(path: tmp, reason: "fsync failed (errno \(errno))") }
        close(fd)
        guard rename(tmp, path) == 0 else { throw Damaged(path: path, reason: "rename failed (errno \(errno))") }
        let dfd = open(directory, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}
