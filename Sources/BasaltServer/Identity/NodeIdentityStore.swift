import BasaltCluster
import BasaltCore

/// What a node keeps in its data directory to stay the same node across restarts.
///
/// - `node-identity`: host id, internode address, data center, rack and vnode tokens, in
///   ``RingMember/serialized()`` form (versioned, CRC32C-checked). Written once the node has its
///   tokens, host id and tokens together in one atomic replacement (``AtomicFile``).
/// - `generation`: the generation of the last start (`version(1) generation(i64 BE) crc32c`), so a
///   node restarted within the same second still gossips a larger generation than before.
///
/// A file that exists but fails its checks is an error naming the file and offset: the node refuses
/// to start rather than invent a new identity for data that belongs to the old one.
public struct NodeIdentityStore: Sendable {
    public let identityPath: String
    public let generationPath: String

    public init(directory: String) {
        identityPath = directory + "/node-identity"
        generationPath = directory + "/generation"
    }

    /// The stored identity, or nil when this node never finished joining.
    public func loadIdentity() throws(NodeIdentityError) -> RingMember? {
        let bytes: [UInt8]?
        do { bytes = try AtomicFile.read(identityPath) } catch { throw .unreadable(error) }
        guard let bytes else { return nil }
        do {
            return try RingMember(serialized: bytes)
        } catch {
            throw .corrupt(path: identityPath, error)
        }
    }

    /// Stores `member` (host id, address, location and tokens) atomically.
    public func saveIdentity(_ member: RingMember) throws(NodeIdentityError) {
        do { try AtomicFile.replace(identityPath, with: member.serialized()) } catch { throw .unwritable(error) }
    }

    /// The generation for a start at wall-clock second `now`: `now`, or one more than the last
    /// start's when that is not smaller. It is stored before it is returned.
    public func nextGeneration(now: Int64) throws(NodeIdentityError) -> Int64 {
        let last = try loadGeneration()
        let next = max(now, (last ?? 0) + 1)
        var w = ByteWriter(capacity: 13)
        w.writeUInt8(1)
        w.writeInt64(next)
        w.writeUInt32(CRC32C.checksum(w.bytes))
        do { try AtomicFile.replace(generationPath, with: w.bytes) } catch { throw .unwritable(error) }
        return next
    }

    /// The generation of the last start, or nil when none was stored.
    public func loadGeneration() throws(NodeIdentityError) -> Int64? {
        let bytes: [UInt8]?
        do { bytes = try AtomicFile.read(generationPath) } catch { throw .unreadable(error) }
        guard let bytes else { return nil }
        do throws(DecodeError) {
            guard bytes.count == 13 else { throw DecodeError.invalid("generation file of \(bytes.count) bytes, expected 13", at: 0) }
            var r = ByteReader(bytes)
            let version = try r.readUInt8()
            let generation = try r.readInt64()
            let stored = try r.readUInt32()
            let actual = CRC32C.checksum(bytes[0 ..< 9])
            guard stored == actual else { throw DecodeError.invalid("checksum mismatch (stored \(stored), computed \(actual))", at: 9) }
            guard version == 1 else { throw DecodeError.invalid("unsupported version \(version)", at: 0) }
            return generation
        } catch {
            throw .corrupt(path: generationPath, error)
        }
    }
}

/// Why the node's stored identity could not be used.
public enum NodeIdentityError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(FileError)
    case unwritable(FileError)
    /// The file exists but fails its checks.
    case corrupt(path: String, DecodeError)

    public var description: String {
        switch self {
        case let .unreadable(e), let .unwritable(e): "\(e)"
        case let .corrupt(path, e):
            "\(path) is corrupt (\(e)); refusing to start with a new identity — restore the file, or remove it to join as a new node"
        }
    }
}
