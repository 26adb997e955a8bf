import BasaltCore
import BasaltNet
import BasaltStorage
import Logging
import Synchronization

/// The replica side of coordination: serves ``ReplicaVerbs`` from peers' coordinators on this
/// node's storage engine. Writes are applied without blocking the loop (the reply is sent when the
/// commit log made the write durable); point reads are served on the loop, scans off it.
public final class ReplicaService: Sendable {
    /// What replicas served, for metrics.
    public struct Counters: Hashable, Sendable {
        public var mutations = 0
        public var reads = 0
        public var digests = 0
        public var scans = 0
        public var nearestRows = 0
        public var indexedRows = 0
        public var repairs = 0
        public var hints = 0
        public var failures = 0
    }

    private let engine: @Sendable () -> StorageEngine
    private let vectorSearch: (any LocalVectorSearch)?
    private let indexQuery: (any LocalIndexQuery)?
    private let logger: Logger
    private let counts = Mutex(Counters())
    /// Refusals by cause (shared with the node's coordinator when it passes one in).
    public let failures: RequestFailures
    /// Closed by a drain: peers' mutations, read repairs and hints are refused from then on.
    public let writeGate: WriteGate

    /// `engine` is called per request: messaging starts only after the engine is open.
    public init(engine: @escaping @Sendable () -> StorageEngine, vectorSearch: (any LocalVectorSearch)? = nil,
                indexQuery: (any LocalIndexQuery)? = nil, failures: RequestFailures? = nil, writeGate: WriteGate = WriteGate(),
                logger: Logger) {
        self.failures = failures ?? RequestFailures(logger: logger)
        self.writeGate = writeGate
        self.engine = engine
        self.vectorSearch = vectorSearch
        self.indexQuery = indexQuery
        self.logger = logger
    }

    public var counters: Counters { counts.withLock { $0 } }

    /// Registers the data verbs (call before messaging starts).
    public func register(on messaging: MessagingService) {
        messaging.register(ReplicaVerbs.mutation) { [self] m, reply in applyMutation(m, reply) { $0.mutations += 1 } }
        messaging.register(ReplicaVerbs.readRepair) { [self] m, reply in applyMutation(m, reply) { $0.repairs += 1 } }
        messaging.register(ReplicaVerbs.hint) { [self] m, reply in applyMutation(m, reply) { $0.hints += 1 } }
        // Point reads are short (memtables and memory-mapped SSTables): served on the loop, which
        // saves a thread hand-off per read. Scans may read many partitions: off the loop.
        messaging.register(ReplicaVerbs.read) { [self] m, reply in serveRead(m, reply) }
        messaging.register(ReplicaVerbs.scan) { [self] m, reply in
            Task { serveScan(m, reply) }
        }
        // An index search walks a graph per memtable and SSTable: off the loop.
        messaging.register(ReplicaVerbs.nearestRows) { [self] m, reply in
            Task { serveNearestRows(m, reply) }
        }
        // A term index query reads each candidate row: off the loop.
        messaging.register(ReplicaVerbs.indexedRows) { [self] m, reply in
            Task { serveIndexedRows(m, reply) }
        }
    }

    private func count(_ update: (inout Counters) -> Void) {
        counts.withLock { update(&$0) }
    }

    /// Answers with a failure whose message carries its cause (``FailureCause/tagging(_:)``), counted
    /// and logged as a write failure for the mutation verbs, a read failure for the others.
    private func refuse(_ reply: ReplyToken, _ message: String, _ m: InboundMessage, cause: FailureCause) {
        count { $0.failures += 1 }
        let isWrite = m.verb == ReplicaVerbs.mutation || m.verb == ReplicaVerbs.readRepair || m.verb == ReplicaVerbs.hint
        failures.record(isWrite ? .write : .read, side: .replica, cause: cause, detail: "\(m.verb) from \(m.peer): \(message)")
        reply.fail(cause.tagging(message))
    }

    private func refuse(_ reply: ReplyToken, _ error: any Error, _ m: InboundMessage) {
        refuse(reply, "\(error)", m, cause: .of(error))
    }

    private func applyMutation(_ m: InboundMessage, _ reply: ReplyToken, _ counted: @escaping @Sendable (inout Counters) -> Void) {
        let mutation: Mutation
        do { mutation = try Mutation.decode(m.payload) } catch {
            return refuse(reply, "malformed mutation: \(error)", m, cause: .malformedRequest)
        }
        if writeGate.isClosed { return refuse(reply, WriteGate.refusal, m, cause: .drained) }
        engine().apply(mutation) { [self] result in
            switch result {
            case .success:
                count(counted)
                reply.reply([])
            case let .failure(error):
                refuse(reply, error, m)
            }
        }
    }

    private func serveRead(_ m: InboundMessage, _ reply: ReplyToken) {
        do {
            let (command, digest) = try ReplicaVerbs.decodeReadPayload(m.payload)
            let result = try engine().read(command)
            if digest {
                let table = try engine().schema(of: command.tableId)
                count { $0.digests += 1 }
                reply.reply(result.digest(ClusteringComparator(table)).bytes)
            } else {
                count { $0.reads += 1 }
                reply.reply(result.encoded())
            }
        } catch {
            refuse(reply, error, m)
        }
    }

    private func serveScan(_ m: InboundMessage, _ reply: ReplyToken) {
        do {
            let command = try TokenScanCommand.decode(m.payload)
            let result = try engine().scan(command)
            count { $0.scans += 1 }
            reply.reply(result.encoded())
        } catch {
            refuse(reply, error, m)
        }
    }

    private func serveNearestRows(_ m: InboundMessage, _ reply: ReplyToken) {
        do {
            let command = try NearestRowsCommand.decode(m.payload)
            guard let vectorSearch else { return refuse(reply, "no vector indexes on this node", m, cause: .unsupported) }
            let rows = try command.withContent(try vectorSearch.nearestRows(command), from: engine())
            count { $0.nearestRows += 1 }
            reply.reply(NearestRow.encode(rows))
        } catch {
            refuse(reply, error, m)
        }
    }

    private func serveIndexedRows(_ m: InboundMessage, _ reply: ReplyToken) {
        do {
            let command = try IndexedRowsCommand.decode(m.payload)
            guard let indexQuery else { return refuse(reply, "no storage-attached indexes on this node", m, cause: .unsupported) }
            let page = try indexQuery.indexedRows(command)
            count { $0.indexedRows += 1 }
            reply.reply(page.encoded())
        } catch {
            refuse(reply, error, m)
        }
    }
}
