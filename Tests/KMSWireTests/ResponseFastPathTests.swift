@testable import KMS
@testable import KMSWire
import Testing

/// The hand-written answers of the cryptographic calls against the general encoder.
@Suite("Crypto answers: the direct writer equals the general encoder")
struct ResponseFastPathTests {
    @Test("Decrypt, Encrypt and GenerateDataKey (with and without plaintext), blob lengths 0...49")
    func directEqualsGeneral() throws {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/0b6e4c1a-6f1e-4c9a-9a55-2f5e7c1d8a00"
        for length in 0..<50 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let responses: [KMSReadResponse] = [
                .decrypt(DecryptResponse(plaintext: bytes, keyARN: arn, keyVersion: KeyVersion(1))),
                .encrypt(EncryptResponse(ciphertextBlob: bytes, keyARN: arn)),
                .generateDataKey(GenerateDataKeyResponse(ciphertextBlob: bytes, plaintext: bytes.reversed(), keyARN: arn)),
                .generateDataKey(GenerateDataKeyResponse(ciphertextBlob: bytes, plaintext: nil, keyARN: arn)),
            ]
            for response in responses {
                let direct = try #require(KMSResponseEncoder.cryptoBody(response))
                #expect(direct == KMSResponseEncoder.body(KMSResponseEncoder.value(response)))
                #expect(KMSResponseEncoder.encode(response) == direct)
            }
        }
        #expect(KMSResponseEncoder.cryptoBody(.policy("{}")) == nil, "other answers take the general path")
    }
}
