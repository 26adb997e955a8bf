import BasaltCore
import BasaltNet
import BasaltStorage

/// The internode verbs of data movement and their payloads (versioned; decoding never traps):
///
/// | verb | request | response |
/// | --- | --- | --- |
/// | `stream.chunk` (50, large lane) | `01`, session id (16 bytes), `TokenScanCommand` encoding | `01`, CRC-32C (4 bytes, big-endian) of the rest, `ScanResult` encoding |
/// | `stream.pull` (51) | ``StreamPullRequest`` encoding | ``StreamSummary`` as JSON |
/// | `stream.sees` (52) | `01`, host id (16 bytes), status (UTF-8) | `01` when this node's coordinator sees that host in that status with its tokens, else `00` |
/// | `hint.handoff` (53) | `01`, target host id (16 bytes), creation time (µs, 8 bytes), `Mutation` encoding | empty |
///
/// `stream.chunk` is served by the source of a session (``StreamSource``); `stream.pull` asks a node
/// to run a session that fetches data from a source and answers when it is complete (decommission
/// and removenode push data this way); `stream.sees` lets a joining or leaving node wait until every
/// coordinator counts it as a pending replica; `hint.handoff` gives a hint to another node to keep.
public enum StreamVerbs {
    static func readUUID(_ r: inout ByteReader) throws(DecodeError) -> UUIDValue {
        let at = r.position
        guard let id = UUIDValue(bytes: try r.readBytes(16)) else { throw .invalid("id", at: at) }
        return id
    }

    public static let chunk = Verb(50, "stream.chunk", lane: .large)
    public static let pull = Verb(51, "stream.pull")
    public static let sees = Verb(52, "stream.sees")
    public static let hintHandoff = Verb(53, "hint.handoff")

    public static func chunkRequest(session: UUIDValue, _ command: TokenScanCommand) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.writeUInt8(1)
        w.writeBytes(session.bytes)
        w.writeBytes(command.encoded())
        return w.bytes
    }

    public static func decodeChunkRequest(_ bytes: [UInt8]) throws(DecodeError) -> (UUIDValue, TokenScanCommand) {
        var r = ByteReader(bytes)
        let v = try r.readUInt8()
        guard v == 1 else { throw .invalid("unknown stream chunk request version \(v)", at: 0) }
        let session = try readUUID(&r)
        return (session, try TokenScanCommand.decode(Array(bytes[r.position...])))
    }

    /// A chunk response: the page's encoding with its checksum in front.
    public static func chunkResponse(_ result: ScanResult) -> [UInt8] {
        let payload = result.encoded()
        var w = ByteWriter(capacity: payload.count + 5)
        w.writeUInt8(1)
        w.writeUInt32(CRC32C.checksum(payload))
        w.writeBytes(payload)
        return w.bytes
    }

    /// Splits a chunk response into its payload and the checksum the source computed (checked by
    /// ``StreamSessionStateMachine``).
    public static func decodeChunkResponse(_ bytes: [UInt8]) throws(DecodeError) -> (payload: [UInt8], checksum: UInt32) {
        var r = ByteReader(bytes)
        let v = try r.readUInt8()
        guard v == 1 else { throw .invalid("unknown stream chunk version \(v)", at: 0) }
        let crc = try r.readUInt32()
        return (Array(bytes[r.position...]), crc)
    }

    public static func seesRequest(host: UUIDValue, status: NodeStatus) -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        w.writeUInt8(1)
        w.writeBytes(host.bytes)
        w.writeBytes(status.rawValue.utf8)
        return w.bytes
    }

    public static func decodeSeesRequest(_ bytes: [UInt8]) throws(DecodeError) -> (UUIDValue, NodeStatus) {
        var r = ByteReader(bytes)
        let v = try r.readUInt8()
        guard v == 1 else { throw .invalid("unknown stream.sees version \(v)", at: 0) }
        let host = try readUUID(&r)
        let text = String(decoding: bytes[r.position...], as: UTF8.self)
        guard let status = NodeStatus(rawValue: text) else { throw .invalid("unknown status '\(text)'", at: r.position) }
        return (host, status)
    }

    public static func hintHandoff(target: UUIDValue, createdAtMicros: Int64, mutation: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: mutation.count + 25)
        w.writeUInt8(1)
        w.writeBytes(target.bytes)
        w.writeInt64(createdAtMicros)
        w.writeBytes(mutation)
        return w.bytes
    }

    public static func decodeHintHandoff(_ bytes: [UInt8]) throws(DecodeError) -> (target: UUIDValue, createdAtMicros: Int64, mutation: [UInt8]) {
        var r = ByteReader(bytes)
        let v = try r.readUInt8()
        guard v == 1 else { throw .invalid("unknown hint.handoff version \(v)", at: 0) }
        let target = try readUUID(&r)
        let created = try r.readInt64()
        return (target, created, Array(bytes[r.position...]))
    }
}

/// `stream.pull`: "fetch these tasks from `source`" — the receiver runs a session and answers when
/// it completed (or fails the request when it did not).
public struct StreamPullRequest: Hashable, Sendable {
    public var session: UUIDValue
    public var source: NodeAddress
    public var tasks: [StreamTask]

    public init(session: UUIDValue, source: NodeAddress, tasks: [StreamTask]) {
        self.session = session
        self.source = source
        self.tasks = tasks
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + tasks.count * 64)
        w.writeUInt8(1)
        w.writeBytes(session.bytes)
        source.encode(into: &w)
        w.writeVarUInt(UInt64(tasks.count))
        for t in tasks {
            StorageCodec.writeTableRef(keyspace: t.keyspace, table: t.table, id: t.tableId, &w)
            w.writeInt64(t.range.start.value)
            w.writeInt64(t.range.end.value)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> StreamPullRequest {
        var r = ByteReader(bytes)
        let v = try r.readUInt8()
        guard v == 1 else { throw .invalid("unknown stream.pull version \(v)", at: 0) }
        let session = try StreamVerbs.readUUID(&r)
        let source = try NodeAddress.decode(from: &r)
        let at = r.position
        let count = try r.readVarUInt()
        guard count <= UInt64(r.remaining) else { throw .invalid("\(count) tasks in \(r.remaining) bytes", at: at) }
        var tasks: [StreamTask] = []
        for _ in 0 ..< count {
            let (ks, t, id) = try StorageCodec.readTableRef(&r)
            let range = TokenRange(start: Token(try r.readInt64()), end: Token(try r.readInt64()))
            tasks.append(StreamTask(keyspace: ks, table: t, tableId: id, range: range))
        }
        guard r.remaining == 0 else { throw .invalid("\(r.remaining) trailing bytes", at: r.position) }
        return StreamPullRequest(session: session, source: source, tasks: tasks)
    }
}
