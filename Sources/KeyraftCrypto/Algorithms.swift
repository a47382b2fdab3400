import COpenSSL

/// Cipher and digest implementations fetched once from the default library context.
///
/// OpenSSL 3 performs an implicit fetch (a locked lookup) on every use of
/// `EVP_aes_256_gcm()` and friends; fetching once removes that from every call.
/// The fetched objects are immutable and safe to share between threads.
enum Algorithms {
    nonisolated(unsafe) static let aes256GCM: OpaquePointer = fetchCipher("AES-256-GCM")
    nonisolated(unsafe) static let aes128WrapPad: OpaquePointer = fetchCipher("AES-128-WRAP-PAD")
    nonisolated(unsafe) static let aes192WrapPad: OpaquePointer = fetchCipher("AES-192-WRAP-PAD")
    nonisolated(unsafe) static let aes256WrapPad: OpaquePointer = fetchCipher("AES-256-WRAP-PAD")
    nonisolated(unsafe) static let sha256: OpaquePointer = fetchDigest("SHA256")

    private static func fetchCipher(_ name: String) -> OpaquePointer {
        guard let cipher = EVP_CIPHER_fetch(nil, name, nil) else {
            fatalError("libcrypto does not provide \(name); Keyraft cannot run without it")
        }
        return cipher
    }

    private static func fetchDigest(_ name: String) -> OpaquePointer {
        guard let digest = EVP_MD_fetch(nil, name, nil) else {
            fatalError("libcrypto does not provide \(name); Keyraft cannot run without it")
        }
        return digest
    }
}

/// An owned `EVP_CIPHER_CTX`, freed (and cleansed by OpenSSL) on release.
struct CipherContext: ~Copyable {
    let pointer: OpaquePointer

    init(operation: String) throws(CryptoError) {
        guard let pointer = EVP_CIPHER_CTX_new() else { throw .libraryFailure(operation: operation) }
        self.pointer = pointer
    }

    deinit { EVP_CIPHER_CTX_free(pointer) }
}
