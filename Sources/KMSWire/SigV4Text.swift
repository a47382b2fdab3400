/// Byte-level text helpers shared by the SigV4 canonicalisation steps.
///
/// Everything here works on UTF-8 bytes so that the results are byte-exact and do not
/// depend on Unicode normalisation or locale.
enum SigV4Text {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Lowercase hexadecimal of `bytes`.
    static func hex(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the lowercase hexadecimal of `bytes` to `out`.
    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    /// `name` with ASCII letters lowercased; other bytes unchanged.
    static func lowercasedASCII(_ text: String) -> String {
        // Most names arrive lowercase already (HTTP/2, many SDKs): no copy then.
        guard text.utf8.contains(where: isUppercaseASCII) else { return text }
        return String(decoding: text.utf8.map { isUppercaseASCII($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    static func isUppercaseASCII(_ byte: UInt8) -> Bool { byte >= 0x41 && byte <= 0x5A }

    /// True for the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~`.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E: return true
        default: return false
        }
    }

    /// AWS URI encoding: unreserved bytes stay, `/` stays when `keepSlash`, every other byte
    /// becomes `%XX` with uppercase hex.
    static func uriEncode(_ bytes: some Sequence<UInt8>, keepSlash: Bool) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            if isUnreserved(byte) || (keepSlash && byte == 0x2F) {
                out.append(byte)
            } else {
                out.append(0x25)
                out.append(upperHexDigits[Int(byte >> 4)])
                out.append(upperHexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` sequences; anything else, malformed escapes and `+` included, is kept
    /// as it is.
    static func percentDecode(_ text: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(text)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x25, index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// True for the bytes SigV4 treats as whitespace in header values: SP, HTAB, CR, LF.
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }

    /// A header value trimmed at both ends with every inner run of whitespace (line folds
    /// included) replaced by one space.
    static func collapsedHeaderValue(_ value: String) -> String {
        if isCollapsed(value) { return value }
        var out: [UInt8] = []
        var pendingSpace = false
        for byte in value.utf8 {
            if isWhitespace(byte) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `collapsedHeaderValue(value)` to `out` without building the string.
    static func appendCollapsed(_ value: String, to out: inout [UInt8]) {
        if let done: Void = value.utf8.withContiguousStorageIfAvailable({ appendCollapsed($0, to: &out) }) {
            return done
        }
        appendCollapsed(Array(value.utf8), to: &out)
    }

    private static func appendCollapsed(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        let start = out.count
        var pendingSpace = false
        for byte in bytes {
            if isWhitespace(byte) {
                pendingSpace = out.count > start
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
    }

    /// True when `name`, with ASCII letters lowercased, equals `lowercase` (already
    /// lowercase). No allocation.
    static func equalsLowercased(_ name: String, _ lowercase: String) -> Bool {
        guard name.utf8.count == lowercase.utf8.count else { return false }
        return name.utf8.elementsEqual(lowercase.utf8) { a, b in (isUppercaseASCII(a) ? a + 0x20 : a) == b }
    }

    /// True when `collapsedHeaderValue(value) == value`: no whitespace at either end, and
    /// whitespace inside only as single spaces. One pass, no allocation.
    static func isCollapsed(_ value: String) -> Bool {
        value.utf8.withContiguousStorageIfAvailable { isCollapsed($0) } ?? isCollapsed(Array(value.utf8))
    }

    private static func isCollapsed(_ bytes: some Collection<UInt8>) -> Bool {
        var previousIsSpace = true // a leading space is not collapsed
        for byte in bytes {
            if isWhitespace(byte) {
                if byte != 0x20 || previousIsSpace { return false }
                previousIsSpace = true
            } else {
                previousIsSpace = false
            }
        }
        return !previousIsSpace || bytes.isEmpty
    }

    /// `bytes` split at every `separator` byte, empty pieces dropped.
    static func split(_ bytes: some Collection<UInt8>, at separator: UInt8) -> [[UInt8]] {
        bytes.split(separator: separator, omittingEmptySubsequences: true).map { Array($0) }
    }

    /// Bytewise ordering of UTF-8 strings (not Unicode ordering).
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
