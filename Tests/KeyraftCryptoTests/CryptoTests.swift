import Testing
import KeyraftCryptoDeterministic
@testable import KeyraftCrypto

@Suite("AES-256-GCM")
struct AESGCMTests {
    let entropy = SeededEntropy(seed: 7)

    @Test("flipping any single bit of nonce, ciphertext, tag or AAD makes open fail")
    func tamperEveryBit() throws {
        let key = try SecretBytes.generate(count: 32, using: entropy)
        let plaintext = try entropy.bytes(count: 48)
        let aad = try entropy.bytes(count: 24)
        let box = try AESGCM.seal(plaintext, key: key, aad: aad, entropy: entropy)
        #expect(try AESGCM.open(box, key: key, aad: aad) == plaintext)
        var attempts = 0
        func expectRejected(_ mutated: AESGCM.SealedBox, _ mutatedAAD: [UInt8], _ what: String) {
            attempts += 1
            #expect(throws: CryptoError.authenticationFailed, "\(what)") {
                try AESGCM.open(mutated, key: key, aad: mutatedAAD)
            }
        }
        for bit in 0..<(box.nonce.count * 8) {
            var m = box
            m.nonce[bit / 8] ^= 1 << (bit % 8)
            expectRejected(m, aad, "nonce bit \(bit)")
        }
        for bit in 0..<(box.ciphertext.count * 8) {
            var m = box
            m.ciphertext[bit / 8] ^= 1 << (bit % 8)
            expectRejected(m, aad, "ciphertext bit \(bit)")
        }
        for bit in 0..<(box.tag.count * 8) {
            var m = box
            m.tag[bit / 8] ^= 1 << (bit % 8)
            expectRejected(m, aad, "tag bit \(bit)")
        }
        for bit in 0..<(aad.count * 8) {
            var a = aad
            a[bit / 8] ^= 1 << (bit % 8)
            expectRejected(box, a, "aad bit \(bit)")
        }
        #expect(attempts == (12 + 48 + 16 + 24) * 8)
    }

    @Test("a different key, truncated AAD or a missing byte is refused")
    func wrongInputs() throws {
        let key = try SecretBytes.generate(count: 32, using: entropy)
        let other = try SecretBytes.generate(count: 32, using: entropy)
        let box = try AESGCM.seal([1, 2, 3], key: key, aad: [9, 9], entropy: entropy)
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(box, key: other, aad: [9, 9]) }
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(box, key: key, aad: [9]) }
        var short = box
        short.ciphertext.removeLast()
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.open(short, key: key, aad: [9, 9]) }
    }

    @Test("wrong sizes of key, nonce and tag are typed errors")
    func sizes() throws {
        let shortKey = SecretBytes(copying: [UInt8](repeating: 1, count: 16))
        #expect(throws: CryptoError.invalidKeyLength(expectedBytes: 32, actualBytes: 16)) {
            try AESGCM.seal([1], key: shortKey, nonce: [UInt8](repeating: 0, count: 12))
        }
        let key = try SecretBytes.generate(count: 32, using: entropy)
        #expect(throws: CryptoError.invalidNonceLength(expectedBytes: 12, actualBytes: 16)) {
            try AESGCM.seal([1], key: key, nonce: [UInt8](repeating: 0, count: 16))
        }
        #expect(throws: CryptoError.invalidTagLength(expectedBytes: 16, actualBytes: 12)) {
            try AESGCM.open(ciphertext: [1], tag: [UInt8](repeating: 0, count: 12),
                            nonce: [UInt8](repeating: 0, count: 12), key: key)
        }
    }

    @Test("empty plaintext and empty AAD round-trip; nonces come from the entropy source")
    func emptyAndNonces() throws {
        let key = try SecretBytes.generate(count: 32, using: entropy)
        let a = try AESGCM.seal([], key: key, entropy: SeededEntropy(seed: 99))
        let b = try AESGCM.seal([], key: key, entropy: SeededEntropy(seed: 99))
        let c = try AESGCM.seal([], key: key, entropy: SeededEntropy(seed: 100))
        #expect(a == b, "same seed, same nonce")
        #expect(a.nonce != c.nonce)
        #expect(try AESGCM.open(a, key: key).isEmpty)
    }
}

