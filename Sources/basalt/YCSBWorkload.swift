import BasaltClient
import BasaltCore
import BasaltCQL
import BasaltProtocol
import Foundation
import Synchronization

/// The YCSB core workloads: operation mixes over `usertable` (`y_id` text key, `field0…fieldN`
/// text values), with their key choosers.
struct YCSBWorkload: Sendable {
    enum Operation: Int, CaseIterable, Sendable {
        case read, update, insert, scan, readModifyWrite

        var name: String {
            switch self {
            case .read: "READ"
            case .update: "UPDATE"
            case .insert: "INSERT"
            case .scan: "SCAN"
            case .readModifyWrite: "READ-MODIFY-WRITE"
            }
        }
    }

    enum Distribution: String, Sendable, CaseIterable {
        case uniform, zipfian, latest
    }

    var name: String
    /// Share of each operation (they add up to 1).
    var mix: [(Operation, Double)]
    var distribution: Distribution

    /// Workloads A–F as YCSB defines them.
    static func core(_ letter: String) -> YCSBWorkload? {
        switch letter.lowercased() {
        case "a": YCSBWorkload(name: "A (update heavy)", mix: [(.read, 0.5), (.update, 0.5)], distribution: .zipfian)
        case "b": YCSBWorkload(name: "B (read mostly)", mix: [(.read, 0.95), (.update, 0.05)], distribution: .zipfian)
        case "c": YCSBWorkload(name: "C (read only)", mix: [(.read, 1.0)], distribution: .zipfian)
        case "d": YCSBWorkload(name: "D (read latest)", mix: [(.read, 0.95), (.insert, 0.05)], distribution: .latest)
        case "e": YCSBWorkload(name: "E (short ranges)", mix: [(.scan, 0.95), (.insert, 0.05)], distribution: .zipfian)
        case "f": YCSBWorkload(name: "F (read-modify-write)", mix: [(.read, 0.5), (.readModifyWrite, 0.5)], distribution: .zipfian)
        default: nil
        }
    }

    /// The operation a uniform number in [0, 1) picks.
    func operation(_ u: Double) -> Operation {
        var acc = 0.0
        for (op, share) in mix {
            acc += share
            if u < acc { return op }
        }
        return mix.last!.0
    }
}

/// YCSB's record key for a record number: `user` and the number's FNV-1a hash, so inserts in
/// order land all over the ring.
func ycsbKey(_ n: Int) -> String { "user\(fnv1a64(UInt64(n)))" }

/// FNV-1a, 64 bits, of a number's eight bytes (little-endian).
func fnv1a64(_ v: UInt64) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for i in 0 ..< 8 {
        h ^= (v >> (8 * UInt64(i))) & 0xFF
        h = h &* 0x0000_0100_0000_01B3
    }
    return h
}

/// Zipfian numbers in [0, items) (item 0 the most popular), by the method of Gray et al.,
/// "Quickly generating billion-record synthetic databases" (SIGMOD 1994), with the constant
/// YCSB uses (0.99). The item count may grow (``grow(to:)``); zeta is extended, not recomputed.
struct ZipfianNumbers: Sendable {
    static let theta = 0.99
    private(set) var items: Int
    private var zetaN: Double
    private var eta: Double
    private let alpha = 1 / (1 - ZipfianNumbers.theta)
    private let zeta2 = 1 + 1 / pow(2, ZipfianNumbers.theta)

    init(items: Int) {
        self.items = max(1, items)
        zetaN = Self.zeta(from: 0, to: self.items, adding: 0)
        eta = 0
        eta = Self.eta(items: self.items, zetaN: zetaN, zeta2: zeta2)
    }

    /// Sum of 1/i^theta for i in (from, to], added to `adding`.
    static func zeta(from: Int, to: Int, adding: Double) -> Double {
        var sum = adding
        var i = from + 1
        while i <= to {
            sum += 1 / pow(Double(i), theta)
            i += 1
        }
        return sum
    }

