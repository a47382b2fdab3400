import Foundation
import KMSWire
import Testing

@Suite struct SigV4SignerTests {
    typealias Fixture = KMSRequestFixture

    @Test func replacesEarlierAuthenticationHeaders() throws {
        let first = try Fixture.signed().request
        let again = try Fixture.signed(first, date: TestTime.boto.addingTimeInterval(60))
        #expect(again.request.values(named: "authorization").count == 1)
        #expect(again.request.values(named: "x-amz-date") == ["20261129T081600Z"])
        _ = try Fixture.verifier.verify(again.request, now: TestTime.boto)
    }

    @Test func leavesBotocoreUnsignedHeadersOut() throws {
        var request = Fixture.request()
        request.headers.append(.init("User-Agent", "Boto3/1.0"))
        request.headers.append(.init("X-Amzn-Trace-Id", "Root=1"))
        let signed = try Fixture.signed(request)
        #expect(signed.canonicalRequest.contains("user-agent") == false)
        #expect(signed.canonicalRequest.contains("x-amzn-trace-id") == false)
        var changed = signed.request
        changed.headers = changed.headers.map { $0.name == "User-Agent" ? .init($0.name, "other") : $0 }
        _ = try Fixture.verifier.verify(changed, now: TestTime.boto)
    }

    @Test func truncatesFractionalSecondsAndRejectsOutOfRangeDates() throws {
        let signed = try Fixture.signed(date: TestTime.boto.addingTimeInterval(0.999))
        #expect(signed.request.values(named: "x-amz-date") == ["20261129T081500Z"])
        #expect(throws: SigV4SigningError.dateOutOfRange) {
            _ = try Fixture.signed(date: Date(timeIntervalSince1970: -1))
        }
    }

    @Test func credentialsDescriptionRedactsSecrets() {
        let credentials = SigV4Credentials(accessKeyID: "AKID", secretAccessKey: "s3cr3t", sessionToken: "t0k3n")
        #expect(!credentials.description.contains("s3cr3t"))
        #expect(!credentials.description.contains("t0k3n"))
        #expect(credentials.description.contains("AKID"))
        let stored = SigV4StoredCredential(secretAccessKey: "s3cr3t", principal: "p")
        #expect(!stored.description.contains("s3cr3t"))
    }

    @Test func verifiedRequestDescriptionRedactsToken() throws {
        let temporary = SigV4Credentials(accessKeyID: "ASIATEMP", secretAccessKey: "tempSecret", sessionToken: "t0k3n")
        let verifier = SigV4Verifier(region: Fixture.region, store: TableCredentialStore(temporary))
        let verified = try verifier.verify(try Fixture.signed(credentials: temporary).request, now: TestTime.boto)
        #expect(verified.sessionToken == "t0k3n")
        #expect(!verified.description.contains("t0k3n"))
        #expect(!verified.description.contains("tempSecret"))
    }
}
