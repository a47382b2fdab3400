@testable import KMSWire
import Testing

/// The single-pass `Authorization` parser against the split-based one it replaced (kept here
/// as the reference, verbatim): same header or same error, message included, for valid headers
/// and for seeded mutations of them.
@Suite struct SigV4AuthorizationParserTests {
    typealias SplitMix64 = SigV4MutationTests.SplitMix64

    static let valid = [
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=AKIAKEYRAFT0000000001/20261129/eu-west-1/kms/aws4_request,"
            + "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,Signature=00ff",
        "AWS4-HMAC-SHA256  Credential=A/20261129/r/kms/aws4_request ,\tSignedHeaders=host , Signature=ab  ",
    ]

    /// Bytes a mutation inserts or substitutes: the header's own syntax, spacing, and the
    /// characters each check looks at.
    static let alphabet: [Character] = [",", ";", "/", "=", " ", "\t", "\r\n", "A", "a", "Z", "0", "_", "-", "é"]

    @Test func validHeadersParseAlike() throws {
        for header in Self.valid {
            let ours = try SigV4AuthorizationHeader.parse(header, signedHeaderCountMax: 64)
            #expect(ours == (try Reference.parse(header, signedHeaderCountMax: 64)))
        }
    }

    @Test func mutationsParseAlike() {
        var random = SplitMix64(state: 0x4B45_5952_4146_5402)
        var compared = 0
        for iteration in 0..<20_000 {
            var text = Array(Self.valid[iteration % Self.valid.count])
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0...text.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: text.insert(Self.alphabet.randomElement(using: &random)!, at: position)
                case 1 where position < text.count: text.remove(at: position)
                case 2 where position < text.count: text[position] = Self.alphabet.randomElement(using: &random)!
                default:
                    // Repeat a stretch: duplicated components, names and separators.
                    let end = min(text.count, position + Int.random(in: 1...40, using: &random))
                    text.insert(contentsOf: text[position..<end], at: position)
                }
            }
            let header = String(text)
            let countMax = [2, 5, 64][iteration % 3]
            let ours = outcome { () throws(SigV4VerificationError) in
                try SigV4AuthorizationHeader.parse(header, signedHeaderCountMax: countMax)
            }
            let reference = outcome { () throws(SigV4VerificationError) in
                try Reference.parse(header, signedHeaderCountMax: countMax)
            }
            #expect(ours == reference, "header: \(header)")
            compared += 1
        }
        #expect(compared == 20_000)
    }

    private func outcome(_ parse: () throws(SigV4VerificationError) -> SigV4AuthorizationHeader)
        -> Result<SigV4AuthorizationHeader, SigV4VerificationError> {
        do { return .success(try parse()) } catch { return .failure(error) }
    }

    /// The parser as it was before the single-pass rewrite.
    enum Reference {
        private static let componentCountMax = 8
        private static let credentialElementCount = 5
        private static let prefix = Array((SigV4Signature.algorithm + " ").utf8)

        static func parse(_ value: String, signedHeaderCountMax: Int) throws(SigV4VerificationError) -> SigV4AuthorizationHeader {
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
            return SigV4AuthorizationHeader(
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
}
