import BasaltCluster
import BasaltCore
import BasaltIndex
import BasaltProtocol
import BasaltStorage
import Logging

/// The node's schema, held in one place: the ``SchemaLog`` it is replayed from, persisted in the
/// data directory (``SchemaFile``), mirrored into the ``StorageEngine`` (tables added, altered,
/// dropped), and read cheaply from any thread (``SchemaSource`` for the coordinator).
///
/// Every change goes through ``accept(_:)`` (a DDL decided on this node) or ``merge(_:)``
/// (entries learned from another node); listeners hear about each new schema version.
public final class SchemaHolder: SchemaSource, @unchecked Sendable {
    // @unchecked: `log`, `tablesById`, `engine`, `engineTables` and `listeners` are only touched under `lock`;
    // `applyLock` serialises whole changes (persist + storage) so they happen in order.
    private let lock = Lock()
    private let applyLock = Lock()
    private var log: SchemaLog
    /// Counts the changes of `log` (what bound prepared statements are remembered against).
    private var generation = 0
    private var tablesById: [UUIDValue: TableSchema] = [:]
    private var engineTables: [UUIDValue: TableSchema] = [:]
    private var listeners: [@Sendable (Schema, [SchemaChangeDescription]) -> Void] = []
    private let file: SchemaFile?
    private var engine: StorageEngine?
    private let logger: Logger

    /// Loads the persisted log from `directory` (when given) and mirrors its tables into `engine`
    /// (when given; else see ``attach(engine:openedTables:)``). A damaged schema file is an error
    /// naming it (the node must not start with a wrong schema).
    public init(directory: String?, engine: StorageEngine?, logger: Logger) throws {
        self.file = directory.map { SchemaFile(directory: $0) }
        self.engine = engine
        self.logger = logger
        let entries = try file?.load() ?? []
        log = SchemaLog(entries: entries)
        tablesById = Self.index(log.schema)
        try syncStorage(log.schema)
    }

    /// The user tables to open before the commit log is replayed, with their keyspace's
    /// `durable_writes`.
    public var startupTables: [(schema: TableSchema, durableWrites: Bool)] {
        schema.userKeyspaces.values.flatMap { k in k.tables.values.map { ($0, k.params.durableWrites) } }
    }

    /// Tells the registry the vector and term indexes of `schema` (the current schema by
    /// default); at start-up this runs before the engine opens its tables, so their index files
    /// are loaded.
    public func defineIndexes(_ schema: Schema? = nil, on registry: AttachedIndexRegistry) {
        let s = schema ?? self.schema
        for (table, definitions) in s.vectorIndexDefinitions {
            registry.define(table: table, indexes: definitions)
        }
        for (table, definitions) in s.termIndexDefinitions {
            registry.define(table: table, termIndexes: definitions)
        }
    }

