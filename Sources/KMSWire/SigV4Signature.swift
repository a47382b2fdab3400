import KeyraftCrypto

/// The credential scope `date/region/service/aws4_request`.
struct SigV4Scope: Sendable, Hashable {
    /// `YYYYMMDD`.
    let dateStamp: String
    let region: String
    let service: String

    static let terminator = "aws4_request"

    var text: String { "\(dateStamp)/\(region)/\(service)/\(Self.terminator)" }
}

/// The SigV4 string to sign, signing key and signature (AWS4-HMAC-SHA256).
enum SigV4Signature {
    /// The algorithm name at the start of the string to sign and the Authorization header.
    static let algorithm = "AWS4-HMAC-SHA256"

    /// The four-line string to sign.
    static func stringToSign(canonicalRequest: String, timestamp: SigV4Timestamp, scope: SigV4Scope) -> String {
        [
            algorithm,
            timestamp.basic,
            scope.text,
            SigV4Text.hex(SHA256.hash(Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    static func signingKey(secretAccessKey: String, scope: SigV4Scope) -> [UInt8] {
        var key = Array(("AWS4" + secretAccessKey).utf8)
        for part in [scope.dateStamp, scope.region, scope.service, SigV4Scope.terminator] {
            key = HMACSHA256.authenticationCode(for: Array(part.utf8), key: key)
        }
        return key
    }

    /// The lowercase hex signature of `stringToSign`.
    static func signature(stringToSign: String, secretAccessKey: String, scope: SigV4Scope) -> String {
        let key = signingKey(secretAccessKey: secretAccessKey, scope: scope)
        let signature = SigV4Text.hex(HMACSHA256.authenticationCode(for: Array(stringToSign.utf8), key: key))
        assert(signature.utf8.count == 2 * HMACSHA256.byteCount)
        return signature
    }
}
