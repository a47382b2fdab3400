import Foundation

/// One API endpoint: an `https://host:port` URL.
public struct KeyraftEndpoint: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `https://host[:port][/]`; the port defaults to 443.
    public init(url text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let url = URL(string: trimmed), url.scheme?.lowercased() == "https", let host = url.host, !host.isEmpty,
              url.query == nil, url.path.isEmpty || url.path == "/"
        else { throw KeyraftClientError.invalidConfiguration("'\(text)' is not an https URL (https://host:port)") }
        let port = url.port ?? 443
        guard (1...65_535).contains(port) else { throw KeyraftClientError.invalidConfiguration("'\(text)' has an invalid port") }
        self.init(host: host, port: port)
    }

    public var description: String { "https://\(hostForURL):\(port)" }

    /// The `Host` header value.
    var hostHeader: String { "\(hostForURL):\(port)" }

    /// IPv6 literals in brackets.
    private var hostForURL: String { host.contains(":") ? "[\(host)]" : host }

    /// True for an IPv4 or IPv6 literal: such hosts are verified by address, not sent as SNI.
    var isAddressLiteral: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
