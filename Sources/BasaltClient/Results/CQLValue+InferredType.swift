import BasaltCore

extension CQLValue {
    /// The type a value of a simple (unprepared) statement is sent as, when no marker type is
    /// known: its own case's type; collections take their first element's (an empty one
    /// encodes the same whatever its element type); vectors are `vector<float, n>`.
    public var inferredType: CQLType {
        switch self {
        case .ascii: .ascii
        case .bigint: .bigint
        case .blob: .blob
        case .boolean: .boolean
        case .date: .date
        case .double: .double
        case .float: .float
        case .inet: .inet
        case .int: .int
        case .smallint: .smallint
        case .text: .text
        case .time: .time
        case .timestamp: .timestamp
        case .timeuuid: .timeuuid
        case .tinyint: .tinyint
        case .uuid: .uuid
        case let .list(vs): .list(vs.first?.inferredType ?? .blob)
        case let .set(vs): .set(vs.first?.inferredType ?? .blob)
        case let .map(es): .map(es.first?.key.inferredType ?? .blob, es.first?.value.inferredType ?? .blob)
        case let .tuple(vs): .tuple(vs.map { $0?.inferredType ?? .blob })
        case let .vector(fs): .vector(.float, fs.count)
        }
    }

    /// The value serialized as its ``inferredType``.
    func encodedAsInferred() throws(ClientError) -> [UInt8] {
        do {
            return try inferredType.encode(self)
        } catch {
            throw .invalidValue("\(error)")
        }
    }
}
