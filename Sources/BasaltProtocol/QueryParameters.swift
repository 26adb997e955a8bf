import BasaltCore

/// The `<query_parameters>` of QUERY and EXECUTE (v4 spec §4.1.4, v5 spec §4.1.4): consistency,
/// then what the flags announce, in this order: values (optionally named), page size, paging
/// state, serial consistency, default timestamp, and in v5 keyspace and now_in_seconds. The flags
/// are a [byte] in v4 and an [int] in v5.
public struct QueryParameters: Hashable, Sendable {
    public static let valuesFlag: UInt8 = 0x01
    public static let skipMetadataFlag: UInt8 = 0x02
    public static let pageSizeFlag: UInt8 = 0x04
    public static let pagingStateFlag: UInt8 = 0x08
    public static let serialConsistencyFlag: UInt8 = 0x10
    public static let defaultTimestampFlag: UInt8 = 0x20
    public static let namesForValuesFlag: UInt8 = 0x40
    /// v5: the statement's keyspace follows (instead of the connection's).
    public static let keyspaceFlag: UInt32 = 0x80
    /// v5: the server's "now" for TTLs and deletions, in seconds, follows.
    public static let nowInSecondsFlag: UInt32 = 0x100

    public var consistency: ConsistencyLevel
    /// Bound values in marker order (or in `names` order when named).
    public var values: [ProtocolValue]
    /// The marker names of `values` when the client sent named values (flag 0x40).
    public var names: [String]?
    public var skipMetadata: Bool
    /// Rows per page; nil or ≤ 0 means unpaged.
    public var pageSize: Int32?
    public var pagingState: [UInt8]?
    public var serialConsistency: ConsistencyLevel?
    /// The client's timestamp for writes, µs since the epoch (the Python driver always sends one).
    public var defaultTimestamp: Int64?
    /// v5: the keyspace to resolve unqualified names in.
    public var keyspace: String?
    /// v5: "now" in seconds since the epoch, for this statement's TTLs.
    public var nowInSeconds: Int32?
    /// v5 EXECUTE only: the result metadata id the client holds (written before the parameters,
    /// by ``Request``); a Rows answer whose metadata differs says so (Metadata_changed).
    public var resultMetadataId: [UInt8]?

    public init(consistency: ConsistencyLevel = .one, values: [ProtocolValue] = [], names: [String]? = nil, skipMetadata: Bool = false,
                pageSize: Int32? = nil, pagingState: [UInt8]? = nil, serialConsistency: ConsistencyLevel? = nil, defaultTimestamp: Int64? = nil) {
        self.consistency = consistency
        self.values = values
        self.names = names
        self.skipMetadata = skipMetadata
        self.pageSize = pageSize
        self.pagingState = pagingState
        self.serialConsistency = serialConsistency
        self.defaultTimestamp = defaultTimestamp
    }

    public func encode(into w: inout ByteWriter, version: UInt8 = 4) {
        w.writeConsistency(consistency)
        var flags: UInt8 = 0
        if !values.isEmpty || names != nil { flags |= Self.valuesFlag }
        if names != nil { flags |= Self.namesForValuesFlag }
        if skipMetadata { flags |= Self.skipMetadataFlag }
        if pageSize != nil { flags |= Self.pageSizeFlag }
        if pagingState != nil { flags |= Self.pagingStateFlag }
        if serialConsistency != nil { flags |= Self.serialConsistencyFlag }
        if defaultTimestamp != nil { flags |= Self.defaultTimestampFlag }
        if version >= 5 {
            var wide = UInt32(flags)
            if keyspace != nil { wide |= Self.keyspaceFlag }
            if nowInSeconds != nil { wide |= Self.nowInSecondsFlag }
            w.writeUInt32(wide)
        } else {
            w.writeUInt8(flags)
        }
        if flags & Self.valuesFlag != 0 {
            w.writeUInt16(UInt16(truncatingIfNeeded: values.count))
            for (i, v) in values.enumerated() {
                if let names { w.writeShortString(i < names.count ? names[i] : "") }
                w.writeProtocolValue(v)
            }
        }
        if let pageSize { w.writeInt32(pageSize) }
        if let pagingState { w.writeProtocolBytes(pagingState) }
        if let serialConsistency { w.writeConsistency(serialConsistency) }
        if let defaultTimestamp { w.writeInt64(defaultTimestamp) }
        guard version >= 5 else { return }
        if let keyspace { w.writeShortString(keyspace) }
        if let nowInSeconds { w.writeInt32(nowInSeconds) }
    }

    public static func decode(from r: inout ByteReader, version: UInt8 = 4) throws(DecodeError) -> QueryParameters {
        var p = QueryParameters(consistency: try r.readConsistency())
        let flagsAt = r.position
        let wide = version >= 5 ? try r.readUInt32() : UInt32(try r.readUInt8())
        if version < 5 && wide & 0x80 != 0 { throw DecodeError.invalid("query flag 0x80 (keyspace) is not part of protocol v4", at: flagsAt) }
        let known: UInt32 = 0x7f | keyspaceFlag | nowInSecondsFlag
        if wide & ~known != 0 { throw DecodeError.invalid("unknown query flags 0x\(String(wide & ~known, radix: 16))", at: flagsAt) }
        let flags = UInt8(truncatingIfNeeded: wide)
        if flags & valuesFlag != 0 {
            let n = Int(try r.readUInt16())
            let named = flags & namesForValuesFlag != 0
            var names = [String]()
            p.values.reserveCapacity(min(n, r.remaining / 4))
            for _ in 0 ..< n {
                if named { names.append(try r.readShortString()) }
                p.values.append(try r.readProtocolValue())
            }
            if named { p.names = names }
        }
        p.skipMetadata = flags & skipMetadataFlag != 0
        if flags & pageSizeFlag != 0 { p.pageSize = try r.readInt32() }
        if flags & pagingStateFlag != 0 { p.pagingState = try r.readProtocolBytes() }
        if flags & serialConsistencyFlag != 0 {
            let at = r.position
            let c = try r.readConsistency()
            guard c.isSerial else { throw DecodeError.invalid("serial consistency must be SERIAL or LOCAL_SERIAL, got \(c)", at: at) }
            p.serialConsistency = c
        }
        if flags & defaultTimestampFlag != 0 {
            let at = r.position
            let ts = try r.readInt64()
            guard ts != .min else { throw DecodeError.invalid("out of bound default timestamp \(ts)", at: at) }
            p.defaultTimestamp = ts
        }
        if wide & keyspaceFlag != 0 { p.keyspace = try r.readShortString() }
        if wide & nowInSecondsFlag != 0 { p.nowInSeconds = try r.readInt32() }
        return p
    }
}
