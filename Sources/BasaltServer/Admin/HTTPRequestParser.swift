/// A parsed HTTP/1.1 request head: what the admin endpoint needs (method, path, query).
public struct HTTPRequest: Equatable, Sendable {
    public var method: String
    /// The target's path, e.g. `/status`.
    public var path: String
    /// Query parameters in order (`?format=json` → `[("format", "json")]`), percent-decoded.
    public var query: [QueryItem]
    public var version: String
    /// Header names in lower case, values trimmed.
    public var headers: [QueryItem]

    public struct QueryItem: Equatable, Sendable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }
    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
}

/// Cuts an HTTP/1.1 request head out of a byte stream, within a size bound.
///
/// Pure and total: any input yields `.needMore`, a request, or a rejection with the status to answer
/// (400 malformed, 413 body not accepted, 431 head too large, 505 unsupported version) — never a
/// trap. Only the head is read: the admin endpoint's requests have no body, so one announced by
/// `Content-Length` or `Transfer-Encoding` is refused.
public struct HTTPRequestParser: Sendable {
    public enum Outcome: Equatable, Sendable {
        case needMore
        case request(HTTPRequest)
        case rejected(status: Int, reason: String)
    }

    public let maxHeadBytes: Int
    private var buffer: [UInt8] = []
    private var finished: Outcome?

    public init(maxHeadBytes: Int = 8192) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Adds bytes read from the connection; once a request or rejection is returned, later calls
    /// return it again.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> Outcome {
        if let finished { return finished }
        let scanFrom = max(0, buffer.count - 3)
        buffer.append(contentsOf: bytes.prefix(maxHeadBytes + 4 - min(buffer.count, maxHeadBytes + 4)))
        guard let end = Self.headEnd(buffer, from: scanFrom) else {
            if buffer.count > maxHeadBytes {
                return finish(.rejected(status: 431, reason: "request head larger than \(maxHeadBytes) bytes"))
            }
            return .needMore
        }
        guard end <= maxHeadBytes else {
            return finish(.rejected(status: 431, reason: "request head larger than \(maxHeadBytes) bytes"))
        }
        return finish(Self.parse(buffer[0 ..< end]))
    }

    private mutating func finish(_ outcome: Outcome) -> Outcome {
        finished = outcome
        buffer = []
        return outcome
    }

    /// Index just past the blank line ending the head (`\r\n\r\n`), if present.
    static func headEnd(_ b: [UInt8], from start: Int) -> Int? {
        var i = start
        while i + 3 < b.count {
            if b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    static func parse(_ head: ArraySlice<UInt8>) -> Outcome {
        // Printable ASCII, tabs and line breaks only.
        guard head.allSatisfy({ ($0 >= 0x20 && $0 < 0x7f) || $0 == 9 || $0 == 13 || $0 == 10 }) else {
            return .rejected(status: 400, reason: "request head holds bytes that are not printable ASCII")
        }
        let text = String(decoding: head, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last == "" { lines.removeLast() }
        guard let requestLine = lines.first else { return .rejected(status: 400, reason: "empty request") }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            return .rejected(status: 400, reason: "malformed request line")
        }
        let method = String(parts[0])
        guard method.allSatisfy({ $0.isUppercase && $0.isASCII }) else {
            return .rejected(status: 400, reason: "malformed method")
        }
        let version = String(parts[2])
        guard version.hasPrefix("HTTP/") else { return .rejected(status: 400, reason: "malformed HTTP version") }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .rejected(status: 505, reason: "HTTP version \(version) not supported")
        }
        let target = String(parts[1])
        guard target.hasPrefix("/") else { return .rejected(status: 400, reason: "request target must be a path") }
        var path = target
        var query: [HTTPRequest.QueryItem] = []
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            for pair in target[target.index(after: q)...].split(separator: "&") {
                if let eq = pair.firstIndex(of: "=") {
                    query.append(.init(Self.percentDecoded(pair[..<eq]), Self.percentDecoded(pair[pair.index(after: eq)...])))
                } else {
                    query.append(.init(Self.percentDecoded(pair), ""))
                }
            }
        }
        var headers: [HTTPRequest.QueryItem] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                return .rejected(status: 400, reason: "malformed header line")
            }
            let name = line[..<colon]
            guard !name.contains(" "), !name.contains("\t") else { return .rejected(status: 400, reason: "malformed header name") }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            headers.append(.init(name.lowercased(), value))
        }
        let request = HTTPRequest(method: method, path: path, query: query, version: version, headers: headers)
        if let te = request.header("transfer-encoding"), !te.isEmpty {
            return .rejected(status: 413, reason: "request bodies are not accepted")
        }
        if let cl = request.header("content-length") {
            guard let n = Int(cl), n >= 0 else { return .rejected(status: 400, reason: "malformed Content-Length") }
            if n > 0 { return .rejected(status: 413, reason: "request bodies are not accepted") }
        }
        return .request(request)
    }
}

extension HTTPRequestParser {
    /// `%XX` sequences decoded as UTF-8 bytes; a `%` not followed by two hex digits, and bytes
    /// that are not UTF-8, are kept as they are (replacement characters for the latter).
    static func percentDecoded(_ s: Substring) -> String {
        guard s.contains("%") else { return String(s) }
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): b - UInt8(ascii: "0")
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let hi = hex(bytes[i + 1]), let lo = hex(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
