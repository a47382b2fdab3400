import COpenSSL

/// SHA-256 (FIPS 180-4).
public enum SHA256 {
    public static let byteCount = 32

    public static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: byteCount) { output, initialized in
            var length: UInt32 = 0
            let status = EVP_Digest(data.baseAddress, data.count, output.baseAddress, &length,
                                    Algorithms.sha256, nil)
            // A digest of memory we own cannot fail short of a broken libcrypto.
            precondition(status == 1 && length == UInt32(byteCount), "EVP_Digest(SHA-256) failed")
            initialized = byteCount
        }
    }

    public static func hash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hash($0) }
    }
}

/// HMAC-SHA256 (RFC 2104).
public enum HMACSHA256 {
    public static let byteCount = 32

    /// The 32-byte authentication code of `data` under `key`.
    public static func authenticationCode(for data: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: byteCount) { output, initialized in
            var length: UInt32 = 0
            // A zero-length key still needs a valid pointer.
            let keyBase = key.baseAddress ?? UnsafeRawPointer(output.baseAddress!)
            let result = HMAC(Algorithms.sha256, keyBase, Int32(key.count),
                              data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count,
                              output.baseAddress, &length)
            precondition(result != nil && length == UInt32(byteCount), "HMAC-SHA256 failed")
            initialized = byteCount
        }
    }

    public static func authenticationCode(for data: [UInt8], key: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { d in key.withUnsafeBytes { k in authenticationCode(for: d, key: k) } }
    }

    public static func authenticationCode(for data: [UInt8], key: SecretBytes) -> [UInt8] {
        data.withUnsafeBytes { d in key.withUnsafeBytes { k in authenticationCode(for: d, key: k) } }
    }

    /// Checks a full-length code in constant time.
    public static func isValid(_ code: [UInt8], for data: [UInt8], key: [UInt8]) -> Bool {
        ConstantTime.equals(authenticationCode(for: data, key: key), code)
    }
}

/// HKDF with SHA-256 (RFC 5869), on libcrypto's HKDF implementation.
public enum HKDF {
    /// RFC 5869 allows at most 255 blocks of output.
    public static let outputBytesMax = 255 * SHA256.byteCount

    /// Derives `outputByteCount` bytes from input keying material, salt and info.
    public static func deriveKey(
        inputKeyMaterial: UnsafeRawBufferPointer, salt: [UInt8], info: [UInt8], outputByteCount: Int
    ) throws(CryptoError) -> SecretBytes {
        guard outputByteCount >= 1, outputByteCount <= outputBytesMax else {
            throw .invalidInputLength(operation: "HKDF output", bytes: outputByteCount)
        }
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nil) else { throw failure("HKDF") }
        defer { EVP_PKEY_CTX_free(context) }
        // An empty input key is legal in RFC 5869; libcrypto needs a non-nil pointer for it.
        var empty: UInt8 = 0
        let ikm = inputKeyMaterial.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let configured = withUnsafePointer(to: &empty) { emptyPointer in
            EVP_PKEY_derive_init(context) == 1
                && EVP_PKEY_CTX_set_hkdf_md(context, Algorithms.sha256) == 1
                && (salt.isEmpty || EVP_PKEY_CTX_set1_hkdf_salt(context, salt, Int32(salt.count)) == 1)
                && EVP_PKEY_CTX_set1_hkdf_key(context, ikm ?? emptyPointer, Int32(inputKeyMaterial.count)) == 1
                && (info.isEmpty || EVP_PKEY_CTX_add1_hkdf_info(context, info, Int32(info.count)) == 1)
        }
        guard configured else { throw failure("HKDF") }
        return try SecretBytes(count: outputByteCount) { (output) throws(CryptoError) in
            var length = outputByteCount
            guard EVP_PKEY_derive(context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1,
                  length == outputByteCount
            else { throw failure("HKDF") }
        }
    }

    public static func deriveKey(
        inputKeyMaterial: SecretBytes, salt: [UInt8], info: [UInt8], outputByteCount: Int
    ) throws(CryptoError) -> SecretBytes {
        try inputKeyMaterial.withUnsafeBytes { (ikm) throws(CryptoError) in
            try deriveKey(inputKeyMaterial: ikm, salt: salt, info: info, outputByteCount: outputByteCount)
        }
    }
}
