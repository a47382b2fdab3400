import Envelope
import Foundation
import KeyraftCrypto
import Testing

/// The worked example of docs/FORMATS.md ("Envelope message"): these bytes were computed
/// independently with Python's `cryptography` package (HKDF, AESGCM).
@Suite struct EnvelopeFormatsExampleTests {
    static let expected = """
        4b52454e010100000004000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
        0016000000010000000674656e616e740000000461636d65004b61726e3a6177733a6b6d733a75732d65\
        6173742d313a3131313132323232333333333a6b65792f31323334616263642d313233342d346162632d\
        386465662d3031323334353637383961620004edededed9258ab988e260a075a0fe9896f696ac341fd91\
        216da52bde268da40b7422fa30bda5c3be5c91841c4c51efc2f7f9760a00000000010000000458c1d17c\
        f6192781f5ab169cc35f160af9cca373010000000200000001277e94009a56a80390c20b0c85144e5966
        """

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func workedExample() throws {
        var encryptor = try EnvelopeEncryptor(
            dataKey: SecretBytes(copying: Array(0..<32)), encryptedDataKey: [0xED, 0xED, 0xED, 0xED],
            keyARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-1234-4abc-8def-0123456789ab",
            encryptionContext: ["tenant": "acme"], frameBytes: 4, entropy: CountingEntropy())
        let headerBytes = encryptor.header.bytes.count
        let message = try encryptor.update(Array("hello".utf8)) + encryptor.finish()
        #expect(message.count == 252)
        #expect(headerBytes == 197)
        #expect(Self.hex(message) == Self.expected)
        #expect(try Fixture.decrypt(message, key: SecretBytes(copying: Array(0..<32))) == Array("hello".utf8))
    }
}
