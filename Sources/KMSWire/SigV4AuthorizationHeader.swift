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
    /// One pass over the UTF-8 bytes with integer ranges (the header is ASCII in every valid
    /// request): this runs on every request, and splitting into slices and arrays cost more
    /// than the HMAC. `SigV4AuthorizationParserTests` holds it to the earlier split-based
    /// parser, error messages included.
    static func parse(_ value: String, signedHeaderCountMax: Int) throws(SigV4VerificationError) -> Self {
        var text = SigV4Text.collapsedHeaderValue(value)
        let result = text.withUTF8 { parse(bytes: $0, signedHeaderCountMax: signedHeaderCountMax) }
        return try result.get()
    }

    private static let credentialKey = Array("Credential".utf8)
    private static let signedHeadersKey = Array("SignedHeaders".utf8)
    private static let signatureKey = Array("Signature".utf8)

    private typealias Bytes = UnsafeBufferPointer<UInt8>

    private static func parse(bytes: Bytes, signedHeaderCountMax: Int) -> Result<Self, SigV4VerificationError> {
        guard bytes.starts(with: prefix) else {
            return .failure(.malformedAuthorization("Only the \(SigV4Signature.algorithm) signing algorithm is supported."))
        }
        let parts: (credential: Range<Int>?, signedHeaders: Range<Int>?, signature: Range<Int>?)
        switch components(bytes, from: prefix.count) {
        case let .success(found): parts = found
        case let .failure(error): return .failure(error)
        }
        guard let credential = parts.credential, let signedHeaders = parts.signedHeaders,
              let signature = parts.signature
        else {
            var missing: [String] = []
            if parts.credential == nil { missing.append("Authorization header requires 'Credential' parameter.") }
            if parts.signedHeaders == nil { missing.append("Authorization header requires 'SignedHeaders' parameter.") }
            if parts.signature == nil { missing.append("Authorization header requires 'Signature' parameter.") }
            return .failure(.malformedAuthorization(missing.joined(separator: " ")))
        }
        // AccessKeyId/YYYYMMDD/region/service/aws4_request: exactly five non-empty elements.
        var elements: [Range<Int>] = []
        elements.reserveCapacity(credentialElementCount)
        var start = credential.lowerBound
        for index in credential where bytes[index] == UInt8(ascii: "/") {
            elements.append(start..<index)
            start = index + 1
            if elements.count == credentialElementCount { break }
        }
        elements.append(start..<credential.upperBound)
        guard elements.count == credentialElementCount, elements.allSatisfy({ !$0.isEmpty }) else {
            return .failure(.malformedAuthorization(
                "Credential must have the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request."))
        }
        let names: [String]
        switch signedHeaderNames(bytes, signedHeaders, countMax: signedHeaderCountMax) {
        case let .success(found): names = found
        case let .failure(error): return .failure(error)
        }
        return .success(Self(
            accessKeyID: string(bytes, elements[0]),
            scope: SigV4Scope(dateStamp: string(bytes, elements[1]), region: string(bytes, elements[2]),
                              service: string(bytes, elements[3])),
            terminator: string(bytes, elements[4]),
            signedHeaderNames: names,
            signature: string(bytes, signature)))
    }

    private static func string(_ bytes: Bytes, _ range: Range<Int>) -> String {
        String(decoding: Bytes(rebasing: bytes[range]), as: UTF8.self)
    }

    private static func equals(_ bytes: Bytes, _ range: Range<Int>, _ key: [UInt8]) -> Bool {
        range.count == key.count && Bytes(rebasing: bytes[range]).elementsEqual(key)
    }

    /// `Key=value` components from `start` on, separated by commas (optional spaces), each key
    /// at most once, at most `componentCountMax` of them.
    private static func components(_ bytes: Bytes, from start: Int)
        -> Result<(credential: Range<Int>?, signedHeaders: Range<Int>?, signature: Range<Int>?), SigV4VerificationError> {
        let space = UInt8(ascii: " ")
        let comma = UInt8(ascii: ",")
        var commas = 0
        for index in start..<bytes.count where bytes[index] == comma { commas += 1 }
        guard commas < componentCountMax else {
            return .failure(.malformedAuthorization("Authorization header has too many components."))
        }
        var result: (credential: Range<Int>?, signedHeaders: Range<Int>?, signature: Range<Int>?)
        var pieceStart = start
        while pieceStart <= bytes.count {
            var pieceEnd = pieceStart
            while pieceEnd < bytes.count, bytes[pieceEnd] != comma { pieceEnd += 1 }
            var first = pieceStart
            var last = pieceEnd
            while first < last, bytes[first] == space { first += 1 }
            while last > first, bytes[last - 1] == space { last -= 1 }
            guard let separator = (first..<last).first(where: { bytes[$0] == UInt8(ascii: "=") }) else {
                return .failure(.malformedAuthorization("Authorization header components must have the form Key=value."))
            }
            let key = first..<separator
            let value = (separator + 1)..<last
            if equals(bytes, key, credentialKey), result.credential == nil {
                result.credential = value
            } else if equals(bytes, key, signedHeadersKey), result.signedHeaders == nil {
                result.signedHeaders = value
            } else if equals(bytes, key, signatureKey), result.signature == nil {
                result.signature = value
            } else {
                return .failure(.malformedAuthorization(
                    "Authorization header may contain only Credential, SignedHeaders and Signature, once each."))
            }
            pieceStart = pieceEnd + 1
        }
        return .success(result)
    }

    /// The `;`-separated names, which must be non-empty lowercase header tokens in strictly
    /// increasing bytewise order (what every AWS SDK sends).
    private static func signedHeaderNames(_ bytes: Bytes, _ text: Range<Int>, countMax: Int)
        -> Result<[String], SigV4VerificationError> {
        var separators = 0
        for index in text where bytes[index] == UInt8(ascii: ";") { separators += 1 }
        guard separators < countMax else {
            return .failure(.malformedAuthorization("SignedHeaders names more than \(countMax) headers."))
        }
        var names: [String] = []
        names.reserveCapacity(separators + 1)
        var previous: Range<Int>?
        var start = text.lowerBound
        while start <= text.upperBound {
            var end = start
            while end < text.upperBound, bytes[end] != UInt8(ascii: ";") { end += 1 }
            let name = start..<end
            let ordered = previous.map {
                Bytes(rebasing: bytes[$0]).lexicographicallyPrecedes(Bytes(rebasing: bytes[name]))
            } ?? true
            guard !name.isEmpty, name.allSatisfy({ isLowercaseTokenByte(bytes[$0]) }), ordered else {
                return .failure(.malformedAuthorization(
                    "SignedHeaders must be lowercase header names, sorted and separated by ';'."))
            }
            names.append(string(bytes, name))
            previous = name
            start = end + 1
        }
        return .success(names)
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
