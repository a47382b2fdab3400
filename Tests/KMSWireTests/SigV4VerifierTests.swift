import Foundation
import KMSWire
import Testing

/// The verifier against boto3-shaped KMS requests signed by `SigV4Signer`.
@Suite struct SigV4VerifierTests {
    typealias Fixture = KMSRequestFixture

    @Test func acceptsSignedKMSRequest() throws {
        let signed = try Fixture.signed()
        let authorization = try #require(signed.request.values(named: "Authorization").first)
        #expect(authorization.hasPrefix(
            "AWS4-HMAC-SHA256 Credential=AKIAKEYRAFTTEST00001/20261129/us-east-1/kms/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="))
        #expect(signed.request.values(named: "X-Amz-Date") == ["20261129T081500Z"])
        #expect(signed.request.values(named: "X-Amz-Content-Sha256").isEmpty)
        let verified = try Fixture.verifier.verify(signed.request, now: TestTime.boto)
        #expect(verified.accessKeyID == Fixture.credentials.accessKeyID)
        #expect(verified.principal == Fixture.principal)
        #expect(verified.signedHeaderNames == ["content-type", "host", "x-amz-date", "x-amz-target"])
        #expect(verified.requestDate == TestTime.boto)
        #expect(verified.sessionToken == nil)
    }

    @Test func acceptsEmptyBodyAndHeaderCaseAndOrderChanges() throws {
        let signed = try Fixture.signed(Fixture.request(target: "TrentService.ListKeys", body: ""))
        var shuffled = signed.request
        shuffled.headers = shuffled.headers.reversed().map { .init($0.name.uppercased(), $0.value) }
        _ = try Fixture.verifier.verify(shuffled, now: TestTime.boto)
    }

    @Test func refusesTamperedBody() throws {
        var request = try Fixture.signed().request
        request.body = Array(#"{"KeyId": "alias/other", "Plaintext": "aGVsbG8="}"#.utf8)
        let error = verificationError(Fixture.verifier, request, now: TestTime.boto)
        #expect(error == .signatureMismatch)
        #expect(error?.awsErrorName.rawValue == "InvalidSignatureException")
        Fixture.expectNoLeak(error, signatures: [try Fixture.expectedSignature(of: request)])
    }

    @Test func refusesTamperedSignedHeader() throws {
        let request = Fixture.setting("X-Amz-Target", "TrentService.Decrypt", in: try Fixture.signed().request)
        let error = verificationError(Fixture.verifier, request, now: TestTime.boto)
        #expect(error?.awsErrorName.rawValue == "InvalidSignatureException")
        Fixture.expectNoLeak(error, signatures: [try Fixture.expectedSignature(of: request)])
    }

    @Test func refusesWrongSecret() throws {
        var wrong = Fixture.credentials
        wrong.secretAccessKey = "not-the-secret"
        let request = try Fixture.signed(credentials: wrong).request
        let error = verificationError(Fixture.verifier, request, now: TestTime.boto)
        #expect(error == .signatureMismatch)
        #expect(error?.awsErrorName.rawValue == "InvalidSignatureException")
        Fixture.expectNoLeak(error, signatures: [try Fixture.expectedSignature(of: request)])
    }

    @Test func refusesUnknownAccessKey() throws {
        var unknown = Fixture.credentials
        unknown.accessKeyID = "AKIAUNKNOWN000000000"
        let error = verificationError(Fixture.verifier, try Fixture.signed(credentials: unknown).request, now: TestTime.boto)
        #expect(error?.awsErrorName.rawValue == "UnrecognizedClientException")
        #expect(error?.message == "The security token included in the request is invalid.")
        Fixture.expectNoLeak(error, signatures: [])
    }

    @Test func refusesMissingAuthorization() throws {
        var request = try Fixture.signed().request
        request.headers.removeAll { $0.name == "Authorization" }
        let error = verificationError(Fixture.verifier, request, now: TestTime.boto)
        #expect(error?.awsErrorName.rawValue == "MissingAuthenticationToken")
        let blank = Fixture.setting("Authorization", "   ", in: request)
        #expect(verificationError(Fixture.verifier, blank, now: TestTime.boto) == .missingAuthorization)
    }

    @Test func refusesSixteenMinutesOfSkewEitherWay() throws {
        let request = try Fixture.signed().request
        let late = verificationError(Fixture.verifier, request, now: TestTime.boto.addingTimeInterval(16 * 60))
        #expect(late?.awsErrorName.rawValue == "InvalidSignatureException")
        #expect(late?.message
            == "Signature expired: 20261129T081500Z is now earlier than 20261129T081600Z (20261129T083100Z - 15 min.)")
        let early = verificationError(Fixture.verifier, request, now: TestTime.boto.addingTimeInterval(-16 * 60))
        #expect(early?.awsErrorName.rawValue == "InvalidSignatureException")
        #expect(early?.message
            == "Signature not yet current: 20261129T081500Z is still later than 20261129T081400Z (20261129T075900Z + 15 min.)")
        let signature = try Fixture.expectedSignature(of: request)
        Fixture.expectNoLeak(late, signatures: [signature])
        Fixture.expectNoLeak(early, signatures: [signature])
        // Exactly 15 minutes either way is still accepted.
        _ = try Fixture.verifier.verify(request, now: TestTime.boto.addingTimeInterval(15 * 60))
        _ = try Fixture.verifier.verify(request, now: TestTime.boto.addingTimeInterval(-15 * 60))
    }

    @Test func refusesWrongService() throws {
        let error = verificationError(Fixture.verifier, try Fixture.signed(service: "s3").request, now: TestTime.boto)
        #expect(error?.awsErrorName.rawValue == "InvalidSignatureException")
        #expect(error?.message == "Credential should be scoped to correct service: 'kms'.")
    }

    @Test func refusesWrongRegion() throws {
        let error = verificationError(Fixture.verifier, try Fixture.signed(region: "eu-west-1").request, now: TestTime.boto)
        #expect(error?.awsErrorName.rawValue == "InvalidSignatureException")
        #expect(error?.message == "Credential should be scoped to a valid region, not 'eu-west-1'.")
    }

    @Test func refusesScopeDateMismatch() throws {
        // Signed at 23:59 on the 28th; X-Amz-Date then moved two minutes, into the 29th.
        let signedAt = TestTime.date("2026-11-28T23:59:00Z")
        let request = Fixture.setting(
            "X-Amz-Date", "20261129T000100Z", in: try Fixture.signed(date: signedAt).request)
        let error = verificationError(Fixture.verifier, request, now: signedAt)
        #expect(error?.awsErrorName.rawValue == "InvalidSignatureException")
        #expect(error?.message.hasPrefix("Date in Credential scope does not match YYYYMMDD") == true)
    }

    @Test func refusesWrongTerminator() throws {
        let request = try Fixture.signed().request
        let authorization = try #require(request.values(named: "Authorization").first)
        let bad = Fixture.setting(
            "Authorization", authorization.replacingOccurrences(of: "/aws4_request", with: "/aws5_request"), in: request)
        #expect(verificationError(Fixture.verifier, bad, now: TestTime.boto)?.awsErrorName == .invalidSignature)
    }

    @Test func checksDeclaredPayloadHash() throws {
        let request = try Fixture.signed().request
        let wrong = Fixture.setting("X-Amz-Content-Sha256", String(repeating: "0", count: 64), in: request)
        let error = verificationError(Fixture.verifier, wrong, now: TestTime.boto)
        #expect(error == .payloadHashMismatch)
        #expect(error?.awsErrorName == .invalidSignature)
        let unsignedPayload = Fixture.setting("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD", in: request)
        #expect(verificationError(Fixture.verifier, unsignedPayload, now: TestTime.boto) == .payloadHashMismatch)
        // A signer that sends the (correct) header is accepted.
        let signer = SigV4Signer(
            credentials: Fixture.credentials, region: Fixture.region, service: "kms",
            options: .init(addsContentSHA256Header: true))
        let withHash = try signer.sign(Fixture.request(), date: TestTime.boto).request
        let verified = try Fixture.verifier.verify(withHash, now: TestTime.boto)
        #expect(verified.signedHeaderNames.contains("x-amz-content-sha256"))
    }

    @Test func sessionTokensGoThroughTheStore() throws {
        let temporary = SigV4Credentials(accessKeyID: "ASIATEMPORARY0000001", secretAccessKey: "tempSecret", sessionToken: "token-1")
        let verifier = SigV4Verifier(region: Fixture.region, store: TableCredentialStore(temporary))
        let request = try Fixture.signed(credentials: temporary).request
        let verified = try verifier.verify(request, now: TestTime.boto)
        #expect(verified.sessionToken == "token-1")
        #expect(verified.signedHeaderNames.contains("x-amz-security-token"))
        let otherToken = Fixture.setting("X-Amz-Security-Token", "token-2", in: request)
        #expect(verificationError(verifier, otherToken, now: TestTime.boto) == .unrecognizedAccessKey)
    }
}
