import Testing
@testable import KeyraftCrypto

/// Known-answer tests against Google's Wycheproof vectors in ../shared/vectors/wycheproof.
/// Every valid case must match; every invalid case must be rejected. Counts are printed.
@Suite("Wycheproof")
struct WycheproofTests {
    @Test("AES-256-GCM, 96-bit IV: every case of aes_gcm_test.json")
    func aesGCM() throws {
        guard let file = Vectors.wycheproof("aes_gcm_test.json") else { return }
        let cases = Vectors.cases(file) { ($0["keySize"] as? Int) == 256 && ($0["ivSize"] as? Int) == 96 }
        #expect(cases.count >= 60, "expected the 256-bit-key, 96-bit-IV groups")
        var valid = 0
        var invalid = 0
        for c in cases {
            let key = SecretBytes(copying: c.hex("key"))
            let (iv, aad, msg, ct, tag) = (c.hex("iv"), c.hex("aad"), c.hex("msg"), c.hex("ct"), c.hex("tag"))
            let opened = try? AESGCM.open(ciphertext: ct, tag: tag, nonce: iv, key: key, aad: aad)
            if c.isValid {
                let sealed = try AESGCM.seal(msg, key: key, nonce: iv, aad: aad)
                #expect(sealed.ciphertext == ct && sealed.tag == tag, "tcId \(c.id): seal mismatch")
                #expect(opened == msg, "tcId \(c.id): open mismatch")
                valid += 1
            } else {
                #expect(opened == nil, "tcId \(c.id): invalid case was accepted")
                invalid += 1
            }
        }
        print("Wycheproof aes_gcm_test.json: \(valid + invalid) cases ran (256-bit key, 96-bit IV): \(valid) valid matched, \(invalid) invalid rejected")
    }

    @Test("AES key wrap with padding (RFC 5649): every case of aes_kwp_test.json")
    func aesKWP() throws {
        guard let file = Vectors.wycheproof("aes_kwp_test.json") else { return }
        let cases = Vectors.cases(file)
        #expect(cases.count == file["numberOfTests"] as? Int)
        var valid = 0
        var invalid = 0
        for c in cases {
            let key = c.hex("key")
            let (msg, ct) = (c.hex("msg"), c.hex("ct"))
            let unwrapped = try? key.withUnsafeBytes { try KeyWrap.unwrap(ct, key: $0) }
            if c.isValid {
                let wrapped = try key.withUnsafeBytes { k in try msg.withUnsafeBytes { try KeyWrap.wrap($0, key: k) } }
                #expect(wrapped == ct, "tcId \(c.id): wrap mismatch")
                let matches = unwrapped.map { $0.withUnsafeBytes { Array($0) } == msg } ?? false
                #expect(matches, "tcId \(c.id): unwrap mismatch")
                valid += 1
            } else {
                #expect(unwrapped == nil, "tcId \(c.id): invalid wrapping was accepted")
                invalid += 1
            }
        }
        print("Wycheproof aes_kwp_test.json: \(valid + invalid) cases ran: \(valid) valid matched, \(invalid) invalid rejected")
    }

    @Test("HKDF-SHA256: every case of hkdf_sha256_test.json")
    func hkdf() throws {
        guard let file = Vectors.wycheproof("hkdf_sha256_test.json") else { return }
        let cases = Vectors.cases(file)
        #expect(cases.count == file["numberOfTests"] as? Int)
        var valid = 0
        var invalid = 0
        for c in cases {
            let ikm = c.hex("ikm")
            let derived = try? ikm.withUnsafeBytes {
                try HKDF.deriveKey(inputKeyMaterial: $0, salt: c.hex("salt"), info: c.hex("info"),
                                   outputByteCount: c.int("size"))
            }
            if c.isValid {
                let bytes = derived?.withUnsafeBytes { Array($0) }
                #expect(bytes == c.hex("okm"), "tcId \(c.id): output mismatch")
                valid += 1
            } else {
                #expect(derived == nil, "tcId \(c.id): invalid case was accepted")
                invalid += 1
            }
        }
        print("Wycheproof hkdf_sha256_test.json: \(valid + invalid) cases ran: \(valid) valid matched, \(invalid) invalid rejected")
    }

    @Test("HMAC-SHA256: every case of hmac_sha256_test.json")
    func hmac() throws {
        guard let file = Vectors.wycheproof("hmac_sha256_test.json") else { return }
        let cases = Vectors.cases(file)
        #expect(cases.count == file["numberOfTests"] as? Int)
        var valid = 0
        var invalid = 0
        for c in cases {
            let tagBytes = (c.group["tagSize"] as? Int ?? 256) / 8
            let computed = Array(HMACSHA256.authenticationCode(for: c.hex("msg"), key: c.hex("key")).prefix(tagBytes))
            let expected = c.hex("tag")
            let accepted = ConstantTime.equals(computed, expected)
            if c.isValid {
                #expect(accepted, "tcId \(c.id): MAC mismatch")
                if tagBytes == HMACSHA256.byteCount {
                    #expect(HMACSHA256.isValid(expected, for: c.hex("msg"), key: c.hex("key")))
                }
                valid += 1
            } else {
                #expect(!accepted, "tcId \(c.id): invalid MAC was accepted")
                invalid += 1
            }
        }
        print("Wycheproof hmac_sha256_test.json: \(valid + invalid) cases ran: \(valid) valid matched, \(invalid) invalid rejected")
    }
}
