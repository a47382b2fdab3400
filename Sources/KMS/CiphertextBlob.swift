import KeyraftCrypto

/// The ciphertext that Encrypt returns and Decrypt accepts (format version 1).
///
/// ```
/// offset  size  field
///      0     1  format version (0x01)
///      1    16  key id (UUID bytes)
///     17     4  key version (u32, big-endian)
///     21    12  AES-GCM nonce
///     33     4  ciphertext length n (u32, big-endian), 1...4096
///     37     n  ciphertext
///   37+n    16  AES-GCM tag
/// ```
/// The 37-byte header followed by the canonical encryption context is the AAD, so the key
/// id, version, nonce and length cannot be altered and the context must match exactly.
/// docs/FORMATS.md has a worked example.
public struct CiphertextBlob: Equatable, Sendable {
    public static let formatVersion: UInt8 = 1
    public static let headerByteCount = 37
    public static let ciphertextBytesMax = 4096
    public static let encodedBytesMax = headerByteCount + ciphertextBytesMax + AESGCM.tagByteCount

    public var keyID: KeyID
    public var keyVersion: KeyVersion
    public var nonce: [UInt8]
    public var ciphertext: [UInt8]
    public var tag: [UInt8]

    /// Seals `plaintext` under one key version, with a fresh nonce from `entropy`.
    public static func seal(
        _ plaintext: [UInt8], keyID: KeyID, keyVersion: KeyVersion, key: SecretBytes,
        context: EncryptionContext, entropy: some EntropySource
    ) throws(CiphertextError) -> CiphertextBlob {
        guard (1...ciphertextBytesMax).contains(plaintext.count) else {
            throw .plaintextLengthOutOfRange(bytes: plaintext.count)
        }
        do {
            let nonce = try entropy.bytes(count: AESGCM.nonceByteCount)
            let header = encodeHeader(keyID: keyID, keyVersion: keyVersion, nonce: nonce, ciphertextBytes: plaintext.count)
            let box = try AESGCM.seal(plaintext, key: key, nonce: nonce, aad: aad(header: header, context: context))
            let blob = CiphertextBlob(keyID: keyID, keyVersion: keyVersion, nonce: nonce,
                                      ciphertext: box.ciphertext, tag: box.tag)
            assert(blob.ciphertext.count == plaintext.count)
            return blob
        } catch {
            throw .crypto(error)
        }
    }

    /// Opens the blob with its key version's material and the caller's encryption context.
    public func open(key: SecretBytes, context: EncryptionContext) throws(CiphertextError) -> [UInt8] {
        let header = CiphertextBlob.encodeHeader(keyID: keyID, keyVersion: keyVersion, nonce: nonce,
                                                 ciphertextBytes: ciphertext.count)
        do {
            return try AESGCM.open(ciphertext: ciphertext, tag: tag, nonce: nonce, key: key,
                                   aad: CiphertextBlob.aad(header: header, context: context))
        } catch .authenticationFailed {
            throw .authenticationFailed
        } catch {
            throw .crypto(error)
        }
    }

    public func encoded() -> [UInt8] {
        precondition(nonce.count == AESGCM.nonceByteCount && tag.count == AESGCM.tagByteCount)
        precondition((1...CiphertextBlob.ciphertextBytesMax).contains(ciphertext.count))
        var out = CiphertextBlob.encodeHeader(keyID: keyID, keyVersion: keyVersion, nonce: nonce,
                                              ciphertextBytes: ciphertext.count)
        out.reserveCapacity(out.count + ciphertext.count + tag.count)
        out.append(contentsOf: ciphertext)
        out.append(contentsOf: tag)
        assert(out.count == CiphertextBlob.headerByteCount + ciphertext.count + AESGCM.tagByteCount)
        return out
    }

