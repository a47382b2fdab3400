/// Shamir secret sharing over GF(2^8), for keeping the cluster root key split among
/// operators: any `threshold` of the `shares` reconstruct it, fewer reveal nothing.
///
/// Each share carries a header — format version, a split id (so shares of different
/// splits are never mixed), the threshold and its x coordinate — and a verification tag,
/// HMAC-SHA256 keyed by the secret over the split id: combining checks it, so a wrong or
/// damaged share is refused instead of producing a wrong root key. Field arithmetic is
/// branch-free and table-free (no secret-dependent memory access).
public enum Shamir {
    public static let formatVersion: UInt8 = 1
    static let splitIDBytes = 8
    static let tagBytes = 16
    static let headerBytes = 1 + splitIDBytes + 1 + 1
    public static let sharesMax = 255
    public static let secretBytesMax = 1024

    /// One share: binary layout `version, splitID(8), threshold, x, y(secret length), tag(16)`.
    public struct Share: Equatable, Sendable, CustomStringConvertible {
        public let bytes: [UInt8]
        public init(bytes: [UInt8]) { self.bytes = bytes }

        var splitID: ArraySlice<UInt8> { bytes[1...Shamir.splitIDBytes] }
        var threshold: Int { Int(bytes[1 + Shamir.splitIDBytes]) }
        var x: UInt8 { bytes[2 + Shamir.splitIDBytes] }
        var y: ArraySlice<UInt8> { bytes[Shamir.headerBytes..<(bytes.count - Shamir.tagBytes)] }
        var tag: ArraySlice<UInt8> { bytes[(bytes.count - Shamir.tagBytes)...] }

        /// The text operators handle: `keyraft-share-1-<hex>`.
        public var text: String { "keyraft-share-1-" + bytes.map { hexByte($0) }.joined() }

        public init?(text: String) {
            let prefix = "keyraft-share-1-"
            guard text.hasPrefix(prefix) else { return nil }
            let hex = Array(text.dropFirst(prefix.count).utf8)
            guard hex.count % 2 == 0, hex.count <= 2 * (Shamir.headerBytes + Shamir.secretBytesMax + Shamir.tagBytes) else {
                return nil
            }
            var bytes: [UInt8] = []
            for i in stride(from: 0, to: hex.count, by: 2) {
                guard let high = hexValue(hex[i]), let low = hexValue(hex[i + 1]) else { return nil }
                bytes.append(high << 4 | low)
            }
            self.bytes = bytes
        }

        /// Shares are secret material: never printed by accident.
        public var description: String { "Shamir.Share(x: \(bytes.count > Shamir.headerBytes ? Int(x) : 0), redacted)" }
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case invalidParameters(String)
        case malformedShare(index: Int)
        case belowThreshold(have: Int, need: Int)
        case duplicateShare(x: Int)
        case sharesFromDifferentSplits
        /// The shares combine to something whose tag does not match: a wrong or damaged share.
        case verificationFailed

        public var description: String {
            switch self {
            case let .invalidParameters(why): return "invalid Shamir parameters: \(why)"
            case let .malformedShare(index): return "share \(index + 1) is malformed"
            case let .belowThreshold(have, need): return "\(have) distinct shares given, \(need) needed"
            case let .duplicateShare(x): return "share number \(x) was given twice"
            case .sharesFromDifferentSplits: return "the shares come from different splits"
            case .verificationFailed: return "the shares do not reconstruct the secret: one of them is wrong or damaged"
            }
        }
    }

