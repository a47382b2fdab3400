import COpenSSL

/// Small helpers around libcrypto's error queue and memory BIOs.
///
/// Every OpenSSL object this module allocates is freed by a `defer` right after the line that
/// allocates it, so early returns and throws cannot leak it; nothing here hands an owned
/// OpenSSL pointer to a caller except `PrivateKey`, which frees its `EVP_PKEY` in `deinit`.
enum LibCrypto {
    /// Entries read from the thread's error queue for one message. OpenSSL keeps at most 16.
    static let errorEntriesMax = 16
    static let errorStringBytesMax = 256

    /// Drains the thread's error queue into one line, oldest entry first.
    ///
    /// Only `ERR_error_string_n` (library and reason) is used, never `ERR_get_error_all`'s
    /// attached data, so no input bytes can reach the message.
    static func drainErrors() -> String {
        var messages: [String] = []
        for _ in 0..<errorEntriesMax {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: errorStringBytesMax)
            ERR_error_string_n(code, &buffer, buffer.count)
            let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            messages.append(String(decoding: bytes, as: UTF8.self))
        }
        ERR_clear_error()
        return messages.joined(separator: "; ")
    }

    static func failure(_ operation: String) -> CertificateError {
        .library(operation: operation, openSSL: drainErrors())
    }

    /// A new memory BIO holding a copy of `bytes`. `secure` uses OpenSSL's secure-heap BIO
    /// (it cleanses its buffer on free) for private keys.
    static func memoryBIO(copying bytes: [UInt8], secure: Bool, operation: String) throws(CertificateError) -> OpaquePointer {
        guard let bio = BIO_new(secure ? BIO_s_secmem() : BIO_s_mem()) else { throw failure(operation) }
        guard bytes.count <= Int(Int32.max), BIO_write(bio, bytes, Int32(bytes.count)) == Int32(bytes.count) else {
            BIO_free(bio)
            throw failure(operation)
        }
        return bio
    }

    /// Everything still unread in a memory BIO.
    static func readAll(_ bio: OpaquePointer, operation: String) throws(CertificateError) -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(bio))
        guard pending > 0, pending <= Int(Int32.max) else { throw failure(operation) }
        var output = [UInt8](repeating: 0, count: pending)
        let read = BIO_read(bio, &output, Int32(pending))
        guard read == Int32(pending) else { throw failure(operation) }
        return output
    }

    /// Frees a string libcrypto allocated (`OPENSSL_free` is a macro and does not import).
    static func free(_ pointer: UnsafeMutableRawPointer?) {
        CRYPTO_free(pointer, nil, 0)
    }
}
