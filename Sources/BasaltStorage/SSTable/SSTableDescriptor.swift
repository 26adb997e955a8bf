/// Names the files of one SSTable: `<directory>/bs-<generation>-<Component>` (a temporary write
/// uses the prefix `tmp-bs-`). The TOC is renamed into place last, so an SSTable whose TOC exists is
/// complete; anything else found at start-up is an interrupted write and is removed.
public struct SSTableDescriptor: Hashable, Sendable, CustomStringConvertible {
    public enum Component: String, CaseIterable, Sendable {
        case data = "Data.db"
        case compressionInfo = "CompressionInfo.db"
        case index = "Index.db"
        case summary = "Summary.db"
        case filter = "Filter.db"
        case statistics = "Statistics.db"
        case toc = "TOC.txt"
    }

    public var directory: String
    public var generation: Int

    public init(directory: String, generation: Int) {
        self.directory = directory
        self.generation = generation
    }

    public func path(_ c: Component) -> String { "\(directory)/bs-\(generation)-\(c.rawValue)" }
    func temporaryPath(_ c: Component) -> String { "\(directory)/tmp-bs-\(generation)-\(c.rawValue)" }

    /// The descriptor of a component file path (any component), or nil for other names.
    public static func parse(path: String) -> (SSTableDescriptor, Component)? {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let parts = name.split(separator: "-", maxSplits: 2)
        guard parts.count == 3, parts[0] == "bs", let gen = Int(parts[1]), let comp = Component(rawValue: String(parts[2])) else { return nil }
        return (SSTableDescriptor(directory: dir, generation: gen), comp)
    }

    public var description: String { path(.data) }
}
