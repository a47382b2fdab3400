/// Writes compact JSON into a byte buffer, byte-for-byte as Foundation's `JSONEncoder` does
/// with `[.sortedKeys, .withoutEscapingSlashes]` for the shapes Keyraft writes (objects with
/// sorted keys, strings, integers, booleans, arrays): tests hold the two equal. The caller
/// writes keys in sorted order; `sortedObject` sorts them.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func byte(_ value: UInt8) { bytes.append(value) }

    /// A JSON string: `"`, `\` and control characters escaped (the short forms where JSON has
    /// them, else `\u00xx`); `/` and non-ASCII as they are.
    public mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Fast path, almost every string: nothing to escape, one copy.
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where Self.needsEscape(byte) { return false }
            return true
        } ?? !text.utf8.contains(where: Self.needsEscape)
        if plain {
            bytes.append(contentsOf: text.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case 0x08: raw("\\b")
            case 0x0C: raw("\\f")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    public mutating func integer<T: BinaryInteger>(_ value: T) {
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// A finite double: integral values without a fraction (`1700000000`), others in
    /// Swift's shortest round-trip form (`1700000000.25`).
    public mutating func number(_ value: Double) {
        precondition(value.isFinite, "JSON has no NaN or infinity")
        if value == value.rounded(), abs(value) < 1e16 {
            integer(Int64(value))
        } else {
            bytes.append(contentsOf: value.description.utf8)
        }
    }

    private static let base64Digits: [UInt8] =
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// A JSON string holding the standard, padded base64 of `data`.
    public mutating func base64String(_ data: [UInt8]) {
        let encodedCount = (data.count + 2) / 3 * 4
        let encoded = [UInt8](unsafeUninitializedCapacity: encodedCount) { out, initialized in
            var index = 0
            var at = 0
            func put(_ chunk: UInt32, _ count: Int) {
                for position in 0..<count {
                    out[at] = Self.base64Digits[Int(chunk >> UInt32(18 - 6 * position) & 0x3F)]
                    at += 1
                }
            }
            while index + 3 <= data.count {
                put(UInt32(data[index]) << 16 | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2]), 4)
                index += 3
            }
            switch data.count - index {
            case 1:
                put(UInt32(data[index]) << 16, 2)
                out[at] = UInt8(ascii: "="); out[at + 1] = UInt8(ascii: "=")
                at += 2
            case 2:
                put(UInt32(data[index]) << 16 | UInt32(data[index + 1]) << 8, 3)
                out[at] = UInt8(ascii: "=")
                at += 1
            default:
                break
            }
            precondition(at == encodedCount, "base64 wrote every digit")
            initialized = at
        }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: encoded)
        bytes.append(UInt8(ascii: "\""))
    }
}
