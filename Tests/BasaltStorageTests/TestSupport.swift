import BasaltCore
@testable import BasaltStorage
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ prefix: String = "basalt-storage-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    func remove() { try? FileSystem.removeTree(path) }
}

extension StorageConfig {
    /// Every write synced before it returns; compactions only when a test runs them.
    static var syncedWithoutAutomaticCompaction: StorageConfig {
        var c = StorageConfig()
        c.commitLogSync = .batch
        c.automaticCompaction = false
        return c
    }
}

enum TestSchemas {
    /// `CREATE TABLE ks.kv (key blob PRIMARY KEY, value blob)`.
    static func keyValue(id: UUIDValue = UUIDValue(msb: 1, lsb: 1), params: TableParams = TableParams()) -> TableSchema {
        TableSchema(keyspace: "ks", name: "kv", id: id, columns: [
            ColumnDefinition(name: "key", type: .blob, kind: .partitionKey, position: 0),
            ColumnDefinition(name: "value", type: .blob, kind: .regular),
        ], params: params)
    }

    /// A wide table: `(pk int, c1 int, c2 text DESC, a int, b text, s int static, l list<int>,
    /// m map<int, text>, PRIMARY KEY (pk, c1, c2))`.
    static func wide(id: UUIDValue = UUIDValue(msb: 2, lsb: 2), params: TableParams = TableParams()) -> TableSchema {
        TableSchema(keyspace: "ks", name: "wide", id: id, columns: [
            ColumnDefinition(name: "pk", type: .int, kind: .partitionKey, position: 0),
            ColumnDefinition(name: "c1", type: .int, kind: .clustering, position: 0),
            ColumnDefinition(name: "c2", type: .text, kind: .clustering, position: 1, isDescending: true),
            ColumnDefinition(name: "a", type: .int, kind: .regular),
            ColumnDefinition(name: "b", type: .text, kind: .regular),
            ColumnDefinition(name: "s", type: .int, kind: .static),
            ColumnDefinition(name: "l", type: .list(.int), kind: .regular),
            ColumnDefinition(name: "m", type: .map(.int, .text), kind: .regular),
        ], params: params)
    }

    static func int32(_ v: Int) -> [UInt8] {
        var w = ByteWriter(capacity: 4)
        w.writeInt32(Int32(v))
        return w.bytes
    }
}

extension Logger {
    static let test: Logger = {
        var l = Logger(label: "basalt.storage.test")
        l.logLevel = .critical
        return l
    }()
}
