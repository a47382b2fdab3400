import COpenSSL

/// AES key wrap with padding (RFC 5649, NIST SP 800-38F "KWP") under a 256-bit root key.
///
/// Why KWP and not AES-GCM with a label: it is deterministic and needs no nonce, so the
/// root key can wrap an unbounded number of key versions without a nonce-collision
/// budget; it is the construction NIST approves for key transport and is available in
/// OpenSSL's FIPS provider; and its 64-bit integrity check rejects any altered wrapping.
/// See docs/FORMATS.md.
public enum KeyWrap {
    public static let rootKeyByteCount = 32
    /// KWP accepts 1 byte up to 2^32 - 1; key material is never larger than this.
    public static let materialBytesMax = 4096

    /// Wraps `material` under `rootKey`. Output is `material.count` rounded up to 8, plus 8 bytes.
    public static func wrap(_ material: SecretBytes, under rootKey: SecretBytes) throws(CryptoError) -> [UInt8] {
        guard rootKey.count == rootKeyByteCount else {
            throw .invalidKeyLength(expectedBytes: rootKeyByteCount, actualBytes: rootKey.count)
        }
        return try rootKey.withUnsafeBytes { (key) throws(CryptoError) in
            try material.withUnsafeBytes { (input) throws(CryptoError) in try wrap(input, key: key) }
        }
    }

    /// Unwraps, or throws `.authenticationFailed` when the wrapping was altered or the key is wrong.
    public static func unwrap(_ wrapped: [UInt8], under rootKey: SecretBytes) throws(CryptoError) -> SecretBytes {
        guard rootKey.count == rootKeyByteCount else {
            throw .invalidKeyLength(expectedBytes: rootKeyByteCount, actualBytes: rootKey.count)
        }
        return try rootKey.withUnsafeBytes { (key) throws(CryptoError) in
            try unwrap(wrapped, key: key)
        }
    }

    /// KWP under a 128-, 192- or 256-bit key. Internal so tests can run every Wycheproof group;
    /// Keyraft itself only wraps under 256-bit keys.
    static func wrap(_ input: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) throws(CryptoError) -> [UInt8] {
        guard input.count >= 1, input.count <= materialBytesMax else {
            throw .invalidInputLength(operation: "key wrap", bytes: input.count)
        }
        let outputBytes = (input.count + 7) / 8 * 8 + 8
        let context = try CipherContext(operation: "key wrap")
        return try [UInt8](unsafeUninitializedCapacity: outputBytes + 8) {
            (output, initialized) throws(CryptoError) in
            initialized = 0
            try initialize(context.pointer, encrypt: true, key: key)
            var written: Int32 = 0
            guard EVP_EncryptUpdate(context.pointer, output.baseAddress, &written,
                                    input.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    Int32(input.count)) == 1
            else { throw failure("key wrap") }
            precondition(Int(written) == outputBytes, "RFC 5649 output length")
            initialized = outputBytes
        }
    }

    static func unwrap(_ wrapped: [UInt8], key: UnsafeRawBufferPointer) throws(CryptoError) -> SecretBytes {
        // The shortest wrapping is one 16-byte block; every wrapping is a multiple of 8 bytes.
        guard wrapped.count >= 16, wrapped.count % 8 == 0, wrapped.count <= materialBytesMax + 16 else {
            throw .authenticationFailed
        }
        let context = try CipherContext(operation: "key unwrap")
        try initialize(context.pointer, encrypt: false, key: key)
        // Decrypt into a scratch secret of the maximal size, then copy the real length out.
        var written: Int32 = 0
        let scratch = try SecretBytes(count: wrapped.count) { (output) throws(CryptoError) in
            guard EVP_DecryptUpdate(context.pointer, output.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    &written, wrapped, Int32(wrapped.count)) == 1, written > 0
            else {
                ERR_clear_error()
                throw .authenticationFailed
            }
        }
        precondition(Int(written) <= wrapped.count - 8, "unwrapped material is shorter than its wrapping")
        return scratch.withUnsafeBytes { bytes in
            SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<Int(written)]))
        }
    }

    private static func initialize(
        _ context: OpaquePointer, encrypt: Bool, key: UnsafeRawBufferPointer
    ) throws(CryptoError) {
        let cipher: OpaquePointer
        switch key.count {
        case 16: cipher = Algorithms.aes128WrapPad
        case 24: cipher = Algorithms.aes192WrapPad
        case 32: cipher = Algorithms.aes256WrapPad
        default: throw .invalidKeyLength(expectedBytes: rootKeyByteCount, actualBytes: key.count)
        }
        EVP_CIPHER_CTX_set_flags(context, Int32(EVP_CIPHER_CTX_FLAG_WRAP_ALLOW))
        let keyPointer = key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status = encrypt
            ? EVP_EncryptInit_ex2(context, cipher, keyPointer, nil, nil)
            : EVP_DecryptInit_ex2(context, cipher, keyPointer, nil, nil)
        guard status == 1 else { throw failure("key wrap init") }
    }
}
