import Foundation
import KMSWire
import Testing

/// Malformed, incomplete and oversized requests: refused with `IncompleteSignature`
/// (or the listed name), gracefully, without leaking anything.
@Suite struct SigV4IncompleteSignatureTests {
    typealias Fixture = KMSRequestFixture

    private func signedRequest() throws -> (SigV4Request, String) {
        let signed = try Fixture.signed()
        let authorization = try #require(signed.request.values(named: "Authorization").first)
        return (signed.request, authorization)
    }

    private func refusal(authorization: String, in request: SigV4Request) -> SigV4VerificationError? {
        verificationError(Fixture.verifier, Fixture.setting("Authorization", authorization, in: request), now: TestTime.boto)
    }

    @Test func refusesMalformedAuthorizationHeaders() throws {
        let (request, authorization) = try signedRequest()
        let malformed = [
            authorization.replacingOccurrences(of: "AWS4-HMAC-SHA256", with: "AWS4-HMAC-SHA512"),
            "AWS AKIAKEYRAFTTEST00001:c2lnbmF0dXJl",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=AKIAKEYRAFTTEST00001/20261129/us-east-1/kms/aws4_request",
            authorization.replacingOccurrences(of: "/us-east-1", with: ""),
            authorization.replacingOccurrences(of: "Credential=AKIAKEYRAFTTEST00001", with: "Credential="),
            authorization + ", Signature=00",
            authorization + ", Extra=1",
            authorization.replacingOccurrences(of: "content-type;host", with: "host;content-type"),
            authorization.replacingOccurrences(of: "content-type;host", with: "Content-Type;host"),
            authorization.replacingOccurrences(of: "content-type;host", with: "content-type;;host"),
            authorization.replacingOccurrences(of: ", Signature=", with: ", Signature"),
        ]
        for value in malformed {
            let error = refusal(authorization: value, in: request)
            #expect(error?.awsErrorName == .incompleteSignature, "\(value)")
            // (Values shorter than the algorithm name would match the message's own wording.)
            if value.count > 20 {
                #expect(error.map { !$0.message.contains(value) } ?? true, "the header is echoed")
            }
        }
        let missingAll = refusal(authorization: "AWS4-HMAC-SHA256 Foo", in: request)
        #expect(missingAll?.awsErrorName == .incompleteSignature)
    }

