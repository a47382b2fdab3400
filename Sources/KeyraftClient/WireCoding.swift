import Foundation

/// A JSON value in a request body.
enum RequestValue: Encodable {
    case string(String), int(Int), bool(Bool)
    indirect case array([RequestValue])
    indirect case object([String: RequestValue])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .string(value): try container.encode(value)
        case let .int(value): try container.encode(value)
        case let .bool(value): try container.encode(value)
        case let .array(values): try container.encode(values)
        case let .object(members): try container.encode(members)
        }
    }
}

/// The members of one request, named as on the wire (PascalCase). Absent optionals are
/// left out, as the AWS SDKs do.
struct RequestBody {
    private var members: [String: RequestValue] = [:]

    mutating func string(_ name: String, _ value: String?) {
        if let value { members[name] = .string(value) }
    }

    mutating func int(_ name: String, _ value: Int?) {
        if let value { members[name] = .int(value) }
    }

    /// Only `true` is sent: false is every such member's default.
    mutating func flag(_ name: String, _ value: Bool) {
        if value { members[name] = .bool(true) }
    }

    /// Binary values are base64 strings.
    mutating func blob(_ name: String, _ bytes: [UInt8]) {
        members[name] = .string(Data(bytes).base64EncodedString())
    }

    /// An empty context is left out: the server treats absent and `{}` alike.
    mutating func context(_ name: String, _ context: [String: String]) {
        if !context.isEmpty { members[name] = .object(context.mapValues { .string($0) }) }
    }

    mutating func tags(_ name: String, _ tags: [KeyraftTag]) {
        if !tags.isEmpty {
            members[name] = .array(tags.map { .object(["TagKey": .string($0.key), "TagValue": .string($0.value)]) })
        }
    }

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, integers, booleans and containers of them always encode.
        return [UInt8](try! encoder.encode(members))
    }
}

enum ResponseDecoding {
    /// Decodes an answer body; blobs are base64 (`Data`), dates epoch seconds.
    static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], operation: String) throws(KeyraftClientError) -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        decoder.dataDecodingStrategy = .base64
        do {
            return try decoder.decode(type, from: Data(body.isEmpty ? Array("{}".utf8) : body))
        } catch {
            throw .invalidResponse("\(operation): the answer does not have the expected shape (\(Self.describe(error)))")
        }
    }

    /// Names the member at fault without echoing any value.
    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case let .keyNotFound(key, _)?: return "missing \(key.stringValue)"
        case let .typeMismatch(_, context)?, let .valueNotFound(_, context)?, let .dataCorrupted(context)?:
            return "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "not JSON"
        }
    }

    /// The `__type` and `message` of an error answer. `__type` may carry a namespace
    /// (`com.amazonaws.kms#NotFoundException`) or a suffix after `:`; both are dropped.
    static func errorNameAndMessage(_ body: [UInt8]) -> (name: String?, message: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return (nil, "") }
        let message = object["message"] as? String ?? object["Message"] as? String ?? ""
        guard var name = object["__type"] as? String else { return (nil, message) }
        if let hash = name.lastIndex(of: "#") { name = String(name[name.index(after: hash)...]) }
        if let colon = name.firstIndex(of: ":") { name = String(name[..<colon]) }
        return (name.isEmpty ? nil : name, message)
    }
}
