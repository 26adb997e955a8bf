import BasaltCore
import BasaltProtocol

/// `TableParams` as CQL table options (`WITH compaction = {…} AND …`) in both directions: the
/// option maps `system_schema.tables` and DESCRIBE show, and the parsing of a WITH clause with
/// Cassandra's validation.
public enum TableOptions {
    public static let snappyCompressorClass = "org.apache.cassandra.io.compress.SnappyCompressor"
    static let caching = [("keys", "ALL"), ("rows_per_partition", "NONE")]

    /// Options Cassandra knows that Basalt accepts and does not store (DESCRIBE output re-runs).
    static let acceptedAndIgnored: Set<String> = [
        "caching", "speculative_retry", "read_repair", "additional_write_policy", "crc_check_chance", "memtable_flush_period_in_ms",
        "min_index_interval", "max_index_interval", "cdc", "extensions", "memtable", "allow_auto_snapshot", "incremental_backups",
        "dclocal_read_repair_chance", "read_repair_chance",
    ]

    /// The `compaction` map, entries in Cassandra's order (class first, then options by name).
    public static func compactionMap(_ p: TableParams) -> [(String, String)] {
        switch p.compaction {
        case let .sizeTiered(minT, maxT):
            return [("class", p.compaction.className), ("max_threshold", String(maxT)), ("min_threshold", String(minT))]
        case let .timeWindow(window, minT, maxT):
            let (size, unit) = window % 86_400 == 0 ? (window / 86_400, "DAYS") : window % 3_600 == 0 ? (window / 3_600, "HOURS") : (max(window / 60, 1), "MINUTES")
            return [("class", p.compaction.className), ("compaction_window_size", String(size)), ("compaction_window_unit", unit),
                    ("max_threshold", String(maxT)), ("min_threshold", String(minT))]
        case let .leveled(sizeMiB, fanout):
            return [("class", p.compaction.className), ("fanout_size", String(fanout)), ("sstable_size_in_mb", String(sizeMiB))]
        }
    }

    /// The `compression` map.
    public static func compressionMap(_ p: TableParams) -> [(String, String)] {
        p.compressionEnabled ? [("chunk_length_in_kb", String(p.chunkLengthKiB)), ("class", snappyCompressorClass)] : [("enabled", "false")]
    }

    public static func cachingMap() -> [(String, String)] { caching }

    /// `params` with the WITH options applied. Throws Invalid/Config errors with Cassandra's wording.
    public static func applying(_ properties: Properties, to params: TableParams) throws(CQLError) -> TableParams {
        var p = params
        var seen = Set<String>()
        for prop in properties {
            let name = prop.name.lowercased()
            guard seen.insert(name).inserted else { throw .syntaxError("Multiple definitions for property \(name)") }
            switch name {
            case "comment": p.comment = try constant(prop)
            case "gc_grace_seconds": p.gcGraceSeconds = try integer(prop, min: 0)
            case "default_time_to_live":
                p.defaultTimeToLive = try integer(prop, min: 0)
                if p.defaultTimeToLive > 630_720_000 {
                    throw .invalid("default_time_to_live must be less than or equal to 630720000 (got \(p.defaultTimeToLive))")
                }
            case "bloom_filter_fp_chance":
                guard let v = Double(try constant(prop)), v > 0, v <= 1 else {
                    throw .configError("bloom_filter_fp_chance must be larger than 0 and less than or equal to 1")
                }
                p.bloomFilterFPChance = v
            case "compaction": p.compaction = try compaction(prop)
            case "compression": try compression(prop, into: &p)
            default:
                guard acceptedAndIgnored.contains(name) else { throw .syntaxError("Unknown property '\(name)'") }
            }
        }
        return p
    }

    static func constant(_ prop: Property) throws(CQLError) -> String {
        guard case let .constant(c) = prop.value else { throw .syntaxError("Invalid value for property '\(prop.name)'. It should be a string") }
        return c
    }

    static func integer(_ prop: Property, min: Int) throws(CQLError) -> Int {
        guard let v = Int(try constant(prop)), v >= min else {
            throw .syntaxError("Invalid value for property '\(prop.name)'. It should be an integer >= \(min)")
        }
        return v
    }

    static func map(_ prop: Property) throws(CQLError) -> [String: String] {
        guard let m = prop.value.mapValue else { throw .syntaxError("Invalid value for property '\(prop.name)'. It should be a map.") }
        return m
    }

    static func compaction(_ prop: Property) throws(CQLError) -> CompactionParams {
        let m = try map(prop)
        guard let cls = m["class"] else { throw .configError("Missing sub-option 'class' for the 'compaction' option.") }
        func int(_ key: String, _ def: Int) throws(CQLError) -> Int {
            guard let s = m[key] else { return def }
            guard let v = Int(s), v > 0 else { throw .configError("\(key) must be a positive integer, got \(s)") }
            return v
        }
        let minT = try int("min_threshold", 4), maxT = try int("max_threshold", 32)
        if minT > maxT { throw .configError("min_threshold cannot be greater than max_threshold") }
        switch cls.split(separator: ".").last.map(String.init) ?? cls {
        case "SizeTieredCompactionStrategy":
            return .sizeTiered(minThreshold: minT, maxThreshold: maxT)
        case "TimeWindowCompactionStrategy":
            let size = try int("compaction_window_size", 1)
            let unit = (m["compaction_window_unit"] ?? "DAYS").uppercased()
            let seconds: Int
            switch unit {
            case "MINUTES": seconds = 60
            case "HOURS": seconds = 3_600
            case "DAYS": seconds = 86_400
            default: throw .configError("\(unit) is not valid for compaction_window_unit")
            }
            return .timeWindow(windowSeconds: size * seconds, minThreshold: minT, maxThreshold: maxT)
        case "LeveledCompactionStrategy":
            let fanout = try int("fanout_size", 10)
            if fanout < 2 { throw .configError("fanout_size must be at least 2, got \(fanout)") }
            return .leveled(sstableSizeMiB: try int("sstable_size_in_mb", 160), fanout: fanout)
        default:
            throw .configError("Unable to find compaction strategy class '\(cls)' (Basalt supports SizeTieredCompactionStrategy, TimeWindowCompactionStrategy and LeveledCompactionStrategy)")
        }
    }

    static func compression(_ prop: Property, into p: inout TableParams) throws(CQLError) {
        let m = try map(prop)
        if let enabled = m["enabled"], enabled.lowercased() == "false" {
            p.compressionEnabled = false
            return
        }
        if let cls = m["class"] ?? m["sstable_compression"] {
            if cls.isEmpty { p.compressionEnabled = false; return }
            let short = cls.split(separator: ".").last.map(String.init) ?? cls
            // Basalt compresses SSTables with Snappy; any requested compressor turns compression on.
            guard ["SnappyCompressor", "LZ4Compressor", "ZstdCompressor", "DeflateCompressor"].contains(short) else {
                throw .configError("Could not create Compression for type \(cls)")
            }
        }
        p.compressionEnabled = true
        if let kb = m["chunk_length_in_kb"] ?? m["chunk_length_kb"] {
            guard let v = Int(kb), v > 0, v & (v - 1) == 0 else { throw .configError("chunk_length_in_kb must be a power of 2, got \(kb)") }
            p.chunkLengthKiB = v
        }
    }
}