    /// Splits `secret` into `shares` shares of which any `threshold` reconstruct it.
    public static func split(_ secret: SecretBytes, shares: Int, threshold: Int,
                             entropy: some EntropySource) throws -> [Share] {
        guard (2...sharesMax).contains(shares), (2...shares).contains(threshold) else {
            throw Error.invalidParameters("need 2 ≤ threshold ≤ shares ≤ \(sharesMax), got \(threshold) of \(shares)")
        }
        guard (1...secretBytesMax).contains(secret.count) else {
            throw Error.invalidParameters("the secret must be 1...\(secretBytesMax) bytes")
        }
        let splitID = try entropy.bytes(count: splitIDBytes)
        let tag = Array(HMACSHA256.authenticationCode(for: splitID, key: secret).prefix(tagBytes))
        // Coefficients a1...a(k-1) for every secret byte, drawn fresh; zeroed when released.
        let coefficients = try SecretBytes.generate(count: secret.count * (threshold - 1), using: entropy)
        var result: [Share] = []
        result.reserveCapacity(shares)
        for x in 1...shares {
            var bytes = [formatVersion] + splitID + [UInt8(threshold), UInt8(x)]
            secret.withUnsafeBytes { s in
                coefficients.withUnsafeBytes { c in
                    for i in 0..<s.count {
                        // Horner's rule: f(x) = s + a1 x + ... + a(k-1) x^(k-1).
                        var y: UInt8 = 0
                        for j in stride(from: threshold - 2, through: 0, by: -1) {
                            y = gfMul(y, UInt8(x)) ^ c[i * (threshold - 1) + j]
                        }
                        bytes.append(gfMul(y, UInt8(x)) ^ s[i])
                    }
                }
            }
            result.append(Share(bytes: bytes + tag))
        }
        assert(result.count == shares)
        return result
    }

    /// Reconstructs the secret from at least `threshold` distinct shares of one split.
    public static func combine(_ shares: [Share]) throws -> SecretBytes {
        guard let first = shares.first else { throw Error.belowThreshold(have: 0, need: 2) }
        for (index, share) in shares.enumerated() {
            guard share.bytes.count > headerBytes + tagBytes, share.bytes[0] == formatVersion,
                  share.bytes.count == first.bytes.count, share.x != 0, share.threshold >= 2
            else { throw Error.malformedShare(index: index) }
        }
        guard shares.allSatisfy({ $0.splitID == first.splitID && $0.threshold == first.threshold && $0.tag == first.tag }) else {
            throw Error.sharesFromDifferentSplits
        }
        var seen: [UInt8] = []
        for share in shares {
            guard !seen.contains(share.x) else { throw Error.duplicateShare(x: Int(share.x)) }
            seen.append(share.x)
        }
        guard shares.count >= first.threshold else { throw Error.belowThreshold(have: shares.count, need: first.threshold) }
        let used = Array(shares.prefix(first.threshold))
        let length = first.y.count
        let secret = SecretBytes(count: length) { (out: UnsafeMutableRawBufferPointer) in
            for i in 0..<length {
                var value: UInt8 = 0
                for (m, share) in used.enumerated() {
                    // Lagrange basis at 0: product of x_j / (x_j - x_m); subtraction is xor.
                    var basis: UInt8 = 1
                    for (n, other) in used.enumerated() where n != m {
                        basis = gfMul(basis, gfMul(other.x, gfInverse(other.x ^ share.x)))
                    }
                    value ^= gfMul(share.y[share.y.startIndex + i], basis)
                }
                out[i] = value
            }
        }
        let tag = Array(HMACSHA256.authenticationCode(for: Array(first.splitID), key: secret).prefix(tagBytes))
        guard ConstantTime.equals(tag, Array(first.tag)) else { throw Error.verificationFailed }
        return secret
    }

    /// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, without branches on the operands.
    static func gfMul(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a
        var b = b
        var product: UInt8 = 0
        for _ in 0..<8 {
            product ^= a & (0 &- (b & 1))
            let high = a >> 7
            a = (a << 1) ^ (0x1B & (0 &- high))
            b >>= 1
        }
        return product
    }

    /// a^254 = a^-1 for a ≠ 0 (square and multiply over a fixed exponent: constant time).
    static func gfInverse(_ a: UInt8) -> UInt8 {
        precondition(a != 0, "zero has no inverse")
        var result: UInt8 = 1
        var base = a
        var exponent = 254
        for _ in 0..<8 {
            let bit = UInt8(exponent & 1)
            let multiplied = gfMul(result, base)
            result = (multiplied & (0 &- bit)) | (result & ~(0 &- bit))
            base = gfMul(base, base)
            exponent >>= 1
        }
        return result
    }
}

private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
