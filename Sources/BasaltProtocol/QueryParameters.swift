import BasaltCore

/// The `<query_parameters>` of QUERY and EXECUTE (v4 spec §4.1.4): consistency, then what the flag
/// byte announces, in this order: values (optionally named), page size, paging state, serial
/// consistency, default timestamp.
public struct QueryParameters: Hashable, Sendable {
    public static let valuesFlag: UInt8 = 0x01
    public static let skipMetadataFlag: UInt8 = 0x02
    public static let pageSizeFlag: UInt8 = 0x04
    public static let pagingStateFlag: UInt8 = 0x08
    public static let serialConsistencyFlag: UInt8 = 0x10
    public static let defaultTimestampFlag: UInt8 = 0x20
    public static let namesForValuesFlag: UInt8 = 0x40

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

    public func encode(into w: inout ByteWriter) {
        w.writeConsistency(consistency)
        var flags: UInt8 = 0
        if !values.isEmpty || names != nil { flags |= Self.valuesFlag }
        if names != nil { flags |= Self.namesForValuesFlag }
        if skipMetadata { flags |= Self.skipMetadataFlag }
        if pageSize != nil { flags |= Self.pageSizeFlag }
        if pagingState != nil { flags |= Self.pagingStateFlag }
        if serialConsistency != nil { flags |= Self.serialConsistencyFlag }
        if defaultTimestamp != nil { flags |= Self.defaultTimestampFlag }
        w.writeUInt8(flags)
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
    }

    public static func decode(from r: inout ByteReader) throws(DecodeError) -> QueryParameters {
        var p = QueryParameters(consistency: try r.readConsistency())
        let flagsAt = r.position
        let flags = try r.readUInt8()
        if flags & 0x80 != 0 { throw DecodeError.invalid("query flag 0x80 (keyspace) is not part of protocol v4", at: flagsAt) }
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
        return p
    }
}
