import Envelope
import KeyraftCrypto
import NIOConcurrencyHelpers

/// Envelope encryption through a Keyraft cluster: data keys from GenerateDataKey, opened
/// with Decrypt, optionally cached (`DataKeyCacheLimits`) so that many messages cost few
/// KMS calls. The message format is `Envelope`'s (docs/FORMATS.md).
///
/// Methods throw `KeyraftClientError` (the KMS calls) or `EnvelopeError` (the format).
public final class EnvelopeClient: Sendable {
    /// KMS calls made and cache hits, since the client was made.
    public struct Statistics: Sendable, Hashable {
        public var generateDataKeyCalls = 0
        public var decryptCalls = 0
        public var encryptionCacheHits = 0
        public var decryptionCacheHits = 0
    }

    public let client: KeyraftClient
    /// Plaintext bytes per frame of new messages.
    public let frameBytes: Int
    private let cache: NIOLockedValueBox<DataKeyCache>?
    private let counters = NIOLockedValueBox(Statistics())
    private let entropy = SystemEntropy()

    /// - Parameters:
    ///   - cacheLimits: cache data keys within these limits; nil (the default) asks KMS
    ///     for every message.
    ///   - frameBytes: 1 … `EnvelopeFormat.frameBytesMax`.
    public init(client: KeyraftClient, cacheLimits: DataKeyCacheLimits? = nil,
                frameBytes: Int = EnvelopeFormat.frameBytesDefault) {
        precondition((1...EnvelopeFormat.frameBytesMax).contains(frameBytes))
        self.client = client
        self.frameBytes = frameBytes
        cache = cacheLimits.map { NIOLockedValueBox(DataKeyCache(limits: $0)) }
    }

    public var statistics: Statistics { counters.withLockedValue { $0 } }

    /// Starts a message under `keyID` bound to `context`.
    ///
    /// - Parameter plaintextBytes: the message's size if known. The cache is used only when
    ///   it is, because its byte limit must be charged before encrypting; the encryptor then
    ///   refuses plaintext beyond it (`EnvelopeError.plaintextExceedsDeclaredSize`).
    public func makeEncryptor(
        keyID: String, context: [String: String], plaintextBytes: Int64? = nil
    ) async throws -> EnvelopeEncryptor {
        let material = try await dataKeyForEncryption(keyID: keyID, context: context, plaintextBytes: plaintextBytes)
        // The declared size is what the cache charged: the encryptor holds the caller to it.
        return try EnvelopeEncryptor(
            dataKey: material.plaintext, encryptedDataKey: material.encryptedDataKey, keyARN: material.keyARN,
            encryptionContext: context, frameBytes: frameBytes, entropy: entropy, plaintextBytesMax: plaintextBytes)
    }

    /// The plaintext data key of a parsed header (KMS Decrypt, or the cache).
    public func dataKey(for header: EnvelopeHeader) async throws -> SecretBytes {
        let cacheKey = DataKeyCache.DecryptionKey(
            keyARN: header.keyARN, encryptedDataKey: header.encryptedDataKey,
            context: CanonicalContext.encode(header.encryptionContext))
        if let cache, let key = cache.withLockedValue({ $0.lookupForDecryption(cacheKey, now: .now()) }) {
            counters.withLockedValue { $0.decryptionCacheHits += 1 }
            return key
        }
        counters.withLockedValue { $0.decryptCalls += 1 }
        let result = try await client.decrypt(ciphertextBlob: header.encryptedDataKey, keyID: header.keyARN,
                                              context: header.encryptionContext)
        guard result.keyARN == header.keyARN else {
            throw KeyraftClientError.invalidResponse("Decrypt answered for key \(result.keyARN), the message names \(header.keyARN)")
        }
        let key = SecretBytes(copying: result.plaintext)
        guard key.count == EnvelopeFormat.dataKeyBytes else {
            throw KeyraftClientError.invalidResponse("Decrypt returned a data key of \(key.count) bytes")
        }
        cache?.withLockedValue { $0.storeForDecryption(cacheKey, dataKey: key, now: .now()) }
        return key
    }

    /// Encrypts a whole buffer into one message.
    public func encrypt(_ plaintext: [UInt8], keyID: String, context: [String: String] = [:]) async throws -> [UInt8] {
        var encryptor = try await makeEncryptor(keyID: keyID, context: context, plaintextBytes: Int64(plaintext.count))
        return try encryptor.update(plaintext) + encryptor.finish()
    }

    /// Decrypts a whole message; `requiredContext` pairs must be in its context.
    public func decrypt(
        _ message: [UInt8], requiredContext: [String: String] = [:]
    ) async throws -> (plaintext: [UInt8], header: EnvelopeHeader) {
        var decryptor = EnvelopeDecryptor(requiredContext: requiredContext)
        var plaintext = try decryptor.update(message)
        guard let header = decryptor.header, decryptor.needsDataKey else { throw EnvelopeError.truncated }
        plaintext += try decryptor.supplyDataKey(try await dataKey(for: header))
        try decryptor.finish()
        return (plaintext, header)
    }

    private func dataKeyForEncryption(
        keyID: String, context: [String: String], plaintextBytes: Int64?
    ) async throws -> DataKeyMaterial {
        let cacheKey = DataKeyCache.EncryptionKey(keyID: keyID, context: CanonicalContext.encode(context))
        if let cache, let bytes = plaintextBytes,
           let material = cache.withLockedValue({ $0.useForEncryption(cacheKey, plaintextBytes: bytes, now: .now()) }) {
            counters.withLockedValue { $0.encryptionCacheHits += 1 }
            return material
        }
        counters.withLockedValue { $0.generateDataKeyCalls += 1 }
        let generated = try await client.generateDataKey(keyID: keyID, size: .aes256, context: context)
        guard generated.keyARN.hasPrefix("arn:") else {
            throw KeyraftClientError.invalidResponse("GenerateDataKey answered KeyId \(generated.keyARN), not a key ARN")
        }
        let material = DataKeyMaterial(plaintext: generated.plaintext, encryptedDataKey: generated.ciphertextBlob,
                                       keyARN: generated.keyARN)
        if let cache, let bytes = plaintextBytes {
            cache.withLockedValue { $0.storeForEncryption(cacheKey, material: material, plaintextBytes: bytes, now: .now()) }
        }
        return material
    }
}