    /// Connects the storage engine once it is open, `openedTables` being the tables it was opened
    /// with; from then on schema changes add, alter and drop its tables (changes learned
    /// meanwhile are applied now).
    public func attach(engine: StorageEngine, openedTables: [TableSchema]) throws {
        applyLock.lock()
        defer { applyLock.unlock() }
        lock.withLock {
            self.engine = engine
            engineTables = Dictionary(openedTables.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        }
        try syncStorage(schema)
    }

    /// The current schema.
    public var schema: Schema { lock.withLock { log.schema } }
    /// The current schema and how many changes led to it since start (a new number for every
    /// change, so anything derived from a schema can be kept until the number moves).
    public var current: (schema: Schema, generation: Int) { lock.withLock { (log.schema, generation) } }
    /// Every entry of the log, in replay order (what a pulling node receives).
    public var entries: [SchemaLogEntry] { lock.withLock { log.entries } }
    public var version: UUIDValue { schema.version }

    /// Calls `listener` after every change with the new schema and what changed.
    public func onChange(_ listener: @escaping @Sendable (Schema, [SchemaChangeDescription]) -> Void) {
        lock.withLock { listeners.append(listener) }
    }

    /// Applies a DDL decided here: validated against the current schema with Cassandra's errors
    /// (AlreadyExists, Invalid, …), appended to the log, persisted, mirrored into storage. Returns
    /// what to announce (nil when IF [NOT] EXISTS made it a no-op, which adds nothing to the log).
    ///
    /// The entry is ordered after every entry already known (its timestamp is raised above the
    /// log's last one if needed, e.g. when another node's clock is ahead), so the change that was
    /// validated against the current schema is replayed on top of exactly that schema.
    @discardableResult
    public func accept(_ proposed: SchemaLogEntry) throws(CQLError) -> SchemaChangeDescription? {
        applyLock.lock()
        defer { applyLock.unlock() }
        var entry = proposed
        if let last = entries.last, entry.timestamp <= last.timestamp { entry.timestamp = last.timestamp + 1 }
        let (_, description) = try schema.applying(entry.change)
        guard let description else { return nil }
        try commit([entry], descriptions: [description])
        return description
    }


    /// Merges entries learned from another node; returns whether the schema changed.
    @discardableResult
    public func merge(_ incoming: [SchemaLogEntry]) throws(CQLError) -> Bool {
        applyLock.lock()
        defer { applyLock.unlock() }
        let before = schema
        var probe = lock.withLock { log }
        guard probe.merge(incoming) else { return false }
        try commit(incoming, descriptions: Self.differences(before, probe.schema))
        return true
    }

    private func commit(_ entries: [SchemaLogEntry], descriptions: [SchemaChangeDescription]) throws(CQLError) {
        var next = lock.withLock { log }
        next.merge(entries)
        do { try file?.save(next.entries) } catch {
            throw .serverError("Cannot persist the schema: \(error)")
        }
        let listeners = lock.withLock {
            log = next
            generation += 1
            tablesById = Self.index(next.schema)
            return self.listeners
        }
        do { try syncStorage(next.schema) } catch {
            logger.error("schema: storage could not follow the schema change", metadata: ["error": "\(error)"])
            throw .serverError("Storage could not apply the schema change: \(error)")
        }
        for l in listeners { l(next.schema, descriptions) }
    }

    // MARK: - SchemaSource

    public func keyspace(named name: String) -> KeyspaceSchema? { schema.keyspace(name)?.params }
    public func table(keyspace: String, name: String) -> TableSchema? { schema.table(keyspace, name) }
    public func table(id: UUIDValue) -> TableSchema? { lock.withLock { tablesById[id] } }

    // MARK: - Storage

    /// Adds, alters and drops the engine's tables so they match `schema`'s user tables.
    private func syncStorage(_ schema: Schema) throws {
        guard let engine = lock.withLock({ self.engine }) else { return }
        var wanted = [UUIDValue: (TableSchema, Bool)]()
        for k in schema.userKeyspaces.values {
            for t in k.tables.values { wanted[t.id] = (t, k.params.durableWrites) }
        }
        let current = lock.withLock { engineTables }
        for (id, (t, durable)) in wanted {
            if let old = current[id] {
                if old != t { try engine.alterTable(t) }
            } else {
                try engine.addTable(t, durableWrites: durable)
            }
        }
        for id in current.keys where wanted[id] == nil { try engine.dropTable(id: id) }
        lock.withLock { engineTables = wanted.mapValues(\.0) }
        if let registry = engine.attachedIndexes as? AttachedIndexRegistry { defineIndexes(schema, on: registry) }
    }

    /// Truncates a table's local data.
    public func truncateLocally(tableId: UUIDValue) throws(CQLError) {
        guard let engine = lock.withLock({ self.engine }) else { return }
        do { try engine.truncateTable(id: tableId) } catch { throw .truncateError("Cannot truncate: \(error)") }
    }

    static func index(_ schema: Schema) -> [UUIDValue: TableSchema] {
        var out = [UUIDValue: TableSchema]()
        for k in schema.allKeyspaces { for t in k.tables.values { out[t.id] = t } }
        return out
    }

    /// What differs between two schemas, as client events (keyspaces, then tables).
    static func differences(_ a: Schema, _ b: Schema) -> [SchemaChangeDescription] {
        var out = [SchemaChangeDescription]()
        let names = Set(a.userKeyspaces.keys).union(b.userKeyspaces.keys).sorted()
        for n in names {
            let x = a.userKeyspaces[n], y = b.userKeyspaces[n]
            if x == y { continue }
            guard let x else { out.append(.init(change: .created, target: .keyspace, keyspace: n)); continue }
            guard let y else { out.append(.init(change: .dropped, target: .keyspace, keyspace: n)); continue }
            if x.params != y.params { out.append(.init(change: .updated, target: .keyspace, keyspace: n)) }
            for t in Set(x.tables.keys).union(y.tables.keys).sorted() {
                let tx = x.tables[t], ty = y.tables[t]
                if tx == nil { out.append(.init(change: .created, target: .table, keyspace: n, name: t)) }
                else if ty == nil { out.append(.init(change: .dropped, target: .table, keyspace: n, name: t)) }
                else if tx != ty || x.indexes(on: t) != y.indexes(on: t) { out.append(.init(change: .updated, target: .table, keyspace: n, name: t)) }
            }
        }
        return out
    }
}
