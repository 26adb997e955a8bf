import BasaltCore
import BasaltVector

/// The file of an SSTable's term index segment, `bs-<generation>-TermIndex-<index>.db` beside
/// the SSTable, written crash-safely with a CRC-32C over the whole file (``IndexFileWriter``).
///
/// Body (little-endian lengths from the file layer, var-ints inside): u32 + index name; the
/// column name (var-bytes), target (u8), analysis flags (u8: 1 case-insensitive, 2 normalize,
/// 4 ascii); var-uint row count, each row key (``RowKey`` encoding); var-uint term count, each
/// term as var-bytes followed by its posting list (var-uint count, then the row numbers as
/// var-uint deltas, the first from 0). Reading checks that it belongs to the definition, that
/// terms are strictly ascending and row numbers strictly ascending and in range: anything else
/// is a damaged file, never a crash.
extension SSTableTermSegment {
    static let magic = "BTSG"
    static let version: UInt16 = 1

    static func analysisFlags(_ a: TermAnalysis) -> UInt8 {
        (a.caseSensitive ? 0 : 1) | (a.normalize ? 2 : 0) | (a.ascii ? 4 : 0)
    }

    func write(to path: String, definition d: TermIndexDefinition) throws(VectorError) {
        let file = try IndexFileWriter(path: path, magic: Self.magic, version: Self.version)
        do {
            let name = Array(d.name.utf8)
            file.write(UInt32(name.count))
            file.write(name)
            var w = ByteWriter(capacity: 1 << 16)
            func drain() throws(VectorError) {
                if w.count >= 1 << 16 {
                    file.write(w.bytes)
                    w.removeAll(keepingCapacity: true)
                    try file.flushIfLarge()
                }
            }
            w.writeVarBytes(Array(d.column.name.utf8))
            w.writeUInt8(d.target.rawValue)
            w.writeUInt8(Self.analysisFlags(d.analysis))
            w.writeVarUInt(UInt64(keys.count))
            for k in keys {
                k.write(to: &w)
                try drain()
            }
            w.writeVarUInt(UInt64(terms.count))
            for (i, t) in terms.enumerated() {
                w.writeVarBytes(t)
                let list = postings[postingStarts[i] ..< postingStarts[i + 1]]
                w.writeVarUInt(UInt64(list.count))
                var previous: UInt32 = 0
                for id in list {
                    w.writeVarUInt(UInt64(id - previous))
                    previous = id
                }
                try drain()
            }
            file.write(w.bytes)
            try file.finish()
        } catch {
            file.abandon()
            throw error
        }
    }

    static func read(from path: String, definition d: TermIndexDefinition) throws(VectorError) -> SSTableTermSegment {
        let file = try IndexFileReader(path: path, magic: magic, supportedVersions: 1 ... version)
        let nameLength = Int(try file.read(UInt32.self, "index name length"))
        guard nameLength <= file.remaining else { throw file.damaged("index name runs past the end") }
        let name = String(decoding: try file.readBytes(nameLength, "index name"), as: UTF8.self)
        guard name == d.name else { throw file.damaged("holds index \(name), not \(d.name)") }
        var r = ByteReader(try file.readBytes(file.remaining, "segment"))
        do {
            let column = String(decoding: try r.readVarBytes(), as: UTF8.self)
            let target = try r.readUInt8(), flags = try r.readUInt8()
            guard column == d.column.name, target == d.target.rawValue, flags == analysisFlags(d.analysis) else {
                throw file.damaged("indexes \(column) (target \(target), analysis \(flags)), the definition wants \(d.column.name)")
            }
            let keyCount = try r.readVarUInt()
            guard keyCount <= UInt64(r.remaining), keyCount < UInt64(UInt32.max) else { throw file.damaged("\(keyCount) rows") }
            var keys: [RowKey] = []
            keys.reserveCapacity(Int(keyCount))
            for _ in 0 ..< keyCount { keys.append(try RowKey.read(from: &r)) }
            let termCount = try r.readVarUInt()
            guard termCount <= UInt64(r.remaining) else { throw file.damaged("\(termCount) terms") }
            var terms: [[UInt8]] = []
            var starts = [0]
            var postings: [UInt32] = []
            terms.reserveCapacity(Int(termCount))
            for i in 0 ..< Int(termCount) {
                let t = try r.readVarBytes()
                if let last = terms.last, d.compareTerms(last, t) >= 0 { throw file.damaged("term \(i) out of order") }
                terms.append(t)
                let n = try r.readVarUInt()
                guard n >= 1, n <= keyCount else { throw file.damaged("term \(i) has \(n) rows") }
                var id: UInt64 = 0
                for j in 0 ..< n {
                    let delta = try r.readVarUInt()
                    guard j == 0 || delta > 0 else { throw file.damaged("term \(i): row numbers not ascending") }
                    id += delta
                    guard id < keyCount else { throw file.damaged("term \(i): row \(id) of \(keyCount)") }
                    postings.append(UInt32(id))
                }
                starts.append(postings.count)
            }
            guard r.isAtEnd else { throw file.damaged("\(r.remaining) bytes after the last term") }
            return SSTableTermSegment(keys: keys, terms: terms, postingStarts: starts, postings: postings)
        } catch let e as VectorError {
            throw e
        } catch {
            throw file.damaged("\(error)")
        }
    }
}
