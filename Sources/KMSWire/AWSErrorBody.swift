/// An AWS JSON 1.1 error response: `{"__type":"<name>","message":"<text>"}`.
///
/// Clients take the error name from `__type` and the status from `httpStatus`.
/// The message is sent as given: never put key material, plaintext or secrets in it.
public struct AWSErrorBody: Sendable, Hashable, CustomStringConvertible {
    /// The `Content-Type` of every AWS JSON 1.1 response, errors included.
    public static let contentType = "application/x-amz-json-1.1"

    /// The error name.
    public var name: AWSErrorName
    /// The human-readable message.
    public var message: String

    /// An error body.
    public init(_ name: AWSErrorName, _ message: String) {
        self.name = name
        self.message = message
    }

    /// The HTTP status to send with this body.
    public var httpStatus: Int { name.httpStatus }

    /// The JSON encoding, `__type` first, slashes not escaped.
    public var json: [UInt8] {
        var out: [UInt8] = Array(#"{"__type":"#.utf8)
        Self.appendJSONString(name.rawValue, to: &out)
        out.append(contentsOf: #","message":"#.utf8)
        Self.appendJSONString(message, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `Name: message`.
    public var description: String { "\(name.rawValue): \(message)" }

    /// Appends `text` as a JSON string literal (RFC 8259): quote, backslash and control
    /// characters escaped, everything else as UTF-8.
    static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: Array(#"\u00"#.utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
