/// The rows of a paged result as an async sequence: each page is fetched when the previous one
/// has been read, with its paging state, so memory holds one page at a time.
///
/// `for try await row in session.rows(statement, [key])`; ``collect()`` fetches everything.
/// Iterating twice runs the statement twice.
public struct PagedRows: AsyncSequence, Sendable {
    public typealias Element = Row
    public typealias Failure = ClientError

    let firstPagingState: [UInt8]?
    let fetch: @Sendable ([UInt8]?) async throws(ClientError) -> ResultPage

    init(firstPagingState: [UInt8]?, fetch: @escaping @Sendable ([UInt8]?) async throws(ClientError) -> ResultPage) {
        self.firstPagingState = firstPagingState
        self.fetch = fetch
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(fetch: fetch, pagingState: firstPagingState)
    }

    /// Every row of every page.
    public func collect() async throws(ClientError) -> [Row] {
        var out = [Row]()
        var it = makeAsyncIterator()
        while let row = try await it.next() { out.append(row) }
        return out
    }

    /// Pages fetched so far are not kept; ``pagesFetched`` counts them.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let fetch: @Sendable ([UInt8]?) async throws(ClientError) -> ResultPage
        var pagingState: [UInt8]?
        var started = false
        var rows: [Row] = []
        var index = 0
        /// Pages fetched by this iterator.
        public private(set) var pagesFetched = 0

        init(fetch: @escaping @Sendable ([UInt8]?) async throws(ClientError) -> ResultPage, pagingState: [UInt8]?) {
            self.fetch = fetch
            self.pagingState = pagingState
        }

        public mutating func next() async throws(ClientError) -> Row? {
            try await next(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(ClientError) -> Row? {
            while index >= rows.count {
                guard !started || pagingState != nil else { return nil }
                started = true
                let page = try await fetch(pagingState)
                pagesFetched += 1
                pagingState = page.pagingState
                rows = page.rows
                index = 0
            }
            defer { index += 1 }
            return rows[index]
        }
    }
}
