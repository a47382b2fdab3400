import Testing
import KeyraftCrypto
@testable import KMS

@Suite("Cryptographic operations")
struct CryptoOperationTests {
    @Test("Encrypt and Decrypt round-trip with the context bound; Decrypt finds the key from the blob")
    func roundTrip() throws {
        let h = Harness()
        let id = try h.createKey()
        let blob = try h.encrypt(id, "card 4111", context: ["tenant": "acme"])
        #expect(try h.decrypt(blob, context: ["tenant": "acme"]) == "card 4111")
        #expect(try h.decrypt(blob, key: id, context: ["tenant": "acme"]) == "card 4111")
        let response = try h.service.decrypt(ciphertextBlob: blob, context: ["tenant": "acme"], principal: h.admin)
        #expect(response.keyARN == "arn:aws:kms:us-east-1:111122223333:key/\(id)")
        #expect(code { try h.decrypt(blob) } == .invalidCiphertext)
        #expect(code { try h.decrypt(blob, context: ["tenant": "ACME"]) } == .invalidCiphertext)
        #expect(code { try h.decrypt(blob, context: ["tenant": "acme", "x": "y"]) } == .invalidCiphertext)
    }

    @Test("Decrypt with a KeyId naming another key is IncorrectKeyException; garbage is InvalidCiphertextException")
    func decryptErrors() throws {
        let h = Harness()
        let a = try h.createKey()
        let b = try h.createKey()
        let blob = try h.encrypt(a, "x")
        #expect(code { try h.decrypt(blob, key: b) } == .incorrectKey)
        #expect(code { try h.decrypt(blob, key: "alias/none") } == .notFound)
        #expect(code { try h.decrypt([1, 2, 3]) } == .invalidCiphertext)
        #expect(code { try h.decrypt([]) } == .validation)
        #expect(code { try h.decrypt([UInt8](repeating: 1, count: 6145)) } == .validation)
        var tampered = blob
        tampered[tampered.count - 1] ^= 1
        #expect(code { try h.decrypt(tampered) } == .invalidCiphertext)
        #expect(code { try h.service.decrypt(ciphertextBlob: blob, algorithm: "RSAES_OAEP_SHA_256", principal: h.admin) } == .invalidKeyUsage)
        #expect(code { try h.service.decrypt(ciphertextBlob: blob, algorithm: "NOPE", principal: h.admin) } == .validation)
    }

    @Test("Encrypt takes 1 to 4096 bytes, with AWS's validation wording")
    func encryptBounds() throws {
        let h = Harness()
        let id = try h.createKey()
        #expect(message { try h.service.encrypt(keyID: id, plaintext: [UInt8](repeating: 0, count: 4097), principal: h.admin, entropy: h.entropy) }
                == "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
        #expect(message { try h.service.encrypt(keyID: id, plaintext: [], principal: h.admin, entropy: h.entropy) }
                == "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1")
        let big = try h.service.encrypt(keyID: id, plaintext: [UInt8](repeating: 7, count: 4096), principal: h.admin, entropy: h.entropy)
        #expect(try h.service.decrypt(ciphertextBlob: big.ciphertextBlob, principal: h.admin).plaintext.count == 4096)
        #expect(code { try h.encrypt("alias/none", "x") } == .notFound)
    }

    @Test("ReEncrypt moves a ciphertext to another key and context without exposing the plaintext")
    func reEncrypt() throws {
        let h = Harness()
        let a = try h.createKey()
        let b = try h.createKey()
        let blob = try h.encrypt(a, "moving", context: ["v": "1"])
        let moved = try h.service.reEncrypt(ciphertextBlob: blob, sourceContext: ["v": "1"], destinationKeyID: b,
                                            destinationContext: ["v": "2"], principal: h.admin, entropy: h.entropy)
        #expect(moved.sourceKeyARN.hasSuffix(a) && moved.keyARN.hasSuffix(b))
        #expect(try h.decrypt(moved.ciphertextBlob, key: b, context: ["v": "2"]) == "moving")
        #expect(code { try h.service.reEncrypt(ciphertextBlob: blob, sourceKeyID: b, sourceContext: ["v": "1"], destinationKeyID: b,
                                               principal: h.admin, entropy: h.entropy) } == .incorrectKey)
        try h.write(.disableKey(keyID: b))
        #expect(code { try h.service.reEncrypt(ciphertextBlob: blob, sourceContext: ["v": "1"], destinationKeyID: b,
                                               principal: h.admin, entropy: h.entropy) } == .disabled)
    }

    @Test("GenerateDataKey: exactly one of KeySpec or NumberOfBytes; the blob decrypts to the plaintext")
    func generateDataKey() throws {
        let h = Harness()
        let id = try h.createKey()
        let aes256 = try h.service.generateDataKey(keyID: id, keySpec: "AES_256", numberOfBytes: nil, context: ["f": "1"],
                                                   includePlaintext: true, principal: h.admin, entropy: h.entropy)
        #expect(aes256.plaintext?.count == 32)
        #expect(try h.service.decrypt(ciphertextBlob: aes256.ciphertextBlob, context: ["f": "1"], principal: h.admin).plaintext == aes256.plaintext)
        let aes128 = try h.service.generateDataKey(keyID: id, keySpec: "AES_128", numberOfBytes: nil, includePlaintext: true,
                                                   principal: h.admin, entropy: h.entropy)
        #expect(aes128.plaintext?.count == 16)
        let bytes = try h.service.generateDataKey(keyID: id, keySpec: nil, numberOfBytes: 64, includePlaintext: false,
                                                  principal: h.admin, entropy: h.entropy)
        #expect(bytes.plaintext == nil)
        #expect(try h.service.decrypt(ciphertextBlob: bytes.ciphertextBlob, principal: h.admin).plaintext.count == 64)
        for (spec, count) in [(nil, nil), ("AES_256", 32), (nil, 0), (nil, 1025), ("AES_512", nil)] as [(String?, Int?)] {
            #expect(code { try h.service.generateDataKey(keyID: id, keySpec: spec, numberOfBytes: count, includePlaintext: true,
                                                         principal: h.admin, entropy: h.entropy) } == .validation)
        }
    }

    @Test("GenerateRandom returns 1 to 1024 bytes")
    func generateRandom() throws {
        let h = Harness()
        #expect(try h.service.generateRandom(numberOfBytes: 1024, principal: h.admin, entropy: h.entropy).count == 1024)
        #expect(code { try h.service.generateRandom(numberOfBytes: 0, principal: h.admin, entropy: h.entropy) } == .validation)
        #expect(code { try h.service.generateRandom(numberOfBytes: 1025, principal: h.admin, entropy: h.entropy) } == .validation)
        #expect(code { try h.service.generateRandom(numberOfBytes: nil, principal: h.admin, entropy: h.entropy) } == .validation)
    }
}

