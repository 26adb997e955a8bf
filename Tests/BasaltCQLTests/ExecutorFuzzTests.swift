import BasaltCore
#if canImport(Glibc)
@testable import BasaltProtocol
import Glibc
#endif
import Testing
@testable import BasaltCQL

/// Random and mutated statements and parameters through the whole executor (parse, bind,
/// execute against a real storage engine): every one gets a result or an error, never a trap
/// or a hang. `BASALT_FUZZ_ROUNDS` runs more.
struct ExecutorFuzzTests {
    static let seeds = [
        "INSERT INTO t (k, c, v, l, m, s) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?",
        "UPDATE t SET l = l + [1], m['a'] = 2, v = 'x' WHERE k = 1 AND c = 2",
        "UPDATE t SET l[0] = 5 WHERE k = 1 AND c = 2",
        "DELETE l[1], m['a'] FROM t WHERE k = 1 AND c = 2",
        "SELECT k, c, v, writetime(v), ttl(v), token(k) FROM t WHERE k IN (1, 2) AND c >= 0 ORDER BY c DESC LIMIT 5",
        "SELECT * FROM t WHERE v = 'x' ALLOW FILTERING",
        "SELECT count(*) FROM t WHERE token(k) > -100 AND token(k) <= 100",
        "BEGIN BATCH INSERT INTO t (k, c) VALUES (1, 1); DELETE FROM t WHERE k = 2; APPLY BATCH",
        "SELECT DISTINCT k, s FROM t PER PARTITION LIMIT 1",
        "DELETE FROM t WHERE k = 1 AND c > 3 AND c < 9",
        "SELECT * FROM system_schema.columns WHERE keyspace_name = 'ks' AND table_name = 't'",
    ]

    @Test func randomStatementsNeverTrap() async throws {
        let n = try SingleNodeExecutor()
        defer { n.close() }
        try await n.run("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        try await n.run("USE ks")
        try await n.run("CREATE TABLE t (k int, c int, v text, l list<int>, m map<text, int>, s int static, PRIMARY KEY (k, c))")
        var rng = SplitMix64(seed: 77)
        let rounds = Int(ProcessInfoLite.environment("BASALT_FUZZ_ROUNDS") ?? "") ?? 1500
        var answered = 0
        for _ in 0 ..< rounds {
            var text = Array(Self.seeds[Int(rng.next() % UInt64(Self.seeds.count))].utf8)
            for _ in 0 ..< Int(rng.next() % 4) {
                guard !text.isEmpty else { break }
                let i = Int(rng.next() % UInt64(text.count))
                switch rng.next() % 3 {
                case 0: text[i] = UInt8(truncatingIfNeeded: rng.next() % 96 + 32)
                case 1: text.remove(at: i)
                default: text.insert(UInt8(truncatingIfNeeded: rng.next() % 96 + 32), at: i)
                }
            }
            let values: [ProtocolValue] = (0 ..< Int(rng.next() % 7)).map { _ in
                switch rng.next() % 4 {
                case 0: .null
                case 1: .unset
                default: .bytes((0 ..< Int(rng.next() % 9)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                }
            }
            let params = QueryParameters(consistency: .one, values: values, pageSize: rng.next() % 2 == 0 ? Int32(rng.next() % 5) : nil,
                                         pagingState: rng.next() % 5 == 0 ? (0 ..< 12).map { _ in UInt8(truncatingIfNeeded: rng.next()) } : nil)
            let response = await n.processor.process(.query(String(decoding: text, as: UTF8.self), params), session: n.session)
            if case .result = response { answered += 1 }
        }
        // Some statements survive the mutations and run; the rest are errors. None trapped.
        #expect(answered > 0)
    }
}

/// Environment lookup without Foundation.
enum ProcessInfoLite {
    static func environment(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        return String(cString: p)
    }
}
