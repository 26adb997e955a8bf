import BasaltCore
import Testing
import BasaltClient

/// The Swift client example of README.md and docs/client.md, word for word between the markers,
/// so that it compiles; the test runs it against a real `basalt cql-standalone` on 127.0.12.1.
@Suite(.timeLimit(.minutes(3)))
struct ReadmeExampleTests {
    /// Returns the ids the ANN query found, nearest first.
    static func readmeExample(host: String) async throws -> [Int32] {
        // README example begins
        var config = SessionConfiguration(contactPoints: [host])
        config.defaultPageSize = 100
        let session = try await Session.connect(config)
        _ = try await session.query("CREATE KEYSPACE IF NOT EXISTS shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        _ = try await session.query("CREATE TABLE IF NOT EXISTS shop.items (id int PRIMARY KEY, name text, embedding vector<float, 3>)")
        _ = try await session.query("CREATE CUSTOM INDEX IF NOT EXISTS ON shop.items (embedding) USING 'StorageAttachedIndex' WITH OPTIONS = {'similarity_function': 'euclidean'}")

        // A prepared insert: values are checked against the markers' types before anything is sent.
        let insert = try await session.prepare("INSERT INTO shop.items (id, name, embedding) VALUES (?, ?, ?)")
        for id in 0 ..< 1_000 {
            let x = Float(id)
            _ = try await session.execute(insert, [.int(Int32(id)), .text("item \(id)"), .vector([x, x / 2, 1])])
        }

        // Paging: rows arrive 100 at a time, the next page fetched as the loop reaches it.
        var count = 0
        for try await _ in session.rows("SELECT id, name FROM shop.items") { count += 1 }
        print("\(count) items")

        // ANN: the 3 nearest embeddings, through the vector index.
        let nearest = try await session.prepare("SELECT id, name FROM shop.items ORDER BY embedding ANN OF ? LIMIT 3")
        let found = try await session.execute(nearest, [.vector([500, 250, 1])]).rows
        for row in found { print(row.values) }
        await session.close()
        // README example ends
        #expect(count == 1_000)
        return found.compactMap { if case let .int(id)? = $0["id"] { id } else { nil } }
    }

    @Test func readmeExampleRuns() async throws {
        let node = try StandaloneNode(host: "127.0.12.1")
        defer { node.stop() }
        let probe = try await node.session()  // waits until the node serves CQL
        await probe.close()
        let ids = try await Self.readmeExample(host: node.host)
        #expect(ids.count == 3 && ids.first == 500)
        #expect(Set(ids) == [499, 500, 501])
    }
}