@Suite("Rotation")
struct RotationTests {
    @Test("EnableKeyRotation: 90–2560 days, default 365, first rotation one period later")
    func enableRotation() throws {
        let h = Harness()
        let id = try h.createKey()
        #expect(code { try h.write(.enableKeyRotation(keyID: id, rotationPeriodInDays: 89)) } == .validation)
        #expect(code { try h.write(.enableKeyRotation(keyID: id, rotationPeriodInDays: 2561)) } == .validation)
        try h.write(.enableKeyRotation(keyID: id, rotationPeriodInDays: nil))
        let status = try h.service.getKeyRotationStatus(id, principal: h.admin)
        #expect(status.enabled && status.rotationPeriodInDays == 365 && status.nextRotationDate == h.now.adding(days: 365))
        try h.write(.disableKeyRotation(keyID: id))
        let off = try h.service.getKeyRotationStatus(id, principal: h.admin)
        #expect(!off.enabled && off.rotationPeriodInDays == nil && off.nextRotationDate == nil)
    }

    @Test("automatic rotation adds a version when due; older versions still decrypt")
    func automaticRotation() throws {
        let h = Harness()
        let id = try h.createKey()
        let old = try h.encrypt(id, "v1 data")
        try h.write(.enableKeyRotation(keyID: id, rotationPeriodInDays: 90))
        h.advance(days: 89)
        #expect(try h.runScheduler().isEmpty)
        h.advance(days: 1)
        #expect(try h.runScheduler().count == 1)
        #expect(try h.runScheduler().isEmpty, "not due again until the next period")
        let new = try h.encrypt(id, "v2 data")
        #expect(try CiphertextBlob(decoding: new).keyVersion == KeyVersion(2))
        #expect(try h.decrypt(old) == "v1 data")
        #expect(try h.decrypt(new) == "v2 data")
        let rotations = try h.service.listKeyRotations(id, limit: nil, marker: nil, principal: h.admin)
        #expect(rotations.rotations.map(\.rotationType) == [.automatic])
        #expect(try h.service.getKeyRotationStatus(id, principal: h.admin).nextRotationDate == h.now.adding(days: 90))
        // A disabled key is not rotated.
        try h.write(.disableKey(keyID: id))
        h.advance(days: 200)
        #expect(try h.runScheduler().isEmpty)
    }

    @Test("RotateKeyOnDemand: at most 25; a stale rotation conflicts; versions only ever grow")
    func onDemand() throws {
        let h = Harness()
        let id = try h.createKey()
        var blobs = [try h.encrypt(id, "0")]
        for i in 1...25 {
            guard case .keyID = try h.write(.rotateKeyOnDemand(keyID: id)) else { Issue.record("returns KeyId"); return }
            blobs.append(try h.encrypt(id, "\(i)"))
        }
        #expect(code { try h.write(.rotateKeyOnDemand(keyID: id)) } == .limitExceeded)
        for (i, blob) in blobs.enumerated() { #expect(try h.decrypt(blob) == "\(i)") }
        #expect(h.service.state.versions[KeyID(id)!]!.count == 26)
        let page = try h.service.listKeyRotations(id, limit: 10, marker: nil, principal: h.admin)
        #expect(page.rotations.count == 10 && page.nextMarker == "12")
        let rest = try h.service.listKeyRotations(id, limit: 100, marker: page.nextMarker, principal: h.admin)
        #expect(rest.rotations.count == 15 && rest.nextMarker == nil)
        #expect(code { try h.service.listKeyRotations(id, limit: nil, marker: "x", principal: h.admin) } == .invalidMarker)
        #expect(try h.service.getKeyRotationStatus(id, principal: h.admin).onDemandRotationStartDate == h.now)

        let other = try h.createKey()
        let first = try h.service.prepare(.rotateKeyOnDemand(keyID: other), principal: h.admin, now: h.now, entropy: h.entropy)
        let second = try h.service.prepare(.rotateKeyOnDemand(keyID: other), principal: h.admin, now: h.now, entropy: h.entropy)
        try h.applyLogged(first)
        #expect(code { try h.applyLogged(second) } == .conflict)
        #expect(h.service.state.versions[KeyID(other)!]!.count == 2)
    }
}
