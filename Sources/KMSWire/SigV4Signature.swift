import KeyraftCrypto
import Synchronization

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
        String(decoding: stringToSign(canonicalRequest: Array(canonicalRequest.utf8), timestamp: timestamp, scope: scope),
               as: UTF8.self)
    }

    /// The four-line string to sign, as bytes.
    static func stringToSign(canonicalRequest: [UInt8], timestamp: SigV4Timestamp, scope: SigV4Scope) -> [UInt8] {
        let newline = UInt8(ascii: "\n")
        var out: [UInt8] = []
        out.reserveCapacity(160)
        out.append(contentsOf: algorithm.utf8)
        out.append(newline)
        out.append(contentsOf: timestamp.basicBytes)
        out.append(newline)
        out.append(contentsOf: scope.text.utf8)
        out.append(newline)
        SigV4Text.appendHex(SHA256.hash(canonicalRequest), to: &out)
        return out
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
        return String(decoding: signature(stringToSign: Array(stringToSign.utf8), signingKey: key), as: UTF8.self)
    }

    /// The lowercase hex signature of `stringToSign` under a derived signing key, as bytes.
    static func signature(stringToSign: [UInt8], signingKey: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 * HMACSHA256.byteCount)
        SigV4Text.appendHex(HMACSHA256.authenticationCode(for: stringToSign, key: signingKey), to: &out)
        assert(out.count == 2 * HMACSHA256.byteCount)
        return out
    }
}

/// Derived signing keys by secret and scope, as the AWS SDKs keep them: a key is good for a
/// whole day, so a request costs one HMAC rather than five. Thread-safe; bounded (the table
/// is emptied when full, which only costs derivations).
final class SigV4SigningKeyCache: Sendable {
    private struct Entry: Hashable {
        let secretAccessKey: String
        let scope: SigV4Scope
    }

    static let entriesMax = 256
    private let table = Mutex<[Entry: [UInt8]]>([:])

    func signingKey(secretAccessKey: String, scope: SigV4Scope) -> [UInt8] {
        let entry = Entry(secretAccessKey: secretAccessKey, scope: scope)
        if let key = table.withLock({ $0[entry] }) { return key }
        let key = SigV4Signature.signingKey(secretAccessKey: secretAccessKey, scope: scope)
        table.withLock { table in
            if table.count >= Self.entriesMax { table.removeAll(keepingCapacity: true) }
            table[entry] = key
            assert(table.count <= Self.entriesMax, "signing-key cache over its bound")
        }
        return key
    }
}
