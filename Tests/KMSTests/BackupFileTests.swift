import Testing
import KeyraftCrypto
import KeyraftCryptoDeterministic
@testable import KMS

@Suite("Encrypted backups")
struct BackupFileTests {
    func backedUp() throws -> (Harness, [UInt8], BackupFile, SecretBytes, [(blob: [UInt8], text: String, context: EncryptionContext)]) {
        let h = Harness(seed: 31)
        var ciphertexts: [(blob: [UInt8], text: String, context: EncryptionContext)] = []
        for i in 0..<5 {
            let id = try h.createKey(CreateKeyRequest(description: "k\(i)"))
            if i % 2 == 0 { try h.write(.rotateKeyOnDemand(keyID: id)) }
            ciphertexts.append((try h.encrypt(id, "secret \(i)", context: ["n": "\(i)"]), "secret \(i)", ["n": "\(i)"]))
        }
        let backupKey = try SecretBytes.generate(count: 32, using: h.entropy)
        let snapshot = h.service.snapshot()
        let file = try BackupFile.seal(snapshot: snapshot, appliedIndex: 42, createdAt: h.now, rootKeyCheck: Self.check,
                                       backupKey: backupKey, entropy: h.entropy)
        return (h, snapshot, file, backupKey, ciphertexts)
    }

    static let check = (0..<32).map { UInt8($0 * 7 + 1) }

    @Test("the root key check value is in the authenticated header, and version-1 files still open")
    func rootKeyCheck() throws {
        let (h, snapshot, file, backupKey, _) = try backedUp()
        let decoded = try BackupFile(decoding: file.encoded())
        #expect(decoded.version == 2 && decoded.rootKeyCheck == Self.check)
        #expect(Array(file.encoded()[21..<53]) == Self.check, "at the documented offset")
        var swapped = file.encoded()
        swapped[21] ^= 0x80  // another root key's check value cannot be put in
        #expect(throws: BackupFile.Error.authenticationFailed) { try BackupFile(decoding: swapped).open(backupKey: backupKey) }

        let old = try BackupFile.seal(snapshot: snapshot, appliedIndex: 7, createdAt: h.now, version: 1, rootKeyCheck: nil,
                                      backupKey: backupKey, entropy: h.entropy)
        let oldDecoded = try BackupFile(decoding: old.encoded())
        #expect(oldDecoded.version == 1 && oldDecoded.rootKeyCheck == nil && oldDecoded.appliedIndex == 7)
        #expect(try oldDecoded.open(backupKey: backupKey) == snapshot)
        #expect(old.encoded().count == file.encoded().count - 32)
    }

    @Test("a restored backup decrypts every ciphertext made before it")
    func restore() throws {
        let (h, snapshot, file, backupKey, ciphertexts) = try backedUp()
        let decoded = try BackupFile(decoding: file.encoded())
        #expect(decoded == file && decoded.appliedIndex == 42 && decoded.createdAt == h.now)
        let restoredSnapshot = try decoded.open(backupKey: backupKey)
        #expect(restoredSnapshot == snapshot)
        let restored = KMSService(config: KMSConfig(), rootKey: h.rootKey)
        try restored.restore(snapshot: restoredSnapshot)
        for c in ciphertexts {
            let plaintext = try restored.decrypt(ciphertextBlob: c.blob, context: c.context, principal: h.admin).plaintext
            #expect(String(decoding: plaintext, as: UTF8.self) == c.text)
        }
    }

    @Test("the wrong backup key, or any modified byte, fails to restore")
    func tamper() throws {
        let (h, _, file, backupKey, _) = try backedUp()
        let bytes = file.encoded()
        let other = try SecretBytes.generate(count: 32, using: h.entropy)
        #expect(throws: BackupFile.Error.authenticationFailed) { try BackupFile(decoding: bytes).open(backupKey: other) }
        var positions = Array(0..<min(bytes.count, 120))  // the whole header and the start of the ciphertext
        positions += [bytes.count / 2, bytes.count - 17, bytes.count - 1]
        for position in positions {
            var modified = bytes
            modified[position] ^= 0x01
            let restored = try? BackupFile(decoding: modified).open(backupKey: backupKey)
            #expect(restored == nil, "byte \(position) modified, and the backup still opened")
        }
        #expect(throws: BackupFile.Error.truncated) { try BackupFile(decoding: Array(bytes.dropLast())) }
        #expect(throws: BackupFile.Error.trailingBytes(1)) { try BackupFile(decoding: bytes + [0]) }
        #expect(throws: BackupFile.Error.notABackup) { try BackupFile(decoding: Array("hello".utf8)) }
        var version = bytes
        version[4] = 9
        #expect(throws: BackupFile.Error.unknownVersion(9)) { try BackupFile(decoding: version) }
    }

    @Test("a backup file holds no plaintext key material")
    func noPlaintextMaterial() throws {
        let (h, _, file, _, _) = try backedUp()
        let bytes = file.encoded()
        for versions in h.service.state.versions.values {
            for version in versions {
                let material = try KeyWrap.unwrap(version.wrappedMaterial, under: h.rootKey).withUnsafeBytes { Array($0) }
                #expect(!contains(bytes, material))
                #expect(!contains(bytes, version.wrappedMaterial), "even wrapped material is encrypted again")
            }
        }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}
