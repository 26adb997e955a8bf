import ArgumentParser
import BasaltCore
import BasaltStorage

/// `basalt sstable verify|dump`: offline inspection of SSTable files.
struct SSTableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sstable",
        abstract: "Inspect SSTable files.",
        subcommands: [SSTableVerifyCommand.self, SSTableDumpCommand.self]
    )
}

struct SSTableVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum, chunk and partition of SSTables; exits 1 if any is damaged."
    )

    @Argument(help: "Any component file of each SSTable (e.g. bs-3-Data.db).")
    var paths: [String]

    func run() throws {
        var damaged = 0
        for p in paths {
            let report = SSTableInspector.verify(path: p)
            print(report)
            if !report.isIntact { damaged += 1 }
        }
        if damaged > 0 {
            print("\(damaged) of \(paths.count) SSTables damaged")
            throw ExitCode(1)
        }
    }
}

struct SSTableDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the partitions of an SSTable: keys, tokens, rows, cells and tombstones."
    )

    @Argument(help: "Any component file of the SSTable.")
    var path: String

    @Option(help: "Stop after this many partitions.")
    var limit: Int = .max

    @Flag(help: "Print only the statistics.")
    var statistics = false

    func run() throws {
        let stats = try SSTableInspector.statistics(path: path)
        print("partitions \(stats.partitionCount), tombstones \(stats.tombstoneCount), tokens [\(stats.minToken), \(stats.maxToken)], timestamps [\(stats.minTimestamp), \(stats.maxTimestamp)], uncompressed \(stats.uncompressedSize) bytes, level \(stats.level), commit-log intervals \(stats.commitLogIntervals.map { "[\($0.lower), \($0.upper))" })")
        if statistics { return }
        var n = 0
        try SSTableInspector.dump(path: path) { p in
            guard n < limit else { return }
            n += 1
            print(p)
        }
    }
}