    /// Parses strictly: every length is checked before it is used, and the input must be
    /// exactly one blob (no trailing bytes).
    public init(decoding bytes: [UInt8]) throws(CiphertextError) {
        guard !bytes.isEmpty else { throw .truncated(neededBytes: CiphertextBlob.headerByteCount, availableBytes: 0) }
        guard bytes[0] == CiphertextBlob.formatVersion else { throw .unknownFormatVersion(bytes[0]) }
        guard bytes.count <= CiphertextBlob.encodedBytesMax else { throw .oversized(bytes: bytes.count) }
        guard bytes.count >= CiphertextBlob.headerByteCount else {
            throw .truncated(neededBytes: CiphertextBlob.headerByteCount, availableBytes: bytes.count)
        }
        let length = Int(readUInt32(bytes, at: 33))
        guard (1...CiphertextBlob.ciphertextBytesMax).contains(length) else {
            throw .ciphertextLengthOutOfRange(bytes: length)
        }
        let needed = CiphertextBlob.headerByteCount + length + AESGCM.tagByteCount
        guard bytes.count >= needed else { throw .truncated(neededBytes: needed, availableBytes: bytes.count) }
        guard bytes.count == needed else { throw .trailingBytes(count: bytes.count - needed) }
        let version = readUInt32(bytes, at: 17)
        guard version >= KeyVersion.first.rawValue else { throw .invalidKeyVersion(version) }
        keyID = KeyID(bytes: bytes[1..<17])!
        keyVersion = KeyVersion(version)
        nonce = Array(bytes[21..<33])
        ciphertext = Array(bytes[37..<(37 + length)])
        tag = Array(bytes[(37 + length)..<needed])
    }

    public init(keyID: KeyID, keyVersion: KeyVersion, nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        self.keyID = keyID
        self.keyVersion = keyVersion
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    static func encodeHeader(keyID: KeyID, keyVersion: KeyVersion, nonce: [UInt8], ciphertextBytes: Int) -> [UInt8] {
        precondition(nonce.count == AESGCM.nonceByteCount)
        var out: [UInt8] = []
        out.reserveCapacity(headerByteCount + ciphertextBytes + AESGCM.tagByteCount)
        out.append(formatVersion)
        out.append(contentsOf: keyID.bytes)
        appendUInt32(keyVersion.rawValue, to: &out)
        out.append(contentsOf: nonce)
        appendUInt32(UInt32(ciphertextBytes), to: &out)
        assert(out.count == headerByteCount)
        return out
    }

    static func aad(header: [UInt8], context: EncryptionContext) -> [UInt8] {
        header + CanonicalEncryptionContext.encode(context)
    }
}

/// Why a ciphertext blob was refused. Carries lengths and the version byte only.
public enum CiphertextError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(neededBytes: Int, availableBytes: Int)
    case oversized(bytes: Int)
    case unknownFormatVersion(UInt8)
    case ciphertextLengthOutOfRange(bytes: Int)
    case trailingBytes(count: Int)
    case invalidKeyVersion(UInt32)
    case plaintextLengthOutOfRange(bytes: Int)
    /// The tag did not verify: wrong key version material, wrong context, or tampering.
    case authenticationFailed
    case crypto(CryptoError)

    public var description: String {
        switch self {
        case let .truncated(needed, available):
            return "ciphertext is truncated: needs \(needed) bytes, has \(available)"
        case let .oversized(bytes):
            return "ciphertext is \(bytes) bytes, more than the maximum \(CiphertextBlob.encodedBytesMax)"
        case let .unknownFormatVersion(version):
            return "ciphertext has unknown format version \(version)"
        case let .ciphertextLengthOutOfRange(bytes):
            return "ciphertext declares \(bytes) bytes of ciphertext, outside 1...\(CiphertextBlob.ciphertextBytesMax)"
        case let .trailingBytes(count):
            return "ciphertext has \(count) unexpected trailing bytes"
        case let .invalidKeyVersion(version):
            return "ciphertext names key version \(version); versions start at 1"
        case let .plaintextLengthOutOfRange(bytes):
            return "plaintext is \(bytes) bytes, outside 1...\(CiphertextBlob.ciphertextBytesMax)"
        case .authenticationFailed:
            return "ciphertext does not authenticate under this key and encryption context"
        case let .crypto(error):
            return error.description
        }
    }
}

@inline(__always)
func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    precondition(offset >= 0 && offset + 4 <= bytes.count)
    return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
        | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}
