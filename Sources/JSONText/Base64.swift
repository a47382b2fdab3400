/// Standard base64 (RFC 4648 §4) with padding, as AWS JSON protocols carry blobs.
public enum Base64 {
    private static let invalid: UInt8 = 0xFF

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        for (index, digit) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(digit)] = UInt8(index)
        }
        return table
    }()

    /// The bytes `text` encodes, or nil unless it is padded base64 with nothing else in it
    /// (no whitespace, no line breaks; a length that is a multiple of four). Whatever it
    /// accepts, Foundation's `Data(base64Encoded:)` accepts with the same bytes (a test holds
    /// them to it); Foundation also accepts some malformed padding, which this refuses.
    public static func decode(_ text: String) -> [UInt8]? {
        if let result = text.utf8.withContiguousStorageIfAvailable({ decode(bytes: $0) }) { return result }
        return decode(bytes: Array(text.utf8))
    }

    private static func decode(bytes: some RandomAccessCollection<UInt8>) -> [UInt8]? {
        let input = Array(bytes)
        guard input.count % 4 == 0 else { return nil }
        if input.isEmpty { return [] }
        var padding = 0
        if input[input.count - 1] == UInt8(ascii: "=") { padding += 1 }
        if input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        // Bounded: four input bytes per iteration.
        while index < input.count {
            let last = index + 4 == input.count
            var chunk: UInt32 = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                if last && offset >= 4 - padding {
                    guard byte == UInt8(ascii: "=") else { return nil }
                    chunk <<= 6
                    continue
                }
                let value = values[Int(byte)]
                guard value != invalid else { return nil }
                chunk = chunk << 6 | UInt32(value)
            }
            out.append(UInt8(truncatingIfNeeded: chunk >> 16))
            if !last || padding < 2 { out.append(UInt8(truncatingIfNeeded: chunk >> 8)) }
            if !last || padding < 1 { out.append(UInt8(truncatingIfNeeded: chunk)) }
            index += 4
        }
        return out
    }
}
