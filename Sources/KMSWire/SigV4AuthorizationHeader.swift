/// The parsed `Authorization` header of a SigV4 request:
/// `AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/region/service/aws4_request, SignedHeaders=a;b, Signature=hex`.
struct SigV4AuthorizationHeader: Sendable, Hashable {
    let accessKeyID: String
    /// Date, region and service of the credential scope, as the client wrote them.
    let scope: SigV4Scope
    /// The fifth credential element; must be `aws4_request`.
    let terminator: String
    /// Lowercase, sorted bytewise, unique.
    let signedHeaderNames: [String]
    /// As sent; compared in constant time, never echoed.
    let signature: String

    private static let componentCountMax = 8
    private static let credentialElementCount = 5

    /// Parses `value`; every failure is `.malformedAuthorization` with an AWS-like reason
    /// that never echoes the header.
    static func parse(_ value: String, signedHeaderCountMax: Int) throws(SigV4VerificationError) -> Self {
        let trimmed = Substring(SigV4Text.collapsedHeaderValue(value))
        let prefix = SigV4Signature.algorithm + " "
        guard trimmed.hasPrefix(prefix) else {
            throw .malformedAuthorization("Only the \(SigV4Signature.algorithm) signing algorithm is supported.")
        }
        let parts = try components(trimmed.dropFirst(prefix.count))
        var missing: [String] = []
        for name in ["Credential", "SignedHeaders", "Signature"] where parts[name] == nil {
            missing.append("Authorization header requires '\(name)' parameter.")
        }
        guard missing.isEmpty, let credential = parts["Credential"], let signedHeaders = parts["SignedHeaders"],
              let signature = parts["Signature"]
        else { throw .malformedAuthorization(missing.joined(separator: " ")) }
        let elements = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard elements.count == credentialElementCount, elements.allSatisfy({ !$0.isEmpty }) else {
            throw .malformedAuthorization(
                "Credential must have the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request.")
        }
        let names = try signedHeaderNames(signedHeaders, countMax: signedHeaderCountMax)
        return Self(
            accessKeyID: String(elements[0]),
            scope: SigV4Scope(dateStamp: String(elements[1]), region: String(elements[2]), service: String(elements[3])),
            terminator: String(elements[4]),
            signedHeaderNames: names,
            signature: String(signature))
    }

    /// `Key=value` components separated by commas (optional spaces), each key at most once.
    private static func components(_ text: Substring) throws(SigV4VerificationError) -> [String: Substring] {
        let pieces = text.split(separator: ",", omittingEmptySubsequences: false)
        guard pieces.count <= componentCountMax else {
            throw .malformedAuthorization("Authorization header has too many components.")
        }
        var result: [String: Substring] = [:]
        for piece in pieces {
            let item = trimmedSpaces(piece)
            guard let equals = item.firstIndex(of: "=") else {
                throw .malformedAuthorization("Authorization header components must have the form Key=value.")
            }
            let key = String(item[..<equals])
            guard ["Credential", "SignedHeaders", "Signature"].contains(key), result[key] == nil else {
                throw .malformedAuthorization(
                    "Authorization header may contain only Credential, SignedHeaders and Signature, once each.")
            }
            result[key] = item[item.index(after: equals)...]
        }
        return result
    }

    /// `text` without leading and trailing spaces.
    private static func trimmedSpaces(_ text: Substring) -> Substring {
        var result = text
        // Bounded: each iteration removes one character.
        while result.first == " " { result.removeFirst() }
        while result.last == " " { result.removeLast() }
        return result
    }

    /// The `;`-separated names, which must be non-empty lowercase header tokens in strictly
    /// increasing bytewise order (what every AWS SDK sends).
    private static func signedHeaderNames(_ text: Substring, countMax: Int) throws(SigV4VerificationError) -> [String] {
        let names = text.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard names.count <= countMax else {
            throw .malformedAuthorization("SignedHeaders names more than \(countMax) headers.")
        }
        for (index, name) in names.enumerated() {
            guard !name.isEmpty, name.utf8.allSatisfy(isLowercaseTokenByte),
                  index == 0 || SigV4Text.precedes(names[index - 1], name)
            else {
                throw .malformedAuthorization(
                    "SignedHeaders must be lowercase header names, sorted and separated by ';'.")
            }
        }
        return names
    }

    /// RFC 9110 token bytes without uppercase letters.
    private static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x61...0x7A, 0x30...0x39: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }
}
