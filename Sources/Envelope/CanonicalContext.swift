/// The canonical encoding of an encryption context, the same bytes the ciphertext blob
/// uses as AAD (docs/FORMATS.md): `count: u32`, then per pair, sorted by the UTF-8 bytes
/// of its key, `keyLength: u32, key, valueLength: u32, value`.
///
/// Restated here rather than imported so that `Envelope` depends on `KeyraftCrypto` only;
/// a test checks both encodings agree.
public enum CanonicalContext {
    public static func encode(_ context: [String: String]) -> [UInt8] {
        let pairs = context
            .map { (key: Array($0.key.utf8), value: Array($0.value.utf8)) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var out: [UInt8] = []
        out.reserveCapacity(4 + pairs.reduce(0) { $0 + 8 + $1.key.count + $1.value.count })
        out.appendUInt32(UInt32(pairs.count))
        for pair in pairs {
            out.appendUInt32(UInt32(pair.key.count))
            out.append(contentsOf: pair.key)
            out.appendUInt32(UInt32(pair.value.count))
            out.append(contentsOf: pair.value)
        }
        return out
    }

    /// Parses the canonical encoding strictly: keys in strictly ascending order (so no
    /// duplicates), valid UTF-8, no trailing bytes. A context that parses has exactly one
    /// encoding, the input.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(EnvelopeError) -> [String: String] {
        var reader = ByteReader(bytes)
        guard let count = reader.uint32() else { throw .malformedHeader("encryption context count") }
        // Every pair takes at least 8 bytes, which bounds the count before any allocation.
        guard Int(count) <= bytes.count / 8 else { throw .malformedHeader("encryption context count") }
        var context: [String: String] = [:]
        var previousKey: [UInt8]?
        for _ in 0..<count {
            let key = try field(&reader, "encryption context key")
            let value = try field(&reader, "encryption context value")
            if let previousKey, !previousKey.lexicographicallyPrecedes(key) {
                throw .malformedHeader("encryption context keys not in strictly ascending order")
            }
            guard let keyText = String(validating: key, as: UTF8.self),
                  let valueText = String(validating: value, as: UTF8.self)
            else { throw .malformedHeader("encryption context is not UTF-8") }
            // Swift compares strings by canonical equivalence: two keys with different bytes
            // may be "equal". Such a header is refused rather than merged.
            guard context[keyText] == nil else { throw .malformedHeader("encryption context has equivalent keys") }
            context[keyText] = valueText
            previousKey = key
        }
        guard reader.remaining.isEmpty else { throw .malformedHeader("encryption context has trailing bytes") }
        return context
    }

    private static func field(_ reader: inout ByteReader, _ name: String) throws(EnvelopeError) -> [UInt8] {
        guard let length = reader.uint32(), let bytes = reader.bytes(Int(length)) else {
            throw .malformedHeader(name + " length")
        }
        return Array(bytes)
    }
}
