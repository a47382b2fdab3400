/// The encryption context: string pairs bound to a ciphertext as additional authenticated data.
public typealias EncryptionContext = [String: String]

/// The canonical byte encoding of an encryption context, used as part of the AAD.
///
/// Pairs are sorted by the UTF-8 bytes of their keys, and every string is length-prefixed,
/// so no two different contexts share an encoding: `{"a":"bc"}` and `{"ab":"c"}` differ.
/// Layout: `count: u32`, then per pair `keyLength: u32, key, valueLength: u32, value`
/// (big-endian). The empty context encodes as four zero bytes.
public enum CanonicalEncryptionContext {
    public static func encode(_ context: EncryptionContext) -> [UInt8] {
        let pairs = context
            .map { (key: Array($0.key.utf8), value: Array($0.value.utf8)) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var out: [UInt8] = []
        out.reserveCapacity(4 + pairs.reduce(0) { $0 + 8 + $1.key.count + $1.value.count })
        appendUInt32(UInt32(pairs.count), to: &out)
        for pair in pairs {
            appendUInt32(UInt32(pair.key.count), to: &out)
            out.append(contentsOf: pair.key)
            appendUInt32(UInt32(pair.value.count), to: &out)
            out.append(contentsOf: pair.value)
        }
        return out
    }
}

@inline(__always)
func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: value >> 24))
    out.append(UInt8(truncatingIfNeeded: value >> 16))
    out.append(UInt8(truncatingIfNeeded: value >> 8))
    out.append(UInt8(truncatingIfNeeded: value))
}
