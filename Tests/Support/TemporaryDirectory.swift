import Foundation

/// A scratch directory under the system's temporary directory, removed with everything in it
/// when the value is released.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ name: String) {
        path = NSTemporaryDirectory() + "basalt-\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
