import COpenSSL

/// AES-256-GCM with 96-bit nonces and 128-bit tags (NIST SP 800-38D).
public enum AESGCM {
    public static let keyByteCount = 32
    public static let nonceByteCount = 12
    public static let tagByteCount = 16
    /// Largest plaintext one call accepts. GCM's own limit is far higher; ours keeps
    /// lengths in `Int32` for libcrypto.
    public static let plaintextBytesMax = 1 << 30

    /// Ciphertext and tag of one sealed message, with the nonce it was sealed under.
    public struct SealedBox: Equatable, Sendable {
        public var nonce: [UInt8]
        public var ciphertext: [UInt8]
        public var tag: [UInt8]

        public init(nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
            self.nonce = nonce
            self.ciphertext = ciphertext
            self.tag = tag
        }
    }

    /// Seals under a fresh random nonce drawn from `entropy`.
    public static func seal(
        _ plaintext: [UInt8], key: SecretBytes, aad: [UInt8] = [], entropy: some EntropySource
    ) throws(CryptoError) -> SealedBox {
        let nonce = try entropy.bytes(count: nonceByteCount)
        return try seal(plaintext, key: key, nonce: nonce, aad: aad)
    }

    /// Seals under the given nonce. A nonce must never repeat under one key; callers
    /// outside tests use the entropy-drawing overload.
    public static func seal(
        _ plaintext: [UInt8], key: SecretBytes, nonce: [UInt8], aad: [UInt8] = []
    ) throws(CryptoError) -> SealedBox {
        try checkSizes(key: key, nonce: nonce, tagBytes: tagByteCount, inputBytes: plaintext.count)
        let context = try CipherContext(operation: "AES-GCM seal")
        var tag = [UInt8](repeating: 0, count: tagByteCount)
        let ciphertext = try [UInt8](unsafeUninitializedCapacity: plaintext.count) {
            (output, initialized) throws(CryptoError) in
            initialized = 0
            try key.withUnsafeBytes { (keyBytes) throws(CryptoError) in
                try initialize(context.pointer, encrypt: true, key: keyBytes, nonce: nonce)
            }
            try addAAD(context.pointer, aad, encrypt: true)
            var written: Int32 = 0
            if !plaintext.isEmpty {
                guard EVP_EncryptUpdate(context.pointer, output.baseAddress, &written,
                                        plaintext, Int32(plaintext.count)) == 1
                else { throw failure("AES-GCM seal") }
            }
            precondition(Int(written) == plaintext.count, "GCM is a stream mode: output length equals input")
            var finalBytes: Int32 = 0
            guard EVP_EncryptFinal_ex(context.pointer, nil, &finalBytes) == 1, finalBytes == 0 else {
                throw failure("AES-GCM seal")
            }
            guard EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_GET_TAG, Int32(tagByteCount), &tag) == 1 else {
                throw failure("AES-GCM seal")
            }
            initialized = plaintext.count
        }
        return SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag)
    }

    /// Opens a sealed box, or throws `.authenticationFailed` if anything was altered.
    public static func open(_ box: SealedBox, key: SecretBytes, aad: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        try open(ciphertext: box.ciphertext, tag: box.tag, nonce: box.nonce, key: key, aad: aad)
    }

    public static func open(
        ciphertext: [UInt8], tag: [UInt8], nonce: [UInt8], key: SecretBytes, aad: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        try checkSizes(key: key, nonce: nonce, tagBytes: tag.count, inputBytes: ciphertext.count)
        let context = try CipherContext(operation: "AES-GCM open")
        let plaintext = try [UInt8](unsafeUninitializedCapacity: ciphertext.count) {
            (output, initialized) throws(CryptoError) in
            initialized = 0
            try key.withUnsafeBytes { (keyBytes) throws(CryptoError) in
                try initialize(context.pointer, encrypt: false, key: keyBytes, nonce: nonce)
            }
            try addAAD(context.pointer, aad, encrypt: false)
            var written: Int32 = 0
            if !ciphertext.isEmpty {
                guard EVP_DecryptUpdate(context.pointer, output.baseAddress, &written,
                                        ciphertext, Int32(ciphertext.count)) == 1
                else { throw failure("AES-GCM open") }
            }
            precondition(Int(written) == ciphertext.count)
            var expectedTag = tag  // SET_TAG needs a mutable buffer.
            guard EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_TAG, Int32(tagByteCount), &expectedTag) == 1
            else { throw failure("AES-GCM open") }
            initialized = ciphertext.count
            var finalBytes: Int32 = 0
            guard EVP_DecryptFinal_ex(context.pointer, nil, &finalBytes) == 1 else {
                ERR_clear_error()
                // The buffer holds unauthenticated plaintext (the right key with the wrong
                // context yields the real plaintext): clear it before it is freed.
                OPENSSL_cleanse(output.baseAddress, ciphertext.count)
                throw .authenticationFailed
            }
        }
        return plaintext
    }

    private static func checkSizes(
        key: SecretBytes, nonce: [UInt8], tagBytes: Int, inputBytes: Int
    ) throws(CryptoError) {
        guard key.count == keyByteCount else {
            throw .invalidKeyLength(expectedBytes: keyByteCount, actualBytes: key.count)
        }
        guard nonce.count == nonceByteCount else {
            throw .invalidNonceLength(expectedBytes: nonceByteCount, actualBytes: nonce.count)
        }
        guard tagBytes == tagByteCount else {
            throw .invalidTagLength(expectedBytes: tagByteCount, actualBytes: tagBytes)
        }
        guard inputBytes <= plaintextBytesMax else {
            throw .invalidInputLength(operation: "AES-GCM", bytes: inputBytes)
        }
    }

    private static func initialize(
        _ context: OpaquePointer, encrypt: Bool, key: UnsafeRawBufferPointer, nonce: [UInt8]
    ) throws(CryptoError) {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount)
        let keyPointer = key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        // The default IV length of AES-GCM is 96 bits, so no SET_IVLEN call is needed.
        let status = encrypt
            ? EVP_EncryptInit_ex2(context, Algorithms.aes256GCM, keyPointer, nonce, nil)
            : EVP_DecryptInit_ex2(context, Algorithms.aes256GCM, keyPointer, nonce, nil)
        guard status == 1 else { throw failure("AES-GCM init") }
    }

    private static func addAAD(_ context: OpaquePointer, _ aad: [UInt8], encrypt: Bool) throws(CryptoError) {
        guard !aad.isEmpty else { return }
        guard aad.count <= plaintextBytesMax else { throw .invalidInputLength(operation: "AES-GCM AAD", bytes: aad.count) }
        var written: Int32 = 0
        let status = encrypt
            ? EVP_EncryptUpdate(context, nil, &written, aad, Int32(aad.count))
            : EVP_DecryptUpdate(context, nil, &written, aad, Int32(aad.count))
        guard status == 1 else { throw failure("AES-GCM AAD") }
    }
}

/// Clears libcrypto's error queue and names the failed operation.
func failure(_ operation: String) -> CryptoError {
    ERR_clear_error()
    return .libraryFailure(operation: operation)
}
