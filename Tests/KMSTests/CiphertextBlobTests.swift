import Testing
import KeyraftCrypto
import KeyraftCryptoDeterministic
@testable import KMS

@Suite("Ciphertext blob format")
struct CiphertextBlobTests {
    let entropy = SeededEntropy(seed: 2026)

    func sample(_ plaintext: [UInt8] = Array("hello, keyraft".utf8),
                context: EncryptionContext = ["tenant": "a"]) throws -> (CiphertextBlob, SecretBytes) {
        let key = try SecretBytes.generate(count: 32, using: entropy)
        let id = try KeyID.generate(using: entropy)
        let blob = try CiphertextBlob.seal(plaintext, keyID: id, keyVersion: KeyVersion(3), key: key,
                                          context: context, entropy: entropy)
        return (blob, key)
    }

    @Test("encode, decode and open round-trip; the key is found from the blob alone")
    func roundTrip() throws {
        let (blob, key) = try sample()
        let bytes = blob.encoded()
        #expect(bytes.count == 37 + 14 + 16)
        let decoded = try CiphertextBlob(decoding: bytes)
        #expect(decoded == blob)
        #expect(decoded.keyVersion == KeyVersion(3))
        #expect(try decoded.open(key: key, context: ["tenant": "a"]) == Array("hello, keyraft".utf8))
    }

    @Test("the encryption context is bound: a different, missing or extra pair is refused")
    func contextBound() throws {
        let (blob, key) = try sample()
        for context: EncryptionContext in [[:], ["tenant": "b"], ["Tenant": "a"], ["tenant": "a", "x": "y"]] {
            #expect(throws: CiphertextError.authenticationFailed) { try blob.open(key: key, context: context) }
        }
    }

    @Test("canonical context encoding is order-independent and length-prefixed")
    func canonicalContext() {
        #expect(CanonicalEncryptionContext.encode(["a": "bc"]) != CanonicalEncryptionContext.encode(["ab": "c"]))
        #expect(CanonicalEncryptionContext.encode(["b": "2", "a": "1"])
                == [0, 0, 0, 2, 0, 0, 0, 1, 0x61, 0, 0, 0, 1, 0x31, 0, 0, 0, 1, 0x62, 0, 0, 0, 1, 0x32])
        #expect(CanonicalEncryptionContext.encode([:]) == [0, 0, 0, 0])
    }

    @Test("the header is bound: changing the key version in the header is refused")
    func headerBound() throws {
        let (blob, key) = try sample()
        var other = blob
        other.keyVersion = KeyVersion(4)
        #expect(throws: CiphertextError.authenticationFailed) { try other.open(key: key, context: ["tenant": "a"]) }
    }

    @Test("strict parsing: each malformed shape gets its own error")
    func strictParsing() throws {
        let (blob, _) = try sample()
        let bytes = blob.encoded()
        #expect(throws: CiphertextError.truncated(neededBytes: 37, availableBytes: 0)) { try CiphertextBlob(decoding: []) }
        #expect(throws: CiphertextError.truncated(neededBytes: 37, availableBytes: 20)) {
            try CiphertextBlob(decoding: Array(bytes.prefix(20)))
        }
        #expect(throws: CiphertextError.truncated(neededBytes: bytes.count, availableBytes: bytes.count - 1)) {
            try CiphertextBlob(decoding: Array(bytes.dropLast()))
        }
        #expect(throws: CiphertextError.trailingBytes(count: 1)) { try CiphertextBlob(decoding: bytes + [0]) }
        var version = bytes
        version[0] = 2
        #expect(throws: CiphertextError.unknownFormatVersion(2)) { try CiphertextBlob(decoding: version) }
        #expect(throws: CiphertextError.oversized(bytes: CiphertextBlob.encodedBytesMax + 1)) {
            try CiphertextBlob(decoding: [1] + [UInt8](repeating: 0, count: CiphertextBlob.encodedBytesMax))
        }
        var length = bytes
        length[33...36] = [0, 0, 0x10, 0x01]
        #expect(throws: CiphertextError.ciphertextLengthOutOfRange(bytes: 4097)) { try CiphertextBlob(decoding: length) }
        length[33...36] = [0, 0, 0, 0]
        #expect(throws: CiphertextError.ciphertextLengthOutOfRange(bytes: 0)) { try CiphertextBlob(decoding: length) }
        var keyVersion = bytes
        keyVersion[17...20] = [0, 0, 0, 0]
        #expect(throws: CiphertextError.invalidKeyVersion(0)) { try CiphertextBlob(decoding: keyVersion) }
    }

    @Test("plaintext length is 1...4096")
    func plaintextBounds() throws {
        #expect(throws: CiphertextError.plaintextLengthOutOfRange(bytes: 0)) { try sample([]) }
        #expect(throws: CiphertextError.plaintextLengthOutOfRange(bytes: 4097)) {
            try sample([UInt8](repeating: 1, count: 4097))
        }
        let (blob, key) = try sample([UInt8](repeating: 7, count: 4096))
        let decoded = try CiphertextBlob(decoding: blob.encoded())
        #expect(try decoded.open(key: key, context: ["tenant": "a"]).count == 4096)
    }

    @Test("100,000 random and mutated blobs: the parser never traps, and no altered blob opens")
    func randomizedParsing() throws {
        let rng = SeededEntropy(seed: 0x5EED)
        let (blob, key) = try sample()
        let valid = blob.encoded()
        var parsed = 0
        var rejected = 0
        let iterations = 100_000
        for i in 0..<iterations {
            let input = i % 4 == 0 ? randomBytes(rng) : mutate(valid, rng)
            do {
                let decoded = try CiphertextBlob(decoding: input)
                parsed += 1
                // Whatever parses must re-encode to exactly the input (one encoding per blob)...
                #expect(decoded.encoded() == input)
                // ...and if it differs from the original, authentication must refuse it.
                if input != valid {
                    #expect(throws: CiphertextError.authenticationFailed) {
                        try decoded.open(key: key, context: ["tenant": "a"])
                    }
                }
            } catch {
                rejected += 1
            }
        }
        #expect(parsed + rejected == iterations)
        #expect(parsed > 1000 && rejected > 1000, "the mutations should exercise both outcomes")
        print("CiphertextBlob randomized parsing: \(iterations) inputs, \(parsed) parsed (none opened), \(rejected) rejected")
    }

    private func randomBytes(_ rng: SeededEntropy) -> [UInt8] {
        let count = Int(rng.next() % 200)
        var bytes = (try? rng.bytes(count: count)) ?? []
        if !bytes.isEmpty, rng.next() % 2 == 0 { bytes[0] = CiphertextBlob.formatVersion }
        return bytes
    }

    private func mutate(_ input: [UInt8], _ rng: SeededEntropy) -> [UInt8] {
        var bytes = input
        let mutations = 1 + Int(rng.next() % 3)
        for _ in 0..<mutations {
            switch rng.next() % 6 {
            case 0 where !bytes.isEmpty:  // flip one bit
                let bit = Int(rng.next() % UInt64(bytes.count * 8))
                bytes[bit / 8] ^= 1 << (bit % 8)
            case 1 where !bytes.isEmpty:  // truncate
                bytes.removeLast(Int(rng.next() % UInt64(bytes.count)) + 1)
            case 2:  // append garbage
                bytes += (try? rng.bytes(count: 1 + Int(rng.next() % 8))) ?? []
            case 3 where bytes.count >= 37:  // rewrite the length field, sometimes consistently
                let length = UInt32(rng.next() % 70)
                bytes[33...36] = [0, 0, UInt8(length >> 8), UInt8(length & 0xFF)][...]
            case 4 where !bytes.isEmpty:  // replace one byte
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            default:  // duplicate a slice
                if bytes.count > 4 {
                    let start = Int(rng.next() % UInt64(bytes.count - 4))
                    bytes.insert(contentsOf: bytes[start..<(start + 4)], at: start)
                }
            }
        }
        return bytes
    }
}

