import Foundation
@testable import KMSWire
import Testing

/// The canonicalisation steps on their own, including cases the vectors do not cover.
@Suite struct SigV4CanonicalTests {
    @Test(arguments: [
        ("/", "/"), ("", "/"), ("//", "/"), ("/./", "/"), ("/example/..", "/"), ("/a/b/../..", "/"),
        ("/../..", "/"), ("//example//", "/example/"), ("/./example", "/example"), ("/a/./b/", "/a/b/"),
        ("/a/b/..", "/a"), ("/a/b/.", "/a/b"), ("/example space/", "/example%20space/"),
        ("/%2F", "/%252F"), ("/a+b=c", "/a%2Bb%3Dc"), ("/ሴ", "/%E1%88%B4"), ("/~-._", "/~-._"),
    ])
    func normalisedPath(raw: String, canonical: String) {
        #expect(SigV4CanonicalURI.canonical(path: raw, normalizesPath: true) == canonical)
    }

    @Test func unnormalisedPathIsOnlyEncoded() {
        #expect(SigV4CanonicalURI.canonical(path: "//a/./../b", normalizesPath: false) == "//a/./../b")
        #expect(SigV4CanonicalURI.canonical(path: "/a b", normalizesPath: false) == "/a%20b")
    }

    @Test(arguments: [
        ("", ""), ("a=1", "a=1"), ("b=2&a=1", "a=1&b=2"), ("Param=Value2&Param-3=Value3&%E1%88%B4=Value1",
        "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"), ("a=2&a=1", "a=1&a=2"), ("flag", "flag="),
        ("a=b=c", "a=b%3Dc"), ("a=%7e", "a=~"), ("a=x%2", "a=x%252"), ("a=+", "a=%2B"), ("a= ", "a=%20"),
        ("&&a=1&", "a=1"), ("ሴ=bar", "%E1%88%B4=bar"), ("a=%2f", "a=%2F"),
    ])
    func canonicalQuery(raw: String, canonical: String) {
        #expect(SigV4CanonicalQuery.canonical(query: raw) == canonical)
    }

    @Test(arguments: [
        (" value1", "value1"), ("\"a   b   c\"", "\"a b c\""), ("value1\n  value2\n     value3", "value1 value2 value3"),
        ("\t x \t", "x"), ("", ""), ("   ", ""), ("a\r\n b", "a b"),
    ])
    func headerValueCollapse(raw: String, collapsed: String) {
        #expect(SigV4Text.collapsedHeaderValue(raw) == collapsed)
    }

    @Test func duplicateHeadersJoinInOrder() {
        let request = SigV4Request(
            method: "GET", path: "/",
            headers: [.init("My-Header1", "value4"), .init("host", "h"), .init("MY-HEADER1", " value1 ")])
        let canonical = SigV4CanonicalRequest.build(
            request, signedHeaderNames: ["host", "my-header1"], payloadHash: "p", normalizesPath: true)
        #expect(canonical == "GET\n/\n\nhost:h\nmy-header1:value4,value1\n\nhost;my-header1\np")
    }

    @Test func timestampRoundTripsAndRejectsImpossibleDates() throws {
        let stamp = try #require(SigV4Timestamp(basic: "20150830T123600Z"))
        #expect(stamp.basic == "20150830T123600Z")
        #expect(stamp.dateStamp == "20150830")
        #expect(stamp.date == TestTime.date("2015-08-30T12:36:00Z"))
        #expect(SigV4Timestamp(basic: "20240229T000000Z") != nil)
        #expect(SigV4Timestamp(basic: "99991231T235959Z")?.epochSeconds == SigV4Timestamp.epochSecondsMax)
        for bad in ["20230229T000000Z", "20151330T123600Z", "20150830T126000Z", "19691231T235959Z",
                    "20150830 123600Z", "2015083OT123600Z", "20150830T123600z", "+0150830T123600Z", ""] {
            #expect(SigV4Timestamp(basic: bad) == nil, "\(bad)")
        }
        // Every day boundary in a range agrees with Foundation's calendar.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        for day in stride(from: 0, to: 200_000, by: 997) {
            let date = Date(timeIntervalSince1970: TimeInterval(day) * 86_400 + 3_723)
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            let expected = String(format: "%04d%02d%02dT010203Z", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
            #expect(SigV4Timestamp(date: date)?.basic == expected)
            #expect(SigV4Timestamp(basic: expected)?.date == date)
        }
    }

    @Test func signingKeyMatchesAWSDocumentationExample() {
        // AWS documentation, "Deriving the signing key": secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
        // 20120215/us-east-1/iam.
        let key = SigV4Signature.signingKey(
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            scope: SigV4Scope(dateStamp: "20120215", region: "us-east-1", service: "iam"))
        #expect(SigV4Text.hex(key) == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }
}