    static func eta(items: Int, zetaN: Double, zeta2: Double) -> Double {
        (1 - pow(2 / Double(items), 1 - theta)) / (1 - zeta2 / zetaN)
    }

    mutating func grow(to n: Int) {
        guard n > items else { return }
        zetaN = Self.zeta(from: items, to: n, adding: zetaN)
        items = n
        eta = Self.eta(items: items, zetaN: zetaN, zeta2: zeta2)
    }

    /// The number a uniform `u` in [0, 1) picks.
    func next(_ u: Double) -> Int {
        let uz = u * zetaN
        if uz < 1 { return 0 }
        if uz < 1 + pow(0.5, Self.theta) { return min(1, items - 1) }
        return min(items - 1, Int(Double(items) * pow(eta * u - eta + 1, alpha)))
    }
}

/// Chooses the record numbers operations touch: uniform over the records, zipfian with the
/// popular records scattered by a hash (YCSB's scrambled zipfian), or the latest inserted
/// records most popular (zipfian counted back from the newest).
final class YCSBKeyChooser: Sendable {
    private let distribution: YCSBWorkload.Distribution
    private let zipfian: Mutex<ZipfianNumbers>
    /// Records that exist: the loaded ones and every insert acknowledged since.
    private let known: Atomic<Int>

    init(_ distribution: YCSBWorkload.Distribution, records: Int) {
        self.distribution = distribution
        zipfian = Mutex(ZipfianNumbers(items: records))
        known = Atomic(records)
    }

    var records: Int { known.load(ordering: .relaxed) }

    /// An insert of record `n` was acknowledged.
    func inserted(_ n: Int) {
        var current = known.load(ordering: .relaxed)
        while n + 1 > current {
            let (exchanged, now) = known.compareExchange(expected: current, desired: n + 1, ordering: .relaxed)
            if exchanged { break }
            current = now
        }
    }

    func next(_ u: Double) -> Int {
        let n = records
        switch distribution {
        case .uniform:
            return min(n - 1, Int(u * Double(n)))
        case .zipfian:
            let z = zipfian.withLock { $0.next(u) }
            return Int(fnv1a64(UInt64(z)) % UInt64(n))
        case .latest:
            let z = zipfian.withLock { g in
                g.grow(to: n)
                return g.next(u)
            }
            return max(0, n - 1 - z)
        }
    }
}

/// The statements of a YCSB run, prepared once.
struct YCSBStatements: Sendable {
    let read: PreparedStatement
    let updates: [PreparedStatement]
    let insert: PreparedStatement
    let scan: PreparedStatement

    static func prepare(_ session: Session, table: String, fields: Int) async throws -> YCSBStatements {
        let names = (0 ..< fields).map { "field\($0)" }
        var updates = [PreparedStatement]()
        for f in names { updates.append(try await session.prepare("UPDATE \(table) SET \(f) = ? WHERE y_id = ?")) }
        return YCSBStatements(
            read: try await session.prepare("SELECT * FROM \(table) WHERE y_id = ?"),
            updates: updates,
            insert: try await session.prepare("INSERT INTO \(table) (y_id, \(names.joined(separator: ", "))) VALUES (?\(String(repeating: ", ?", count: fields)))"),
            scan: try await session.prepare("SELECT * FROM \(table) WHERE token(y_id) >= ? LIMIT ?"))
    }
}

/// A YCSB phase as a bench load: the load phase inserts records 0, 1, 2… in order; the run phase
/// draws an operation from the workload's mix for each request. Completions report the
/// operation's kind (``YCSBWorkload/Operation``) so each is measured apart.
final class YCSBLoad: BenchLoad {
    let session: Session
    let statements: YCSBStatements
    let workload: YCSBWorkload
    let keys: YCSBKeyChooser
    let readLevel: ConsistencyLevel
    let writeLevel: ConsistencyLevel
    let options: StatementOptions
    let fields: Int
    let fieldLength: Int
    let maxScanLength: Int
    /// The next record number to insert.
    let nextInsert: Atomic<Int>
    /// Only inserts, in order (the load phase).
    let loading: Bool

