import Envelope
import KeyraftCrypto
import KeyraftCryptoDeterministic

/// Fills every request with 0, 1, 2, … (mod 256), so a message id is predictable.
final class CountingEntropy: EntropySource {
    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: index) }
    }
}

enum Fixture {
    static let context = ["tenant": "acme", "purpose": "test"]
    static let keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-1234-4abc-8def-0123456789ab"
    static let encryptedDataKey: [UInt8] = Array(repeating: 0xED, count: 58)

    static func dataKey(_ fill: UInt8 = 0x11) -> SecretBytes {
        SecretBytes(copying: [UInt8](repeating: fill, count: 32))
    }

    static func plaintext(_ count: Int, seed: UInt64 = 7) -> [UInt8] {
        let entropy = SeededEntropy(seed: seed)
        return (try? entropy.bytes(count: count)) ?? []
    }

    /// Encrypts `plaintext` fed in chunks of `chunkBytes`.
    static func encrypt(
        _ plaintext: [UInt8], frameBytes: Int, chunkBytes: Int = 1_000, key: SecretBytes = dataKey(),
        context: [String: String] = context, entropy: some EntropySource = SeededEntropy(seed: 1)
    ) throws -> [UInt8] {
        var encryptor = try EnvelopeEncryptor(
            dataKey: key, encryptedDataKey: encryptedDataKey, keyARN: keyARN, encryptionContext: context,
            frameBytes: frameBytes, entropy: entropy)
        var out: [UInt8] = []
        var offset = 0
        while offset < plaintext.count {
            let end = min(offset + chunkBytes, plaintext.count)
            out += try encryptor.update(plaintext[offset..<end])
            offset = end
        }
        out += try encryptor.finish()
        return out
    }

    /// Decrypts a whole message fed in chunks of `chunkBytes`; the data key is supplied
    /// as soon as it is asked for.
    static func decrypt(
        _ message: [UInt8], chunkBytes: Int = 1_000, key: SecretBytes = dataKey(),
        requiredContext: [String: String] = [:]
    ) throws(EnvelopeError) -> [UInt8] {
        var decryptor = EnvelopeDecryptor(requiredContext: requiredContext)
        var out: [UInt8] = []
        var offset = 0
        repeat {
            let end = min(offset + chunkBytes, message.count)
            out += try decryptor.update(message[offset..<end])
            if decryptor.needsDataKey { out += try decryptor.supplyDataKey(key) }
            offset = end
        } while offset < message.count
        try decryptor.finish()
        return out
    }

    /// Splits a message into its header and frames (trusting its own lengths).
    static func split(_ message: [UInt8]) throws -> (header: [UInt8], frames: [[UInt8]]) {
        var decryptor = EnvelopeDecryptor()
        _ = try decryptor.update(message)
        guard let header = decryptor.header else { throw EnvelopeError.truncated }
        let headerBytes = header.bytes.count
        var frames: [[UInt8]] = []
        var offset = headerBytes
        while offset < message.count {
            let length = message[(offset + 5)..<(offset + 9)].reduce(0) { $0 << 8 | Int($1) }
            let end = offset + 9 + length + 16
            frames.append(Array(message[offset..<end]))
            offset = end
        }
        return (Array(message[..<headerBytes]), frames)
    }
}