@Suite("Key wrap, digests, entropy")
struct PrimitiveTests {
    @Test("root-key wrap round-trips 32-byte material and rejects the wrong root key or any bit flip")
    func wrapRoundTrip() throws {
        let entropy = SeededEntropy(seed: 1)
        let root = try SecretBytes.generate(count: 32, using: entropy)
        let material = try SecretBytes.generate(count: 32, using: entropy)
        let wrapped = try KeyWrap.wrap(material, under: root)
        #expect(wrapped.count == 40)
        #expect(try KeyWrap.unwrap(wrapped, under: root).constantTimeEquals(material))
        let otherRoot = try SecretBytes.generate(count: 32, using: entropy)
        #expect(throws: CryptoError.authenticationFailed) { try KeyWrap.unwrap(wrapped, under: otherRoot) }
        for bit in 0..<(wrapped.count * 8) {
            var m = wrapped
            m[bit / 8] ^= 1 << (bit % 8)
            #expect(throws: CryptoError.authenticationFailed) { try KeyWrap.unwrap(m, under: root) }
        }
        #expect(throws: CryptoError.authenticationFailed) { try KeyWrap.unwrap(Array(wrapped.dropLast(8)), under: root) }
        #expect(throws: CryptoError.authenticationFailed) { try KeyWrap.unwrap([], under: root) }
        let shortRoot = SecretBytes(copying: [UInt8](repeating: 0, count: 16))
        #expect(throws: CryptoError.invalidKeyLength(expectedBytes: 32, actualBytes: 16)) {
            try KeyWrap.wrap(material, under: shortRoot)
        }
    }

    @Test("SHA-256 known answers (FIPS 180-4 examples)")
    func sha256() {
        #expect(toHex(SHA256.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(toHex(SHA256.hash([UInt8]()))
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("HKDF refuses zero and over-long outputs")
    func hkdfBounds() {
        #expect(throws: CryptoError.invalidInputLength(operation: "HKDF output", bytes: 0)) {
            try [UInt8](repeating: 1, count: 32).withUnsafeBytes {
                try HKDF.deriveKey(inputKeyMaterial: $0, salt: [], info: [], outputByteCount: 0)
            }
        }
        #expect(throws: CryptoError.invalidInputLength(operation: "HKDF output", bytes: 8161)) {
            try [UInt8](repeating: 1, count: 32).withUnsafeBytes {
                try HKDF.deriveKey(inputKeyMaterial: $0, salt: [], info: [], outputByteCount: 8161)
            }
        }
    }

    @Test("constant-time comparison")
    func constantTime() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
    }

    @Test("the seeded source is reproducible; the system source is not constant")
    func entropy() throws {
        let a = try SeededEntropy(seed: 42).bytes(count: 1000)
        let b = try SeededEntropy(seed: 42).bytes(count: 1000)
        let c = try SeededEntropy(seed: 43).bytes(count: 1000)
        #expect(a == b)
        #expect(a != c)
        let system = SystemEntropy()
        let x = try system.bytes(count: 32)
        let y = try system.bytes(count: 32)
        #expect(x != y)
        #expect(x != [UInt8](repeating: 0, count: 32))
    }
}

@Suite("SecretBytes")
struct SecretBytesTests {
    @Test("description, debugDescription, interpolation and dump never show the bytes")
    func redacted() {
        let marker: [UInt8] = Array("TOPSECRET-KEY-MATERIAL-0123456789".utf8)
        let secret = SecretBytes(copying: marker)
        var dumped = ""
        dump(secret, to: &dumped)
        let renderings = [secret.description, secret.debugDescription, "\(secret)", String(reflecting: secret),
                          dumped, "\([secret])", "\(Optional(secret) as Any)"]
        for text in renderings {
            #expect(!text.contains("TOPSECRET"), "leaked: \(text)")
            #expect(!text.contains(toHex(marker)), "leaked hex: \(text)")
            #expect(!text.contains("84, 79, 80"), "leaked decimal bytes: \(text)")
        }
        #expect(secret.description == "SecretBytes(33 bytes, redacted)")
    }

    @Test("is neither Encodable nor Decodable")
    func notCodable() {
        let secret = SecretBytes(copying: [1, 2, 3])
        #expect(!((secret as Any) is any Encodable))
        #expect(!(SecretBytes.self is any Decodable.Type))
    }

    @Test("keeps its bytes and compares in constant time")
    func contents() {
        let a = SecretBytes(copying: [1, 2, 3])
        #expect(a.withUnsafeBytes { Array($0) } == [1, 2, 3])
        #expect(a.constantTimeEquals(SecretBytes(copying: [1, 2, 3])))
        #expect(!a.constantTimeEquals(SecretBytes(copying: [1, 2, 4])))
        #expect(SecretBytes(copying: []).count == 0)
    }

    @Test("a failing initializer releases the buffer and rethrows")
    func failingInit() {
        #expect(throws: CryptoError.entropyUnavailable) {
            try SecretBytes(count: 8) { (_) throws(CryptoError) in throw .entropyUnavailable }
        }
    }
}

@Suite("Errors")
struct CryptoErrorTests {
    @Test("error messages carry sizes and names, never input bytes")
    func noSecretsInErrors() throws {
        let keyBytes = [UInt8](repeating: 0xAB, count: 32)
        let key = SecretBytes(copying: keyBytes)
        let box = try AESGCM.seal([0xCD, 0xCD], key: key, nonce: [UInt8](repeating: 0xEF, count: 12))
        var errors: [CryptoError] = []
        do { _ = try AESGCM.open(box, key: SecretBytes(copying: [UInt8](repeating: 1, count: 32))) } catch { errors.append(error) }
        do { _ = try KeyWrap.unwrap([UInt8](repeating: 0xAB, count: 24), under: key) } catch { errors.append(error) }
        do { _ = try AESGCM.seal([1], key: SecretBytes(copying: [0xAB]), nonce: []) } catch { errors.append(error) }
        #expect(errors.count == 3)
        for error in errors {
            let text = "\(error) \(String(reflecting: error))".lowercased()
            for needle in ["ab", "cd", "ef"].map({ String(repeating: $0, count: 2) }) {
                #expect(!text.contains(needle), "error text shows input bytes: \(text)")
            }
        }
    }
}
