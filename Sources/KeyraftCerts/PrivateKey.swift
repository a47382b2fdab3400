import COpenSSL

/// An ECDSA P-256 private key held by libcrypto.
///
/// The key bytes stay in libcrypto's memory, which clears them when the last reference goes
/// away. `@unchecked Sendable`: the `EVP_PKEY` is never modified after creation, and
/// OpenSSL 3 allows concurrent signing with one key (each operation makes its own context).
public final class PrivateKey: @unchecked Sendable {
    /// The owned `EVP_PKEY`. Invariant: an EC key on P-256 with its private part.
    let pointer: OpaquePointer

    private init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { EVP_PKEY_free(pointer) }

    /// A fresh P-256 key from libcrypto's default random generator.
    public static func generateP256() throws(CertificateError) -> PrivateKey {
        let operation = "P-256 key generation"
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw LibCrypto.failure(operation) }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1,
              EVP_PKEY_CTX_set_group_name(context, "P-256") == 1
        else { throw LibCrypto.failure(operation) }
        var generated: OpaquePointer? = nil
        guard EVP_PKEY_generate(context, &generated) == 1, let key = generated else {
            EVP_PKEY_free(generated)
            throw LibCrypto.failure(operation)
        }
        let privateKey = PrivateKey(owning: key)
        try privateKey.checkP256()
        return privateKey
    }

    /// Parses an unencrypted PEM private key (`BEGIN PRIVATE KEY` or `BEGIN EC PRIVATE KEY`).
    /// Encrypted keys are refused rather than prompting for a pass phrase.
    public convenience init(pem: String) throws(CertificateError) {
        let bio = try LibCrypto.memoryBIO(copying: Array(pem.utf8), secure: true, operation: "private key PEM parsing")
        defer { BIO_free(bio) }
        try self.init(reading: bio, operation: "private key PEM parsing")
    }

    /// Parses an unencrypted PEM private key file. libcrypto reads the file itself, so the
    /// key text never passes through Swift memory.
    public convenience init(pemFile path: String) throws(CertificateError) {
        guard let bio = BIO_new_file(path, "r") else { throw LibCrypto.failure("opening \(path)") }
        defer { BIO_free(bio) }
        try self.init(reading: bio, operation: "reading private key \(path)")
    }

    private convenience init(reading bio: OpaquePointer, operation: String) throws(CertificateError) {
        // A pass phrase callback that always fails: never prompt on a terminal.
        guard let key = PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in -1 }, nil) else {
            throw LibCrypto.failure(operation)
        }
        self.init(owning: key)
        try checkP256()
    }

    private func checkP256() throws(CertificateError) {
        guard EVP_PKEY_get_base_id(pointer) == EVP_PKEY_EC else {
            throw .unsupported("only ECDSA P-256 keys are supported")
        }
        var name = [CChar](repeating: 0, count: 64)
        var length = 0
        guard EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1 else {
            throw LibCrypto.failure("reading the key's curve")
        }
        let curve = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard curve == "prime256v1" || curve == "P-256" else {
            throw .unsupported("only ECDSA P-256 keys are supported (got curve \(curve))")
        }
    }

    /// The key as PKCS #8 PEM (`BEGIN PRIVATE KEY`), unencrypted.
    ///
    /// The returned string is a copy of key material in Swift memory that cannot be wiped;
    /// prefer `ClusterCertificates`, which writes key files straight from libcrypto.
    public func pemRepresentation() throws(CertificateError) -> String {
        let operation = "private key PEM encoding"
        guard let bio = BIO_new(BIO_s_secmem()) else { throw LibCrypto.failure(operation) }
        defer { BIO_free(bio) }
        try writePEM(to: bio)
        var bytes = try LibCrypto.readAll(bio, operation: operation)
        defer { OPENSSL_cleanse(&bytes, bytes.count) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the PKCS #8 PEM form to `bio` (a memory or file-descriptor BIO).
    func writePEM(to bio: OpaquePointer) throws(CertificateError) {
        guard PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil) == 1 else {
            throw LibCrypto.failure("private key PEM encoding")
        }
    }
}
