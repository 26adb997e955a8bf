import BasaltCore
import BasaltStorage
import Glibc
import Logging

/// A storage-attached index kept as one segment per SSTable, each in its own file beside the
/// SSTable (``TableVectorIndex``, ``TableTermIndex``): how a segment is served and how an index
/// created on a table that holds data is built, the same for every kind.
protocol SSTableSegmentIndex: AnyObject, Sendable {
    associatedtype Segment
    /// For logs: "vector" or "term".
    static var kind: String { get }
    var name: String { get }
    func segmentPath(directory: String, generation: Int) -> String
    func readSegment(from path: String) throws -> Segment
    func build(from sstable: SSTableContents) throws -> Segment
    func writeSegment(_ segment: Segment, to path: String) throws
    func publish(_ generation: Int, _ segment: Segment)
    func hasSSTable(_ generation: Int) -> Bool
    var sstableGenerations: [Int] { get }
    func remove(sstables gens: [Int], memtables ids: [Int])
    func finishBuilding()
}

/// Where a served segment came from.
enum SegmentOrigin {
    case loaded
    case built
    /// Its file was damaged: quarantined, then built from the SSTable.
    case rebuilt
}

/// Counters of how segments came to be served.
public protocol SegmentCounting {
    var segmentsLoaded: Int { get set }
    var segmentsBuilt: Int { get set }
    var segmentsQuarantined: Int { get set }
}

extension SegmentCounting {
    mutating func count(_ origin: SegmentOrigin) {
        switch origin {
        case .loaded: segmentsLoaded += 1
        case .built: segmentsBuilt += 1
        case .rebuilt:
            segmentsQuarantined += 1
            segmentsBuilt += 1
        }
    }
}

extension SSTableSegmentIndex {
    /// Serves `sstable`'s segment: read from its file when `mayLoad` and the file is sound, else
    /// built from the SSTable's data and written (a damaged file is moved to `quarantine/` first).
    func serveSegment(of sstable: SSTableContents, mayLoad: Bool, logger: Logger) throws -> SegmentOrigin {
        let path = segmentPath(directory: sstable.directory, generation: sstable.generation)
        var origin = SegmentOrigin.built
        if mayLoad, access(path, F_OK) == 0 {
            do {
                publish(sstable.generation, try readSegment(from: path))
                return .loaded
            } catch {
                logger.error("\(Self.kind) index file damaged; quarantined and rebuilt from the SSTable", metadata: ["path": "\(path)", "error": "\(error)"])
                quarantine(path)
                origin = .rebuilt
            }
        }
        let segment = try build(from: sstable)
        try writeSegment(segment, to: path)
        publish(sstable.generation, segment)
        return origin
    }

    /// Builds the index of data written before it existed, on a thread of its own (a build can
    /// take minutes and must not hold up flushes or compactions): the memtables are flushed, then
    /// every SSTable without a segment is indexed, `served` told of each; segments of SSTables
    /// compacted away meanwhile are dropped; then the index answers queries.
    func buildInBackground(table: UUIDValue, engine: StorageEngine, logger: Logger, served: @escaping @Sendable (SegmentOrigin) -> Void) {
        WorkerThread(name: "\(Self.kind)-index-build", niceness: engine.config.compactionNiceness) { [self] in
            do {
                try engine.flush(tableId: table)
                for s in try engine.attachedIndexSources(tableId: table) where !hasSSTable(s.generation) {
                    served(try serveSegment(of: s, mayLoad: true, logger: logger))
                }
                let live = Set(try engine.attachedIndexSources(tableId: table).map(\.generation))
                remove(sstables: sstableGenerations.filter { !live.contains($0) }, memtables: [])
                finishBuilding()
                logger.info("\(Self.kind) index built", metadata: ["index": "\(name)"])
            } catch {
                logger.error("\(Self.kind) index build failed", metadata: ["index": "\(name)", "error": "\(error)"])
            }
        }.detach()
    }
}

extension SSTableOrigin {
    /// Whether a segment file already beside the SSTable may be served: only at start-up. A file
    /// found after a flush or compaction was left by a run that crashed before publishing it.
    var mayLoadSegments: Bool {
        if case .startup = self { return true }
        return false
    }
}

/// Moves a damaged index file into `quarantine/` beside it (kept for inspection, never read).
func quarantine(_ path: String) {
    guard let slash = path.lastIndex(of: "/") else { return }
    let dir = String(path[..<slash]) + "/quarantine"
    mkdir(dir, 0o755)
    if rename(path, dir + "/" + path[path.index(after: slash)...]) != 0 { unlink(path) }
}