@Suite("Identifiers")
struct IdentifierTests {
    @Test("key ids are version-4 UUIDs that round-trip through text")
    func keyIDs() throws {
        let id = try KeyID.generate(using: SeededEntropy(seed: 5))
        let text = id.description
        #expect(text.count == 36)
        #expect(Array(text)[14] == "4")
        #expect(KeyID(text) == id)
        #expect(KeyID(text.uppercased()) == id)
        #expect(KeyID("not-a-uuid") == nil)
        #expect(KeyID(String(text.dropLast()) + "g") == nil)
        #expect(KeyID(String(text.map { $0 == "-" ? "x" : $0 })) == nil)
    }
}

/// Returns fixed bytes, for the worked example of docs/FORMATS.md.
final class FixedEntropy: EntropySource {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        precondition(buffer.count <= bytes.count)
        for i in 0..<buffer.count { buffer[i] = bytes[i] }
    }
}

@Suite("docs/FORMATS.md worked example")
struct FormatsExampleTests {
    /// The expected bytes were computed independently with Python's `cryptography` package.
    @Test("the documented example blob is exactly what seal produces and open accepts")
    func workedExample() throws {
        let key = SecretBytes(copying: (0..<32).map { UInt8($0) })
        let id = try #require(KeyID("1234abcd-1234-4abc-8def-0123456789ab"))
        let nonce: [UInt8] = (0..<12).map { UInt8($0) }
        let blob = try CiphertextBlob.seal(Array("hello".utf8), keyID: id, keyVersion: .first, key: key,
                                          context: ["tenant": "acme"], entropy: FixedEntropy(nonce))
        let expected = "011234abcd12344abc8def0123456789ab00000001000102030405060708090a0b00000005"
            + "2f67ba77aa" + "059ec5b36aadac3865f905a3b9e091a9"
        #expect(hex(blob.encoded()) == expected)
        #expect(hex(CanonicalEncryptionContext.encode(["tenant": "acme"]))
                == "000000010000000674656e616e740000000461636d65")
        #expect(try blob.open(key: key, context: ["tenant": "acme"]) == Array("hello".utf8))
    }

    private func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }
}
