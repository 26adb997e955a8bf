#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Host names to addresses, for the few settings that may name hosts (seeds named by DNS, as a
/// Kubernetes headless service gives them). Blocking (getaddrinfo): call it at start-up, off any
/// event loop, never on a request path.
public enum NameResolution {
    /// The distinct IPv4 addresses `name` resolves to, in the resolver's order; empty when it does
    /// not resolve (yet).
    public static func ipv4Addresses(of name: String) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var out: [String] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if let sa = n.pointee.ai_addr, Int32(sa.pointee.sa_family) == AF_INET {
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                let ok = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    withUnsafePointer(to: sin.pointee.sin_addr) { inet_ntop(AF_INET, $0, &text, socklen_t(text.count)) != nil }
                }
                if ok {
                    let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if !out.contains(address) { out.append(address) }
                }
            }
            node = n.pointee.ai_next
        }
        return out
    }

    /// Whether `s` is a syntactically valid DNS host name (letters, digits and hyphens in labels of
    /// at most 63 characters, no label starting or ending with a hyphen, at most 253 in all).
    public static func isHostName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        } && !labels.allSatisfy { $0.allSatisfy(\.isNumber) }
    }
}
