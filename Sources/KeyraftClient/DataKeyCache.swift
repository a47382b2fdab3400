import KeyraftCrypto

/// Bounds of the data-key cache, as the AWS Encryption SDK's caching materials manager has
/// them: a cached data key encrypts at most `maxMessages` messages and `maxBytes` plaintext
/// bytes, for at most `maxAge`.
public struct DataKeyCacheLimits: Sendable, Hashable {
    public var maxAge: Duration
    public var maxMessages: Int
    public var maxBytes: Int64
    /// Entries kept per direction (encryption, decryption); the oldest goes first.
    public var entriesMax: Int

    public init(maxAge: Duration = .seconds(300), maxMessages: Int = 1_000, maxBytes: Int64 = 1 << 32,
                entriesMax: Int = 100) {
        precondition(maxAge > .zero && maxMessages >= 1 && maxBytes >= 1 && entriesMax >= 1)
        self.maxAge = maxAge
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.entriesMax = entriesMax
    }
}

/// A data key as GenerateDataKey returned it.
struct DataKeyMaterial: Sendable {
    let plaintext: SecretBytes
    let encryptedDataKey: [UInt8]
    let keyARN: String
}

/// The cache itself, pure: time is an argument, the caller holds the lock.
///
/// Encryption entries are found by (key id as the caller named it, canonical context), so
/// messages share a data key only when they share both. Decryption entries are found by
/// (key ARN, encrypted data key, canonical context): the same triple KMS Decrypt would be
/// asked about, so a hit answers exactly what that call would have answered.
struct DataKeyCache {
    struct EncryptionKey: Hashable {
        let keyID: String
        let context: [UInt8]
    }

    struct DecryptionKey: Hashable {
        let keyARN: String
        let encryptedDataKey: [UInt8]
        let context: [UInt8]
    }

    private struct EncryptionEntry {
        let material: DataKeyMaterial
        let created: ClientInstant
        /// Invariant: ≤ limits.maxMessages.
        var messages: Int
        /// Invariant: ≤ limits.maxBytes.
        var bytes: Int64
    }

    private struct DecryptionEntry {
        let dataKey: SecretBytes
        let created: ClientInstant
    }

    let limits: DataKeyCacheLimits
    private var encryption: [EncryptionKey: EncryptionEntry] = [:]
    private var decryption: [DecryptionKey: DecryptionEntry] = [:]

    init(limits: DataKeyCacheLimits) { self.limits = limits }

    var encryptionEntryCount: Int { encryption.count }
    var decryptionEntryCount: Int { decryption.count }

    /// A cached data key for one more message of `plaintextBytes`, counting the use; nil
    /// when there is none or using it would pass a limit (the entry is then dropped).
    mutating func useForEncryption(_ key: EncryptionKey, plaintextBytes: Int64, now: ClientInstant) -> DataKeyMaterial? {
        precondition(plaintextBytes >= 0)
        guard var entry = encryption[key] else { return nil }
        guard !isExpired(entry.created, now: now), entry.messages < limits.maxMessages,
              plaintextBytes <= limits.maxBytes - entry.bytes
        else {
            encryption[key] = nil
            return nil
        }
        entry.messages += 1
        entry.bytes += plaintextBytes
        // A key that has reached a limit is no use to the next message.
        encryption[key] = entry.messages == limits.maxMessages || entry.bytes == limits.maxBytes ? nil : entry
        return entry.material
    }

    /// Keeps a fresh data key that has just been used for one message of `plaintextBytes`.
    mutating func storeForEncryption(_ key: EncryptionKey, material: DataKeyMaterial, plaintextBytes: Int64, now: ClientInstant) {
        guard limits.maxMessages > 1, plaintextBytes < limits.maxBytes else { return }
        if encryption[key] == nil, encryption.count >= limits.entriesMax,
           let oldest = encryption.min(by: { $0.value.created < $1.value.created })?.key {
            encryption[oldest] = nil
        }
        encryption[key] = EncryptionEntry(material: material, created: now, messages: 1, bytes: plaintextBytes)
        assert(encryption.count <= limits.entriesMax)
    }

    mutating func lookupForDecryption(_ key: DecryptionKey, now: ClientInstant) -> SecretBytes? {
        guard let entry = decryption[key] else { return nil }
        guard !isExpired(entry.created, now: now) else {
            decryption[key] = nil
            return nil
        }
        return entry.dataKey
    }

    mutating func storeForDecryption(_ key: DecryptionKey, dataKey: SecretBytes, now: ClientInstant) {
        if decryption[key] == nil, decryption.count >= limits.entriesMax,
           let oldest = decryption.min(by: { $0.value.created < $1.value.created })?.key {
            decryption[oldest] = nil
        }
        decryption[key] = DecryptionEntry(dataKey: dataKey, created: now)
        assert(decryption.count <= limits.entriesMax)
    }

    private func isExpired(_ created: ClientInstant, now: ClientInstant) -> Bool {
        now.since(created) >= limits.maxAge.clientNanoseconds
    }
}
