/// How a graph stores the vectors it walks.
///
/// - ``none``: float32 vectors, used for every distance (the default).
/// - ``int8``: once trained, the graph walks and builds its links on ``ScalarQuantizer`` codes
///   (one byte per component) and reranks the best ``HNSWParameters/rerank`` candidates of each
///   search with exact float distances. The float vectors are needed only for that reranking, for
///   exact search and for rebuilding, so a graph read back from an index file with
///   `IndexFileReader(…, mapped: true)` leaves them in the mapped file instead of the heap.
public enum VectorQuantization: String, Hashable, Sendable, CaseIterable {
    case none = "NONE"
    case int8 = "INT8"
}
