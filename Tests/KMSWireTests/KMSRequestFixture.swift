import Foundation
import KMSWire
import Testing

/// A boto3-shaped KMS Encrypt request (TOOLCHAIN-NOTES, "What boto3 sends") and the
/// verifier that should accept it.
enum KMSRequestFixture {
    static let credentials = SigV4Credentials(
        accessKeyID: "AKIAKEYRAFTTEST00001", secretAccessKey: "kEyRaFtSeCrEt/Example+Key0123456789abcdEF")
    static let principal = "arn:aws:iam::111122223333:user/tester"
    static let region = "us-east-1"
    static let body = #"{"KeyId": "alias/test", "Plaintext": "aGVsbG8=", "EncryptionContext": {"tenant": "a"}}"#

    static var store: TableCredentialStore { TableCredentialStore(credentials, principal: principal) }

    static var verifier: SigV4Verifier<TableCredentialStore> { SigV4Verifier(region: region, store: store) }

    /// The unsigned request: `POST /` with `X-Amz-Target`, `Content-Type` and `Host`.
    static func request(target: String = "TrentService.Encrypt", body: String = body) -> SigV4Request {
        SigV4Request(
            method: "POST", path: "/",
            headers: [
                .init("X-Amz-Target", target),
                .init("Content-Type", "application/x-amz-json-1.1"),
                .init("Host", "kms.keyraft.test:8443"),
            ],
            body: Array(body.utf8))
    }

    /// `request` signed with `credentials` for `region`/`service` at `date`.
    static func signed(
        _ request: SigV4Request = request(), credentials: SigV4Credentials = credentials,
        region: String = region, service: String = "kms", date: Date = TestTime.boto
    ) throws -> SigV4SignedRequest {
        try SigV4Signer(credentials: credentials, region: region, service: service).sign(request, date: date)
    }

    /// The signature the server would expect for `request` with the right secret: it must
    /// never appear in an error message.
    static func expectedSignature(of request: SigV4Request, date: Date = TestTime.boto) throws -> String {
        var unsigned = request
        unsigned.headers.removeAll { ["authorization", "x-amz-date"].contains($0.name.lowercased()) }
        return try signed(unsigned, date: date).signature
    }

    /// `request` with the value of every header named `name` replaced (or appended).
    static func setting(_ name: String, _ value: String, in request: SigV4Request) -> SigV4Request {
        var copy = request
        copy.headers.removeAll { $0.name.lowercased() == name.lowercased() }
        copy.headers.append(.init(name, value))
        return copy
    }

    /// Records an issue if the error's message or JSON body contains a secret or `signature`.
    static func expectNoLeak(
        _ error: SigV4VerificationError?, signatures: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error else { return }
        let json = String(decoding: error.errorBody.json, as: UTF8.self)
        for secret in [credentials.secretAccessKey] + signatures {
            #expect(!error.message.contains(secret), "message leaks a secret or signature", sourceLocation: sourceLocation)
            #expect(!json.contains(secret), "error body leaks a secret or signature", sourceLocation: sourceLocation)
        }
    }
}
