import Foundation
import KMS
import KeyraftCrypto
import KeyraftCryptoDeterministic
import KMSWire
import Testing

@Suite("AWS JSON request decoding and response encoding")
struct JSONCodingTests {
    func decode(_ operation: KMSOperation, _ json: String) throws(AWSErrorBody) -> DecodedKMSRequest {
        try KMSRequestDecoder.decode(operation, body: Array(json.utf8))
    }

    func error(_ operation: KMSOperation, _ json: String) -> AWSErrorBody? {
        do {
            _ = try decode(operation, json)
            return nil
        } catch {
            return error
        }
    }

    @Test("boto3-shaped bodies decode into typed requests")
    func decodesBoto3Bodies() throws {
        #expect(try decode(.encrypt, #"{"KeyId": "alias/test", "Plaintext": "aGVsbG8=", "EncryptionContext": {"tenant": "a"}}"#)
                == .read(.encrypt(keyID: "alias/test", plaintext: Array("hello".utf8), context: ["tenant": "a"], algorithm: nil)))
        #expect(try decode(.createKey, #"{"Description": "d", "KeyUsage": "ENCRYPT_DECRYPT", "Tags": [{"TagKey": "k", "TagValue": "v"}], "BypassPolicyLockoutSafetyCheck": true}"#)
                == .write(.createKey(CreateKeyRequest(description: "d", keyUsage: "ENCRYPT_DECRYPT", tags: [Tag(key: "k", value: "v")],
                                                      bypassPolicyLockoutSafetyCheck: true))))
        #expect(try decode(.generateDataKey, #"{"KeyId": "k", "NumberOfBytes": 32, "EncryptionContext": {}}"#)
                == .read(.generateDataKey(keyID: "k", keySpec: nil, numberOfBytes: 32, context: [:], includePlaintext: true)))
        #expect(try decode(.generateDataKeyWithoutPlaintext, #"{"KeyId": "k", "KeySpec": "AES_256"}"#)
                == .read(.generateDataKey(keyID: "k", keySpec: "AES_256", numberOfBytes: nil, context: [:], includePlaintext: false)))
        #expect(try decode(.scheduleKeyDeletion, #"{"KeyId": "k", "PendingWindowInDays": 7}"#)
                == .write(.scheduleKeyDeletion(keyID: "k", pendingWindowInDays: 7)))
        #expect(try decode(.listKeys, "") == .read(.listKeys(limit: nil, marker: nil)))
        #expect(try decode(.listKeys, "{}") == .read(.listKeys(limit: nil, marker: nil)))
        #expect(try decode(.listAliases, #"{"Limit": 10, "Marker": null}"#) == .read(.listAliases(keyID: nil, limit: 10, marker: nil)))
        #expect(try decode(.describeKey, #"{"KeyId": "k", "GrantTokens": ["ignored"]}"#) == .read(.describeKey(keyID: "k")))
    }

    @Test("missing members, wrong types, bad base64 and non-objects get AWS's error names")
    func refusals() {
        #expect(error(.encrypt, #"{"Plaintext": "aGVsbG8="}"#)
                == AWSErrorBody(.validation, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"))
        #expect(error(.encrypt, #"{"KeyId": "k"}"#)?.name == .validation)
        #expect(error(.describeKey, #"{"KeyId": 5}"#)?.name == .serialization)
        #expect(error(.listKeys, #"{"Limit": true}"#)?.name == .serialization)
        #expect(error(.listKeys, #"{"Limit": 1.5}"#)?.name == .serialization)
        #expect(error(.putKeyPolicy, #"{"KeyId": "k", "Policy": "{}", "BypassPolicyLockoutSafetyCheck": 1}"#)?.name == .serialization)
        #expect(error(.encrypt, #"{"KeyId": "k", "Plaintext": "%%%"}"#)?.name == .serialization)
        #expect(error(.encrypt, #"{"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": {"a": 1}}"#)?.name == .serialization)
        #expect(error(.createKey, #"{"Tags": [{"TagKey": "k"}]}"#)?.name == .serialization)
        #expect(error(.listKeys, "[1, 2]")?.name == .serialization)
        #expect(error(.listKeys, "{not json")?.name == .serialization)
        #expect(error(.listKeys, String(repeating: " ", count: KMSRequestDecoder.bodyBytesMax + 1))?.name == .validation)
    }

    @Test("a JSON Encrypt, then a JSON Decrypt of its CiphertextBlob, through the KMS")
    func endToEnd() throws {
        let entropy = SeededEntropy(seed: 9)
        let service = KMSService(config: KMSConfig(), rootKey: try SecretBytes.generate(count: 32, using: entropy))
        let principal = Principal(arn: "arn:aws:iam::111122223333:user/a", accountID: "111122223333")
        guard case let .write(create) = try decode(.createKey, #"{"Description": "wire"}"#) else { Issue.record("write"); return }
        let command = try service.prepare(create, principal: principal, now: Timestamp(milliseconds: 1_780_000_000_500), entropy: entropy)
        _ = try service.apply(command).get()
        let created = try json(KMSResponseEncoder.encode(service.response(to: create, command: command)))
        let metadata = try #require(created["KeyMetadata"] as? [String: Any])
        #expect(metadata["Description"] as? String == "wire" && metadata["KeyState"] as? String == "Enabled")
        #expect((metadata["Arn"] as? String)?.hasPrefix("arn:aws:kms:us-east-1:111122223333:key/") == true)
        #expect(metadata["CreationDate"] as? Double == 1_780_000_000.5)
        let keyID = try #require(metadata["KeyId"] as? String)

        guard case let .read(encrypt) = try decode(.encrypt, #"{"KeyId": "\#(keyID)", "Plaintext": "c2VjcmV0", "EncryptionContext": {"t": "1"}}"#)
        else { Issue.record("read"); return }
        let encrypted = try json(KMSResponseEncoder.encode(try service.execute(encrypt, principal: principal, entropy: entropy)))
        let blob = try #require(encrypted["CiphertextBlob"] as? String)
        #expect((encrypted["KeyId"] as? String)?.hasSuffix(keyID) == true)
        guard case let .read(decrypt) = try decode(.decrypt, #"{"CiphertextBlob": "\#(blob)", "EncryptionContext": {"t": "1"}}"#)
        else { Issue.record("read"); return }
        let decrypted = try json(KMSResponseEncoder.encode(try service.execute(decrypt, principal: principal, entropy: entropy)))
        #expect(decrypted["Plaintext"] as? String == "c2VjcmV0")

        let wrongContext = try decode(.decrypt, #"{"CiphertextBlob": "\#(blob)"}"#)
        guard case let .read(bad) = wrongContext else { return }
        do {
            _ = try service.execute(bad, principal: principal, entropy: entropy)
            Issue.record("a missing context must not decrypt")
        } catch {
            let body = KMSResponseEncoder.errorBody(error)
            #expect(body.name == .invalidCiphertext && body.httpStatus == 400)
            #expect(try json(body.json)["__type"] as? String == "InvalidCiphertextException")
        }
    }

    @Test("list responses carry Truncated and NextMarker; an empty write answer is {}")
    func paging() throws {
        let entropy = SeededEntropy(seed: 10)
        let service = KMSService(config: KMSConfig(), rootKey: try SecretBytes.generate(count: 32, using: entropy))
        let principal = Principal(arn: "arn:aws:iam::111122223333:user/a", accountID: "111122223333")
        for _ in 0..<2 {
            let command = try service.prepare(.createKey(CreateKeyRequest()), principal: principal,
                                              now: Timestamp(milliseconds: 0), entropy: entropy)
            _ = try service.apply(command).get()
        }
        let page = try service.execute(.listKeys(limit: 1, marker: nil), principal: principal, entropy: entropy)
        let object = try json(KMSResponseEncoder.encode(page))
        #expect(object["Truncated"] as? Bool == true && object["NextMarker"] is String)
        #expect((object["Keys"] as? [[String: Any]])?.first?["KeyArn"] is String)
        #expect(try json(KMSResponseEncoder.encode(KMSWriteResponse.empty)).isEmpty)
    }

    private func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }
}
