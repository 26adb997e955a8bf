import BasaltCore

/// One table's snapshot on disk: `<table directory>/snapshots/<tag>/`, holding hard links to the
/// files of the SSTables that were live when it was taken (every component and every attached
/// index file `bs-<generation>-…`) and `schema.cql`, the table's CREATE TABLE statement.
public struct SnapshotEntry: Hashable, Sendable, Codable {
    public var tag: String
    public var keyspace: String
    public var table: String
    /// The snapshot's directory.
    public var directory: String
    /// Number of files (schema.cql included).
    public var files: Int
    /// Bytes of all its files.
    public var sizeOnDiskBytes: Int
    /// Bytes of the files only this snapshot keeps (no live SSTable, nor another snapshot, shares
    /// them any more): what clearing it frees.
    public var trueSizeBytes: Int

    public init(tag: String, keyspace: String, table: String, directory: String, files: Int, sizeOnDiskBytes: Int, trueSizeBytes: Int) {
        self.tag = tag
        self.keyspace = keyspace
        self.table = table
        self.directory = directory
        self.files = files
        self.sizeOnDiskBytes = sizeOnDiskBytes
        self.trueSizeBytes = trueSizeBytes
    }
}

extension StorageEngine {
    /// The name of the directory inside a table's directory that holds its snapshots.
    public static let snapshotsDirectoryName = "snapshots"

    /// Whether `tag` can name a snapshot: 1…200 characters of letters, digits, `.`, `_` and `-`,
    /// not starting with a dot (it becomes a directory name).
    public static func isValidSnapshotTag(_ tag: String) -> Bool {
        guard !tag.isEmpty, tag.utf8.count <= 200, !tag.hasPrefix(".") else { return false }
        return tag.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45
        }
    }

    /// Takes a snapshot named `tag` of every table (of `keyspace` only, when given): flushes their
    /// memtables, then hard-links the files of each table's live SSTables into
    /// `<table directory>/snapshots/<tag>/` and writes `schema.cql` there with `schemaText(schema)`.
    ///
    /// Guarantees: the snapshot holds everything written before the call (flushed first); the
    /// files linked are those of one read view, linked while compaction cannot delete them, so
    /// the snapshot is complete and consistent; later compactions deleting the originals leave the
    /// links intact (they are the same inodes). A snapshot directory is never read as live data.
    /// Refused, with nothing written, when the tag is invalid or already used by a chosen table.
    public func snapshot(tag: String, keyspace: String? = nil, schemaText: (TableSchema) -> String) throws -> [SnapshotEntry] {
        guard Self.isValidSnapshotTag(tag) else {
            throw StorageError.invalid("snapshot tag '\(tag)' is not valid: use 1 to 200 letters, digits, '.', '_' or '-', not starting with '.'")
        }
        let chosen = allTables.filter { keyspace == nil || $0.currentSchema.0.keyspace == keyspace }
            .sorted { $0.name < $1.name }
        for t in chosen where FileSystem.exists(snapshotDirectory(t.directory, tag)) {
            throw StorageError.invalid("snapshot '\(tag)' already exists for table \(t.name)")
        }
        try flushAndWait(chosen)
        var entries: [SnapshotEntry] = []
        for t in chosen {
            let schema = t.currentSchema.0
            let target = snapshotDirectory(t.directory, tag)
            try FileSystem.makeDirectories(target)
            try sstableFilesLock.withLock {
                let generations = Set(t.view.sstables.map(\.descriptor.generation))
                for name in try FileSystem.list(t.directory) {
                    guard let generation = Self.generation(ofFileName: name), generations.contains(generation) else { continue }
                    try FileSystem.hardLink(t.directory + "/" + name, target + "/" + name)
                }
            }
            try FileSystem.writeFile(target + "/schema.cql", Array(schemaText(schema).utf8))
            try FileSystem.syncDirectory(target)
            try FileSystem.syncDirectory(t.directory + "/" + Self.snapshotsDirectoryName)
            try FileSystem.syncDirectory(t.directory)
            entries.append(try describeSnapshot(keyspace: schema.keyspace, table: schema.name, directory: target, tag: tag))
        }
        logger.info("snapshot taken", metadata: ["tag": "\(tag)", "tables": "\(entries.count)"])
        return entries
    }

    /// Every snapshot under the data directory (those of dropped tables included), sorted by tag,
    /// keyspace and table.
    public func listSnapshots() throws -> [SnapshotEntry] {
        var out: [SnapshotEntry] = []
        let data = directory + "/data"
        for keyspace in try FileSystem.list(data) where FileSystem.isDirectory(data + "/" + keyspace) {
            for tableDir in try FileSystem.list(data + "/" + keyspace) {
                let snapshots = "\(data)/\(keyspace)/\(tableDir)/\(Self.snapshotsDirectoryName)"
                guard FileSystem.isDirectory(snapshots) else { continue }
                let table = Self.tableName(ofDirectoryName: tableDir)
                for tag in try FileSystem.list(snapshots) where FileSystem.isDirectory(snapshots + "/" + tag) {
                    out.append(try describeSnapshot(keyspace: keyspace, table: table, directory: snapshots + "/" + tag, tag: tag))
                }
            }
        }
        return out.sorted { ($0.tag, $0.keyspace, $0.table) < ($1.tag, $1.keyspace, $1.table) }
    }

    /// Deletes the snapshots named `tag` (every snapshot when nil) of `keyspace` (every keyspace
    /// when nil); returns what was deleted. Live data is untouched: only the links go.
    public func clearSnapshots(tag: String? = nil, keyspace: String? = nil) throws -> [SnapshotEntry] {
        if let tag, !Self.isValidSnapshotTag(tag) { throw StorageError.invalid("snapshot tag '\(tag)' is not valid") }
        let doomed = try listSnapshots().filter { (tag == nil || $0.tag == tag) && (keyspace == nil || $0.keyspace == keyspace) }
        for s in doomed {
            try FileSystem.removeTree(s.directory)
            let parent = String(s.directory[..<s.directory.lastIndex(of: "/")!])
            if (try? FileSystem.list(parent))?.isEmpty ?? false { try FileSystem.removeTree(parent) }
        }
        return doomed
    }

    func snapshotDirectory(_ tableDirectory: String, _ tag: String) -> String {
        "\(tableDirectory)/\(Self.snapshotsDirectoryName)/\(tag)"
    }

    func describeSnapshot(keyspace: String, table: String, directory: String, tag: String) throws -> SnapshotEntry {
        var entry = SnapshotEntry(tag: tag, keyspace: keyspace, table: table, directory: directory, files: 0, sizeOnDiskBytes: 0, trueSizeBytes: 0)
        for name in try FileSystem.list(directory) {
            let (size, links) = try FileSystem.sizeAndLinks(directory + "/" + name)
            entry.files += 1
            entry.sizeOnDiskBytes += size
            if links <= 1 { entry.trueSizeBytes += size }
        }
        return entry
    }

    /// The generation of an SSTable file name `bs-<generation>-…` (components and attached index
    /// files alike); nil for other names (temporary files included).
    static func generation(ofFileName name: String) -> Int? {
        guard name.hasPrefix("bs-") else { return nil }
        let rest = name.dropFirst(3)
        guard let dash = rest.firstIndex(of: "-") else { return nil }
        return Int(rest[..<dash])
    }

    /// The table name of a table directory name `<table>-<id hex>`.
    static func tableName(ofDirectoryName name: String) -> String {
        guard let dash = name.lastIndex(of: "-") else { return name }
        return String(name[..<dash])
    }
}