    init(session: Session, statements: YCSBStatements, workload: YCSBWorkload, keys: YCSBKeyChooser, readLevel: ConsistencyLevel,
         writeLevel: ConsistencyLevel, options: StatementOptions, fields: Int, fieldLength: Int, maxScanLength: Int, firstInsert: Int,
         loading: Bool) {
        self.session = session
        self.statements = statements
        self.workload = workload
        self.keys = keys
        self.readLevel = readLevel
        self.writeLevel = writeLevel
        self.options = options
        self.fields = fields
        self.fieldLength = fieldLength
        self.maxScanLength = maxScanLength
        nextInsert = Atomic(firstInsert)
        self.loading = loading
    }

    func send(_ random: UInt64, completion: @escaping @Sendable (CQLBenchOperation.Outcome, Int) -> Void) {
        var rng = SplitMix64(seed: random)
        let op = loading ? .insert : workload.operation(unit(&rng))
        let done: @Sendable (CQLBenchOperation.Outcome) -> Void = { completion($0, op.rawValue) }
        switch op {
        case .read:
            read(keys.next(unit(&rng)), done)
        case .update:
            update(keys.next(unit(&rng)), &rng, done)
        case .insert:
            let n = nextInsert.wrappingAdd(1, ordering: .relaxed).oldValue
            let values = [ProtocolValue.bytes(Array(ycsbKey(n).utf8))] + (0 ..< fields).map { _ in ProtocolValue.bytes(value(&rng)) }
            session.execute(statements.insert, encoded: values, consistency: writeLevel, options: options) { [keys] result in
                let outcome = CQLBenchOperation.Outcome(result, expectsRow: false)
                if case .ok = outcome { keys.inserted(n) }
                done(outcome)
            }
        case .scan:
            let start = Murmur3.token(Array(ycsbKey(keys.next(unit(&rng))).utf8)).value
            let length = 1 + Int(rng.next() % UInt64(max(1, maxScanLength)))
            session.execute(statements.scan, encoded: [.bytes(CQLBench.bigint(start)), .bytes(int32(length))], consistency: readLevel,
                            options: options) { done(CQLBenchOperation.Outcome($0, expectsRow: false)) }
        case .readModifyWrite:
            // One operation from the client's view: the read, then the update of the same record.
            let n = keys.next(unit(&rng))
            let seed = rng.next()
            read(n) { outcome in
                guard case .ok = outcome else { return done(outcome) }
                var rng = SplitMix64(seed: seed)
                self.update(n, &rng, done)
            }
        }
    }

    private func read(_ n: Int, _ done: @escaping @Sendable (CQLBenchOperation.Outcome) -> Void) {
        session.execute(statements.read, encoded: [.bytes(Array(ycsbKey(n).utf8))], consistency: readLevel, options: options) {
            done(CQLBenchOperation.Outcome($0, expectsRow: true))
        }
    }

    private func update(_ n: Int, _ rng: inout SplitMix64, _ done: @escaping @Sendable (CQLBenchOperation.Outcome) -> Void) {
        let field = Int(rng.next() % UInt64(fields))
        session.execute(statements.updates[field], encoded: [.bytes(value(&rng)), .bytes(Array(ycsbKey(n).utf8))], consistency: writeLevel,
                        options: options) { done(CQLBenchOperation.Outcome($0, expectsRow: false)) }
    }

    /// A printable value of `fieldLength` bytes.
    private func value(_ rng: inout SplitMix64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: fieldLength)
        var bits = rng.next()
        for i in out.indices {
            if i % 8 == 0 { bits = rng.next() }
            out[i] = 0x21 + UInt8(truncatingIfNeeded: bits % 94)
            bits >>= 8
        }
        return out
    }

    private func unit(_ rng: inout SplitMix64) -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

    private func int32(_ v: Int) -> [UInt8] {
        let u = UInt32(truncatingIfNeeded: v)
        return (0 ..< 4).map { UInt8(truncatingIfNeeded: u >> (24 - 8 * $0)) }
    }
}
