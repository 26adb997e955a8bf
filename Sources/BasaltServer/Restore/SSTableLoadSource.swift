import BasaltCore
import BasaltStorage
import Foundation

/// The SSTables `basalt load DIR` sends, and the table they belong to, read from the directory's
/// path as Cassandra's sstableloader does: `…/KEYSPACE/TABLE-<id>/` (a live table directory or a
/// copy of one), `…/KEYSPACE/TABLE-<id>/snapshots/TAG/` or `…/KEYSPACE/TABLE-<id>/backups/`.
/// The `-<id>` suffix is optional.
public struct SSTableLoadSource: Sendable, Equatable {
    public var directory: String
    public var keyspace: String
    public var table: String
    /// The `Data.db` path of every complete SSTable (one with a TOC), by generation.
    public var dataPaths: [String]

    /// Why a directory cannot be loaded.
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case notADirectory(String)
        case cannotInferTable(String)
        case noSSTables(String)
        case damaged(path: String, problems: [String])

        public var description: String {
            switch self {
            case let .notADirectory(p): "\(p) is not a directory"
            case let .cannotInferTable(p):
                "cannot tell keyspace and table from \(p): expected …/KEYSPACE/TABLE-<id>/, …/KEYSPACE/TABLE-<id>/snapshots/TAG/ or …/KEYSPACE/TABLE-<id>/backups/"
            case let .noSSTables(p): "no SSTables in \(p) (expected bs-<generation>-Data.db files with their TOC)"
            case let .damaged(path, problems):
                "SSTable \(path) is damaged; nothing was loaded:\n  " + problems.joined(separator: "\n  ")
            }
        }
    }

    /// Keyspace and table of a directory path, or nil when the path does not have the shape.
    public static func inferTable(from path: String) -> (keyspace: String, table: String)? {
        let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
        var tableIndex = parts.count - 1
        if parts.count >= 4, parts[parts.count - 2] == StorageEngine.snapshotsDirectoryName {
            tableIndex = parts.count - 3
        } else if parts.count >= 3, parts[parts.count - 1] == "backups" {
            tableIndex = parts.count - 2
        }
        guard tableIndex >= 1 else { return nil }
        var table = parts[tableIndex]
        if let dash = table.lastIndex(of: "-") {
            let suffix = table[table.index(after: dash)...]
            if suffix.count == 32, suffix.allSatisfy(\.isHexDigit) { table = String(table[..<dash]) }
        }
        let keyspace = parts[tableIndex - 1]
        guard isIdentifier(keyspace), isIdentifier(table) else { return nil }
        return (keyspace, table)
    }

    static func isIdentifier(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 48 && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0" ... "9").contains($0) || $0 == "_") }
    }

    /// Reads the directory: its table from the path, its complete SSTables, each verified (every
    /// checksum, chunk and partition) so a damaged file stops the load before anything is sent.
    public static func open(_ path: String, verify: Bool = true) throws(Problem) -> SSTableLoadSource {
        var directory = path
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .notADirectory(path)
        }
        let absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        guard let (keyspace, table) = inferTable(from: absolute) else { throw .cannotInferTable(path) }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        var generations: [Int] = []
        for name in names {
            guard let (d, component) = SSTableDescriptor.parse(path: directory + "/" + name), component == .toc else { continue }
            generations.append(d.generation)
        }
        // A snapshot of a table that held no data on its node has only its schema.cql: nothing to
        // load, which is no error; any other directory without SSTables is a wrong path.
        guard !generations.isEmpty || names.contains("schema.cql") else { throw .noSSTables(path) }
        let dataPaths = generations.sorted().map { SSTableDescriptor(directory: directory, generation: $0).path(.data) }
        if verify {
            for p in dataPaths {
                let report = SSTableInspector.verify(path: p)
                if !report.isIntact { throw .damaged(path: p, problems: report.errors.map(\.description)) }
            }
        }
        return SSTableLoadSource(directory: directory, keyspace: keyspace, table: table, dataPaths: dataPaths)
    }
}

extension PartitionUpdate {
    /// The update cut into pieces whose encodings stay under about `maxBytes` (one piece when it
    /// already fits): the first carries the partition deletion, range tombstones and static row,
    /// the others consecutive runs of rows. Applying every piece gives the same partition as
    /// applying the whole (writes merge), so a large partition can travel in bounded messages.
    public func pieces(maxBytes: Int) -> [PartitionUpdate] {
        let size = encodedSize
        guard size > maxBytes, rows.count > 1 else { return [self] }
        let parts = min(rows.count, (size + maxBytes - 1) / maxBytes + 1)
        let per = (rows.count + parts - 1) / parts
        var out: [PartitionUpdate] = []
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + per)
            var piece = PartitionUpdate(rows: Array(rows[start ..< end]))
            if start == 0 {
                piece.partitionDeletion = partitionDeletion
                piece.rangeTombstones = rangeTombstones
                piece.staticRow = staticRow
            }
            out += piece.pieces(maxBytes: maxBytes)
            start = end
        }
        return out
    }

    /// Bytes of the partition encoding.
    var encodedSize: Int {
        Mutation(keyspace: "", table: "", tableId: UUIDValue(msb: 0, lsb: 0), partitionKey: [0], update: self).encoded().count
    }
}
