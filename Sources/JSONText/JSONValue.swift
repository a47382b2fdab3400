/// A parsed JSON value (RFC 8259) that keeps booleans, numbers and strings apart.
///
/// Numbers are doubles, as in JavaScript and in every AWS SDK's JSON protocol.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Duplicate names: the last one wins.
    case object([String: JSONValue])
}
