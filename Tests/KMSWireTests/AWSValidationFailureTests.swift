import KMSWire
import Testing

@Suite struct AWSValidationFailureTests {
    @Test func singleFailureUsesAWSWording() {
        #expect(AWSValidationFailure.message([.lengthAtMost("plaintext", 4096)])
            == "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
            + "Member must have length less than or equal to 4096")
    }

    @Test func severalFailuresAreCountedAndJoined() {
        let message = AWSValidationFailure.message([
            .lengthAtLeast("plaintext", 1),
            .valueAtMost("numberOfBytes", 1024, value: .shown("2000")),
        ])
        #expect(message == "2 validation errors detected: "
            + "Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1; "
            + "Value '2000' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024")
    }

    @Test func constraintHelpers() {
        #expect(AWSValidationFailure.notNull("keyId").text
            == "Value null at 'keyId' failed to satisfy constraint: Member must not be null")
        #expect(AWSValidationFailure.valueAtLeast("limit", 1, value: .shown("0")).text
            == "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
        #expect(AWSValidationFailure.pattern("aliasName", "^[a-zA-Z0-9:/_-]+$", value: .shown("alias/a b")).text
            == "Value 'alias/a b' at 'aliasName' failed to satisfy constraint: "
            + "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
        #expect(AWSValidationFailure.enumValueSet("keySpec", ["AES_256", "AES_128"], value: .shown("AES_512")).text
            == "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]")
    }

    @Test func errorBodyIsValidationException() {
        let body = AWSValidationFailure.errorBody([.lengthAtMost("plaintext", 4096)])
        #expect(body.name == .validation)
        #expect(body.httpStatus == 400)
        #expect(body.message.hasPrefix("1 validation error detected: "))
    }
}
