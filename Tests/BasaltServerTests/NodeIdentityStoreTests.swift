import BasaltTestSupport
import BasaltCluster
import BasaltCore
import BasaltServer
import Foundation
import Testing

struct NodeIdentityStoreTests {
    static func member() -> RingMember {
        var rng = SplitMix64(seed: 7)
        return RingMember(identity: NodeIdentity(hostId: UUIDValue.random(using: &rng), address: NodeAddress(host: "127.0.2.9", port: 7000)),
                          dataCenter: "dc1", rack: "r2", tokens: TokenAllocator.random(count: 16, using: &rng))
    }

    @Test func identityRoundTripsAndIsReplacedAtomically() throws {
        let dir = TemporaryDirectory("identity")
        let store = NodeIdentityStore(directory: dir.path)
        #expect(try store.loadIdentity() == nil)
        let m = Self.member()
        try store.saveIdentity(m)
        #expect(try store.loadIdentity() == m)
        var moved = m
        moved.identity.address = NodeAddress(host: "127.0.2.10", port: 7001)
        try store.saveIdentity(moved)
        #expect(try store.loadIdentity() == moved)
        #expect(!FileManager.default.fileExists(atPath: store.identityPath + ".tmp"))
    }

    @Test func everyCorruptionIsRefusedNamingTheFile() throws {
        let dir = TemporaryDirectory("identity-corrupt")
        let store = NodeIdentityStore(directory: dir.path)
        let good = Self.member().serialized()
        var damaged: [[UInt8]] = [[], [1], Array(good.dropLast()), good + [0]]
        for i in stride(from: 0, to: good.count, by: 7) {
            var b = good
            b[i] ^= 0x20
            damaged.append(b)
        }
        for bytes in damaged {
            try Data(bytes).write(to: URL(fileURLWithPath: store.identityPath))
            do {
                _ = try store.loadIdentity()
                Issue.record("accepted a damaged identity of \(bytes.count) bytes")
            } catch {
                guard case let .corrupt(path, _) = error else { Issue.record("\(error)"); continue }
                #expect(path == store.identityPath)
                #expect(error.description.contains("refusing to start with a new identity"))
            }
        }
    }

    @Test func generationsAlwaysIncrease() throws {
        let dir = TemporaryDirectory("generation")
        let store = NodeIdentityStore(directory: dir.path)
        #expect(try store.nextGeneration(now: 1000) == 1000)
        #expect(try store.nextGeneration(now: 1000) == 1001)  // restarted within the same second
        #expect(try store.nextGeneration(now: 900) == 1002)   // wall clock went backwards
        #expect(try store.nextGeneration(now: 5000) == 5000)
        #expect(try store.loadGeneration() == 5000)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store.generationPath)))
        bytes[3] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: store.generationPath))
        #expect(throws: NodeIdentityError.self) { try store.nextGeneration(now: 6000) }
    }

    @Test func aDataDirectoryIsUsedByOneNodeAtATime() throws {
        let dir = TemporaryDirectory("lock")
        let path = dir.path + "/a/b/data"
        var first: DataDirectory? = try DataDirectory(opening: path)
        #expect(first?.path == path)
        #expect(throws: FileError(path: path, operation: "lock", message: "another basalt process is using this data directory")) {
            try DataDirectory(opening: path)
        }
        first = nil
        _ = try DataDirectory(opening: path)
        try "x".write(toFile: dir.path + "/file", atomically: true, encoding: .utf8)
        #expect(throws: FileError.self) { try DataDirectory(opening: dir.path + "/file") }
    }
}
