/// An HTTP request as SigV4 sees it, independent of any HTTP library.
///
/// `path` and `query` are raw: exactly as they appear on the request line (percent-encoded
/// or not), without the `?` between them. `headers` keeps the order and the duplicates of
/// the wire; names are matched case-insensitively.
public struct SigV4Request: Sendable, Hashable {
    /// One header field as received or to be sent.
    public struct Header: Sendable, Hashable {
        /// The field name, in any case.
        public var name: String
        /// The field value, untrimmed. A folded (multi-line) value may contain line breaks.
        public var value: String

        /// A header field.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The HTTP method, e.g. `POST`.
    public var method: String
    /// The raw path of the request target, e.g. `/`.
    public var path: String
    /// The raw query string, without the leading `?`; empty when there is none.
    public var query: String
    /// The header fields in wire order, duplicates included.
    public var headers: [Header]
    /// The body bytes.
    public var body: [UInt8]

    /// A request value.
    public init(method: String, path: String, query: String = "", headers: [Header], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The values of every header named `name` (case-insensitive), in wire order.
    public func values(named name: String) -> [String] {
        let wanted = SigV4Text.lowercasedASCII(name)
        return headers.compactMap { SigV4Text.lowercasedASCII($0.name) == wanted ? $0.value : nil }
    }
}
