import Foundation

extension HTTPResponse {
    /// A report as plain text (`format` nil or `text`) or as JSON with sorted keys (`json`); any
    /// other format is a 400 naming the two.
    public static func report<T: Encodable>(_ value: T, format: String?, text: (T) -> String) -> HTTPResponse {
        switch format {
        case nil, "text":
            return HTTPResponse(status: 200, text: text(value))
        case "json":
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let data = try? encoder.encode(value) else { return .error(500, "could not encode the report") }
            return HTTPResponse(status: 200, contentType: "application/json", body: Array(data) + [10])
        case let other?:
            return .error(400, "unknown format '\(other)'; use text or json")
        }
    }
}
