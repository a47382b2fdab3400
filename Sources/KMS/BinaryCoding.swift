/// Big-endian binary writer for log entries and snapshots.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func u32(_ value: UInt32) { appendUInt32(value, to: &bytes) }

    mutating func u64(_ value: UInt64) {
        u32(UInt32(truncatingIfNeeded: value >> 32))
        u32(UInt32(truncatingIfNeeded: value))
    }

    mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }

    mutating func blob(_ value: [UInt8]) {
        precondition(value.count <= ByteReader.blobBytesMax, "blob exceeds the encoding's limit")
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    /// Like `blob` of the UTF-8 bytes, without copying them into an array first.
    mutating func string(_ value: String) {
        let count = value.utf8.count
        precondition(count <= ByteReader.blobBytesMax, "blob exceeds the encoding's limit")
        u32(UInt32(count))
        bytes.append(contentsOf: value.utf8)
    }

    mutating func optionalString(_ value: String?) {
        bool(value != nil)
        if let value { string(value) }
    }

    mutating func keyID(_ id: KeyID) {
        u64(id.high)
        u64(id.low)
    }

    mutating func timestamp(_ value: Timestamp) { i64(value.milliseconds) }

    mutating func optionalTimestamp(_ value: Timestamp?) {
        bool(value != nil)
        if let value { timestamp(value) }
    }

    /// `present: bool`, then the value as an i64 (any `Int`, negative included).
    mutating func optionalInt(_ value: Int?) {
        bool(value != nil)
        if let value { i64(Int64(value)) }
    }

    /// Count prefix for a list; the caller's limit must match the reader's `count(max:)`.
    mutating func count(_ value: Int, max: Int) {
        precondition(value >= 0 && value <= max, "list exceeds the encoding's limit")
        u32(UInt32(value))
    }
}

/// Strict big-endian reader: every read is bounds-checked and throws on malformed input.
struct ByteReader {
    /// No single field of a command or snapshot is larger than this (a key policy is ≤ 32 KiB).
    static let blobBytesMax = 1 << 20

    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func u8() throws(KMSDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bool() throws(KMSDecodingError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: "bool", value: UInt64(other))
        }
    }

    mutating func u32() throws(KMSDecodingError) -> UInt32 {
        guard bytes.count - offset >= 4 else { throw .truncated(offset: offset) }
        defer { offset += 4 }
        return readUInt32(bytes, at: offset)
    }

    mutating func u64() throws(KMSDecodingError) -> UInt64 {
        let high = try u32()
        let low = try u32()
        return UInt64(high) << 32 | UInt64(low)
    }

    mutating func i64() throws(KMSDecodingError) -> Int64 { Int64(bitPattern: try u64()) }

    mutating func blob(maxBytes: Int = blobBytesMax) throws(KMSDecodingError) -> [UInt8] {
        let count = Int(try u32())
        guard count <= maxBytes else { throw .oversized(offset: offset, bytes: count) }
        guard bytes.count - offset >= count else { throw .truncated(offset: offset) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func string(maxBytes: Int = blobBytesMax) throws(KMSDecodingError) -> String {
        let utf8 = try blob(maxBytes: maxBytes)
        guard let text = String(validating: utf8, as: UTF8.self) else { throw .invalidUTF8(offset: offset) }
        return text
    }

    mutating func optionalString(maxBytes: Int = blobBytesMax) throws(KMSDecodingError) -> String? {
        try bool() ? try string(maxBytes: maxBytes) : nil
    }

    mutating func keyID() throws(KMSDecodingError) -> KeyID {
        KeyID(high: try u64(), low: try u64())
    }

    mutating func timestamp() throws(KMSDecodingError) -> Timestamp { Timestamp(milliseconds: try i64()) }

    mutating func optionalTimestamp() throws(KMSDecodingError) -> Timestamp? {
        try bool() ? try timestamp() : nil
    }

    /// Count prefix for a list, refusing counts larger than `max`.
    mutating func count(max: Int) throws(KMSDecodingError) -> Int {
        let value = Int(try u32())
        guard value <= max else { throw .oversized(offset: offset, bytes: value) }
        return value
    }

    /// Count prefix for a list whose elements take at least `elementBytesMin` bytes each:
    /// refuses counts the remaining input cannot hold, before the caller allocates.
    mutating func count(max: Int, elementBytesMin: Int) throws(KMSDecodingError) -> Int {
        precondition(elementBytesMin > 0)
        let value = try count(max: max)
        guard value <= (bytes.count - offset) / elementBytesMin else { throw .truncated(offset: offset) }
        return value
    }

    mutating func optionalInt() throws(KMSDecodingError) -> Int? {
        guard try bool() else { return nil }
        let value = try i64()
        guard let int = Int(exactly: value) else { throw .invalidValue(field: "int", value: UInt64(bitPattern: value)) }
        return int
    }

    func expectEnd() throws(KMSDecodingError) {
        guard isAtEnd else { throw .trailingBytes(count: bytes.count - offset) }
    }
}

/// A log entry or snapshot that does not decode. Never carries content.
public enum KMSDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(offset: Int)
    case oversized(offset: Int, bytes: Int)
    case unknownVersion(UInt8)
    case unknownTag(UInt8)
    case invalidValue(field: String, value: UInt64)
    case invalidUTF8(offset: Int)
    case trailingBytes(count: Int)

    public var description: String {
        switch self {
        case let .truncated(offset): return "truncated at byte \(offset)"
        case let .oversized(offset, bytes): return "field at byte \(offset) declares \(bytes), over its limit"
        case let .unknownVersion(version): return "unknown encoding version \(version)"
        case let .unknownTag(tag): return "unknown command tag \(tag)"
        case let .invalidValue(field, value): return "invalid \(field) value \(value)"
        case let .invalidUTF8(offset): return "invalid UTF-8 before byte \(offset)"
        case let .trailingBytes(count): return "\(count) trailing bytes"
        }
    }
}
