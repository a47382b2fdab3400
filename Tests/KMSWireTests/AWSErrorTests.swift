import Foundation
import KMSWire
import Testing

@Suite struct AWSErrorTests {
    private func decode(_ body: AWSErrorBody) throws -> [String: String] {
        try #require(try JSONSerialization.jsonObject(with: Data(body.json)) as? [String: String])
    }

    @Test func encodesTypeAndMessage() throws {
        let body = AWSErrorBody(.notFound, "Key 'arn:aws:kms:us-east-1:111122223333:key/abc' does not exist")
        #expect(String(decoding: body.json, as: UTF8.self)
            == #"{"__type":"NotFoundException","message":"Key 'arn:aws:kms:us-east-1:111122223333:key/abc' does not exist"}"#)
        #expect(body.httpStatus == 400)
        #expect(AWSErrorBody.contentType == "application/x-amz-json-1.1")
    }

    @Test func escapesMessagesAsJSON() throws {
        let message = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} unicode ሴ 😀 slash /"
        let decoded = try decode(AWSErrorBody(.validation, message))
        #expect(decoded == ["__type": "ValidationException", "message": message])
        #expect(String(decoding: AWSErrorBody(.validation, "\u{1}").json, as: UTF8.self).contains(#"\u0001"#))
    }

    @Test func statusTable() throws {
        let status = Dictionary(uniqueKeysWithValues: AWSErrorName.allCases.map { ($0.rawValue, $0.httpStatus) })
        #expect(status["KMSInternalException"] == 500)
        #expect(status["DependencyTimeoutException"] == 503)
        #expect(status["ThrottlingException"] == 400)
        for name in ["NotFoundException", "DisabledException", "KMSInvalidStateException", "InvalidCiphertextException",
                     "IncorrectKeyException", "InvalidKeyUsageException", "AlreadyExistsException",
                     "InvalidAliasNameException", "InvalidArnException", "InvalidMarkerException",
                     "MalformedPolicyDocumentException", "LimitExceededException", "ValidationException",
                     "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
                     "IncompleteSignature", "MissingAuthenticationToken", "UnsupportedOperationException",
                     "ConflictException", "UnknownOperationException", "SerializationException"] {
            #expect(status[name] == 400, "\(name)")
        }
        #expect(AWSErrorName.allCases.filter(\.isRetryable) == [.throttling, .dependencyTimeout, .internalError])
    }

    @Test func verificationErrorsMapToAWSNames() {
        let cases: [(SigV4VerificationError, String)] = [
            (.missingAuthorization, "MissingAuthenticationToken"),
            (.malformedAuthorization("x"), "IncompleteSignature"),
            (.missingDateHeader, "IncompleteSignature"),
            (.malformedDateHeader, "IncompleteSignature"),
            (.requiredHeaderNotSigned("host"), "IncompleteSignature"),
            (.signedHeaderMissing("x-a"), "IncompleteSignature"),
            (.limitExceeded("x"), "IncompleteSignature"),
            (.unrecognizedAccessKey, "UnrecognizedClientException"),
            (.scopeMismatch("x"), "InvalidSignatureException"),
            (.signatureExpired(requestTime: "a", earliest: "b", now: "c", skew: "15 min"), "InvalidSignatureException"),
            (.signatureNotYetCurrent(requestTime: "a", latest: "b", now: "c", skew: "15 min"), "InvalidSignatureException"),
            (.payloadHashMismatch, "InvalidSignatureException"),
            (.signatureMismatch, "InvalidSignatureException"),
        ]
        for (error, name) in cases {
            #expect(error.errorBody.name.rawValue == name)
            #expect(error.errorBody.httpStatus == 400)
            #expect(!error.message.isEmpty)
        }
    }
}