    @Test func namesEveryMissingComponent() throws {
        let (request, _) = try signedRequest()
        let error = refusal(
            authorization: "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date", in: request)
        #expect(error?.message == "Authorization header requires 'Credential' parameter. "
            + "Authorization header requires 'Signature' parameter.")
    }

    @Test func toleratesSpacingVariantsOfAuthorization() throws {
        let (request, authorization) = try signedRequest()
        let compact = authorization.replacingOccurrences(of: ", ", with: ",")
        _ = try Fixture.verifier.verify(Fixture.setting("Authorization", compact, in: request), now: TestTime.boto)
        let padded = "  " + authorization.replacingOccurrences(of: ", ", with: " ,  ") + "  "
        _ = try Fixture.verifier.verify(Fixture.setting("Authorization", padded, in: request), now: TestTime.boto)
    }

    @Test func refusesDuplicateAuthorization() throws {
        var (request, authorization) = try signedRequest()
        request.headers.append(.init("authorization", authorization))
        let error = verificationError(Fixture.verifier, request, now: TestTime.boto)
        #expect(error?.awsErrorName == .incompleteSignature)
    }

    @Test func requiresXAmzDate() throws {
        var (request, _) = try signedRequest()
        request.headers.removeAll { $0.name == "X-Amz-Date" }
        request.headers.append(.init("Date", "Sun, 29 Nov 2026 08:15:00 GMT"))
        #expect(verificationError(Fixture.verifier, request, now: TestTime.boto) == .missingDateHeader)
        for bad in ["2026-11-29T08:15:00Z", "20261129T081500", "20261131T081500Z", "20261129T246000Z", "x"] {
            let error = verificationError(Fixture.verifier, Fixture.setting("X-Amz-Date", bad, in: request), now: TestTime.boto)
            #expect(error == .malformedDateHeader, "\(bad)")
            #expect(error?.awsErrorName == .incompleteSignature)
        }
    }

    @Test func requiresHostSignedAndSignedHeadersPresent() throws {
        let credentials = Fixture.credentials
        // Signed without Host: build the Authorization by hand from a request that had one,
        // then drop host from SignedHeaders.
        let (request, authorization) = try signedRequest()
        let noHost = authorization.replacingOccurrences(of: "content-type;host;", with: "content-type;")
        #expect(refusal(authorization: noHost, in: request) == .requiredHeaderNotSigned("host"))
        var missing = request
        missing.headers.removeAll { $0.name == "Content-Type" }
        let error = verificationError(Fixture.verifier, missing, now: TestTime.boto)
        #expect(error == .signedHeaderMissing("content-type"))
        #expect(error?.awsErrorName == .incompleteSignature)
        #expect(throws: SigV4SigningError.missingHostHeader) {
            var unsigned = Fixture.request()
            unsigned.headers.removeAll { $0.name == "Host" }
            _ = try SigV4Signer(credentials: credentials, region: "us-east-1", service: "kms")
                .sign(unsigned, date: TestTime.boto)
        }
    }

    @Test func enforcesRequiredSignedHeaders() throws {
        let strict = SigV4Verifier(region: Fixture.region, store: Fixture.store, requiredSignedHeaders: ["X-Amz-Target"])
        _ = try strict.verify(try Fixture.signed().request, now: TestTime.boto)
        let (request, authorization) = try signedRequest()
        let unsignedTarget = Fixture.setting(
            "Authorization", authorization.replacingOccurrences(of: ";x-amz-target", with: ""), in: request)
        #expect(verificationError(strict, unsignedTarget, now: TestTime.boto) == .requiredHeaderNotSigned("x-amz-target"))
    }

    @Test func boundsAreEnforcedGracefully() throws {
        let (request, authorization) = try signedRequest()
        let limits = SigV4Limits()
        var many = request
        for index in 0..<limits.headerCountMax { many.headers.append(.init("X-Filler-\(index)", "v")) }
        #expect(verificationError(Fixture.verifier, many, now: TestTime.boto)?.awsErrorName == .incompleteSignature)

        let huge = Fixture.setting("X-Large", String(repeating: "a", count: limits.headerBytesMax), in: request)
        #expect(verificationError(Fixture.verifier, huge, now: TestTime.boto)?.awsErrorName == .incompleteSignature)

        var section = request
        for index in 0..<8 { section.headers.append(.init("X-Big-\(index)", String(repeating: "b", count: 9_000))) }
        #expect(verificationError(Fixture.verifier, section, now: TestTime.boto)?.awsErrorName == .incompleteSignature)

        let longAuthorization = authorization + String(repeating: " ", count: 1) + ";" + String(repeating: "a", count: limits.authorizationBytesMax)
        let error = refusal(authorization: longAuthorization, in: request)
        #expect(error?.awsErrorName == .incompleteSignature)
        #expect(error?.message == "The Authorization header exceeds 4096 bytes.")

        var longPath = request
        longPath.path = "/" + String(repeating: "p", count: limits.requestTargetBytesMax)
        #expect(verificationError(Fixture.verifier, longPath, now: TestTime.boto)?.awsErrorName == .incompleteSignature)

        let manySigned = (0..<(limits.headerCountMax + 1)).map { String(format: "h%04d", $0) }.joined(separator: ";")
        let tooManyNames = refusal(
            authorization: "AWS4-HMAC-SHA256 Credential=AKIAKEYRAFTTEST00001/20261129/us-east-1/kms/aws4_request, "
                + "SignedHeaders=\(manySigned), Signature=00", in: request)
        #expect(tooManyNames?.awsErrorName == .incompleteSignature)
    }
}
