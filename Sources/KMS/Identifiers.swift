import KeyraftCrypto

/// A key's identity: a random (version 4) UUID, printed in lowercase canonical form.
///
/// Stored as two integers so that millions of keys cost no per-id allocation.
public struct KeyID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 16
    /// The first and last eight bytes, in RFC 4122 order (the order of the hex digits).
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Invariant: `bytes.count == 16`.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == KeyID.byteCount else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            if i < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// The 16 bytes in RFC 4122 order.
    public var bytes: [UInt8] {
        (0..<16).map { i in
            let word = i < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(i % 8)))
        }
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits in either case).
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(KeyID.byteCount)
        var index = 0
        while index < utf8.count {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard utf8[index] == UInt8(ascii: "-") else { return nil }
                index += 1
                continue
            }
            guard index + 1 < utf8.count, let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        guard let id = KeyID(bytes: bytes) else { return nil }
        self = id
    }

    /// A fresh random version-4 UUID drawn from `entropy`.
    public static func generate(using entropy: some EntropySource) throws(CryptoError) -> KeyID {
        var bytes = try entropy.bytes(count: byteCount)
        bytes[6] = (bytes[6] & 0x0F) | 0x40  // version 4
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return KeyID(bytes: bytes)!
    }

    /// Characters in the canonical text form (32 hex digits and 4 dashes).
    public static let textLength = 36

    /// The canonical text form. Written straight into the string's storage: key ARNs are
    /// built from it on every authorization.
    public var description: String {
        String(unsafeUninitializedCapacity: KeyID.textLength) { out in
            write(into: out, at: 0)
            return KeyID.textLength
        }
    }

    /// Writes the canonical text form (`textLength` bytes of ASCII) at `start`; returns
    /// the position after it.
    @discardableResult
    func write(into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        precondition(start >= 0 && start + KeyID.textLength <= out.count, "no room for a key id")
        var position = start
        for i in 0..<KeyID.byteCount {
            let word = i < 8 ? high : low
            let byte = UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (i % 8)))
            let upper = byte >> 4, lower = byte & 0x0F
            out[position] = upper < 10 ? UInt8(ascii: "0") + upper : UInt8(ascii: "a") - 10 + upper
            out[position + 1] = lower < 10 ? UInt8(ascii: "0") + lower : UInt8(ascii: "a") - 10 + lower
            position += 2
            if i == 3 || i == 5 || i == 7 || i == 9 {
                out[position] = UInt8(ascii: "-")
                position += 1
            }
        }
        assert(position == start + KeyID.textLength, "a key id prints as 36 characters")
        return position
    }

    public static func < (lhs: KeyID, rhs: KeyID) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }
}

/// The version of a key's material. Version 1 is created with the key; each rotation adds one.
public struct KeyVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static let first = KeyVersion(1)
    public var description: String { String(rawValue) }
    public static func < (lhs: KeyVersion, rhs: KeyVersion) -> Bool { lhs.rawValue < rhs.rawValue }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
