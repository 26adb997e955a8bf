import BasaltCore
import BasaltProtocol
import BasaltStorage

/// Splits serialized collections (native-protocol form: int count, then `[int length][bytes]` per
/// element, maps alternating key and value) into their elements and builds them back, which is
/// how a non-frozen collection moves between a bound value and one storage cell per element.
enum CollectionCells {
    /// The raw elements of a serialized list or set (for a map: keys and values alternating).
    static func elements(_ bytes: [UInt8], isMap: Bool) throws(CQLError) -> [[UInt8]] {
        do { return try rawElements(bytes, isMap: isMap) } catch {
            throw .invalid("Invalid collection value: \(error.description)")
        }
    }

    private static func rawElements(_ bytes: [UInt8], isMap: Bool) throws(DecodeError) -> [[UInt8]] {
        var r = ByteReader(bytes)
        let count = Int(try r.readInt32())
        guard count >= 0 else { throw DecodeError.invalid("negative element count", at: 0) }
        let n = isMap ? count * 2 : count
        var out = [[UInt8]]()
        out.reserveCapacity(min(n, r.remaining / 4))
        for _ in 0 ..< n {
            let at = r.position
            let len = Int(try r.readInt32())
            guard len >= 0 else { throw DecodeError.invalid("null element", at: at) }
            out.append(try r.readBytes(len))
        }
        return out
    }

    /// Serializes raw elements (for a map: keys and values alternating) as a collection.
    static func serialize(_ items: [[UInt8]], isMap: Bool) -> [UInt8] {
        var w = ByteWriter(capacity: 4 + items.reduce(0) { $0 + $1.count + 4 })
        w.writeInt32(Int32(truncatingIfNeeded: isMap ? items.count / 2 : items.count))
        for i in items {
            w.writeInt32(Int32(truncatingIfNeeded: i.count))
            w.writeBytes(i)
        }
        return w.bytes
    }

    /// The collection value a multi-cell column's live cells form (cells already in path order).
    static func assemble(_ type: CQLType, cells: [LiveCell]) -> [UInt8] {
        var items = [[UInt8]]()
        items.reserveCapacity(cells.count * 2)
        switch type {
        case .list: for c in cells { items.append(c.value) }
        case .set: for c in cells { items.append(c.path ?? []) }
        case .map:
            for c in cells {
                items.append(c.path ?? [])
                items.append(c.value)
            }
        default: return cells.first?.value ?? []
        }
        return serialize(items, isMap: { if case .map = type { return true } else { return false } }())
    }
}

/// Hands out the cell paths of list elements: version-1 UUIDs whose times increase for appends
/// and decrease for prepends, across all statements of this process, so an appended element
/// sorts after every element already present and a prepended one before (Cassandra's scheme,
/// with prepends counting down from a reference time in 2010).
public final class ListElementPaths: @unchecked Sendable {
    // @unchecked: the two tick counters are only touched under `lock`.
    private let lock = Lock()
    private var lastAppend: UInt64 = 0
    private var lastPrepend: UInt64 = .max
    private let node: UInt64

    public init(node: UInt64 = UInt64.random(in: 0 ... .max)) { self.node = node }

    /// 2010-01-01T00:00:00Z in 100 ns units since 1582-10-15.
    static let referenceTicks: UInt64 = 1_262_304_000 * 10_000_000 + UUIDValue.unixEpochOffset100ns

    /// `count` increasing paths after every earlier append.
    func append(count: Int, micros: Int64) -> [[UInt8]] {
        let want = UInt64(max(0, micros)) &* 10 &+ UUIDValue.unixEpochOffset100ns
        return lock.withLock {
            var out = [[UInt8]]()
            for _ in 0 ..< count {
                lastAppend = max(want, lastAppend + 1)
                out.append(Self.uuid(ticks: lastAppend, node: node))
            }
            return out
        }
    }

    /// `count` increasing paths that all sort before every earlier prepend and every append.
    func prepend(count: Int, micros: Int64) -> [[UInt8]] {
        let now = UInt64(max(0, micros)) &* 10 &+ UUIDValue.unixEpochOffset100ns
        let mirrored = now > Self.referenceTicks ? Self.referenceTicks - min(now - Self.referenceTicks, Self.referenceTicks / 2) : Self.referenceTicks
        return lock.withLock {
            let top = min(mirrored, lastPrepend) - UInt64(count)
            lastPrepend = top
            return (0 ..< count).map { Self.uuid(ticks: top + UInt64($0), node: node) }
        }
    }

    static func uuid(ticks: UInt64, node: UInt64) -> [UInt8] {
        let timeLow = ticks & 0xffff_ffff
        let timeMid = (ticks >> 32) & 0xffff
        let timeHi = (ticks >> 48) & 0x0fff
        let msb = timeLow << 32 | timeMid << 16 | 0x1000 | timeHi
        let lsb = (node & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        return UUIDValue(msb: msb, lsb: lsb).bytes
    }
}
