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

    private static let prefix = Array((SigV4Signature.algorithm + " ").utf8)

    /// Parses `value`; every failure is `.malformedAuthorization` with an AWS-like reason
    /// that never echoes the header.
    ///
    /// Works on the UTF-8 bytes (the header is ASCII in every valid request): this runs on
    /// every request, and `Character`-level string splitting cost more than the signature.
    static func parse(_ value: String, signedHeaderCountMax: Int) throws(SigV4VerificationError) -> Self {
        let text = Array(SigV4Text.collapsedHeaderValue(value).utf8)
        guard text.starts(with: prefix) else {
            throw .malformedAuthorization("Only the \(SigV4Signature.algorithm) signing algorithm is supported.")
        }
        let parts = try components(text[prefix.count...])
        guard let credential = parts.credential, let signedHeaders = parts.signedHeaders,
              let signature = parts.signature
        else {
            var missing: [String] = []
            if parts.credential == nil { missing.append("Authorization header requires 'Credential' parameter.") }
            if parts.signedHeaders == nil { missing.append("Authorization header requires 'SignedHeaders' parameter.") }
            if parts.signature == nil { missing.append("Authorization header requires 'Signature' parameter.") }
            throw .malformedAuthorization(missing.joined(separator: " "))
        }
        let elements = credential.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard elements.count == credentialElementCount, elements.allSatisfy({ !$0.isEmpty }) else {
            throw .malformedAuthorization(
                "Credential must have the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request.")
        }
        let names = try signedHeaderNames(signedHeaders, countMax: signedHeaderCountMax)
        return Self(
            accessKeyID: string(elements[0]),
            scope: SigV4Scope(dateStamp: string(elements[1]), region: string(elements[2]), service: string(elements[3])),
            terminator: string(elements[4]),
            signedHeaderNames: names,
            signature: string(signature))
    }

    private static func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    private static let credentialKey = Array("Credential".utf8)
    private static let signedHeadersKey = Array("SignedHeaders".utf8)
    private static let signatureKey = Array("Signature".utf8)

    /// `Key=value` components separated by commas (optional spaces), each key at most once.
    private static func components(_ text: ArraySlice<UInt8>) throws(SigV4VerificationError)
        -> (credential: ArraySlice<UInt8>?, signedHeaders: ArraySlice<UInt8>?, signature: ArraySlice<UInt8>?) {
        let pieces = text.split(separator: UInt8(ascii: ","), maxSplits: componentCountMax,
                                omittingEmptySubsequences: false)
        guard pieces.count <= componentCountMax else {
            throw .malformedAuthorization("Authorization header has too many components.")
        }
        var result: (credential: ArraySlice<UInt8>?, signedHeaders: ArraySlice<UInt8>?, signature: ArraySlice<UInt8>?)
        for piece in pieces {
            let item = trimmedSpaces(piece)
            guard let equals = item.firstIndex(of: UInt8(ascii: "=")) else {
                throw .malformedAuthorization("Authorization header components must have the form Key=value.")
            }
            let key = item[..<equals]
            let value = item[(equals + 1)...]
            if key.elementsEqual(credentialKey), result.credential == nil {
                result.credential = value
            } else if key.elementsEqual(signedHeadersKey), result.signedHeaders == nil {
                result.signedHeaders = value
            } else if key.elementsEqual(signatureKey), result.signature == nil {
                result.signature = value
            } else {
                throw .malformedAuthorization(
                    "Authorization header may contain only Credential, SignedHeaders and Signature, once each.")
            }
        }
        return result
    }

    /// `text` without leading and trailing spaces.
    private static func trimmedSpaces(_ text: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let space = UInt8(ascii: " ")
        guard let first = text.firstIndex(where: { $0 != space }) else { return text[text.endIndex...] }
        let last = text.lastIndex(where: { $0 != space }) ?? first
        return text[first...last]
    }

    /// The `;`-separated names, which must be non-empty lowercase header tokens in strictly
    /// increasing bytewise order (what every AWS SDK sends).
    private static func signedHeaderNames(_ text: ArraySlice<UInt8>, countMax: Int) throws(SigV4VerificationError) -> [String] {
        let names = text.split(separator: UInt8(ascii: ";"), maxSplits: countMax, omittingEmptySubsequences: false)
        guard names.count <= countMax else {
            throw .malformedAuthorization("SignedHeaders names more than \(countMax) headers.")
        }
        for (index, name) in names.enumerated() {
            guard !name.isEmpty, name.allSatisfy(isLowercaseTokenByte),
                  index == 0 || names[index - 1].lexicographicallyPrecedes(name)
            else {
                throw .malformedAuthorization(
                    "SignedHeaders must be lowercase header names, sorted and separated by ';'.")
            }
        }
        return names.map(string)
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
