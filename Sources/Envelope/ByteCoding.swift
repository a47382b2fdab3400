/// Big-endian integer writing and a bounds-checked reader for the envelope's parsers.

extension Array where Element == UInt8 {
    mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendUInt32(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }
}

/// Reads fields off the front of a byte slice. Every read returns nil when too few bytes
/// remain, so a parser can tell "need more input" from "malformed".
struct ByteReader {
    private(set) var remaining: ArraySlice<UInt8>
    /// Bytes consumed so far.
    private(set) var offset = 0

    init(_ bytes: ArraySlice<UInt8>) { remaining = bytes }

    mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
        precondition(count >= 0)
        guard remaining.count >= count else { return nil }
        let taken = remaining.prefix(count)
        remaining = remaining.dropFirst(count)
        offset += count
        return taken
    }

    mutating func uint8() -> UInt8? { bytes(1)?.first }

    mutating func uint16() -> UInt16? {
        guard let b = bytes(2) else { return nil }
        return b.reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func uint32() -> UInt32? {
        guard let b = bytes(4) else { return nil }
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
