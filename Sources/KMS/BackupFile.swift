import KeyraftCrypto

/// An encrypted backup of the KMS state (issue 7): a snapshot sealed under a fresh data key,
/// the data key wrapped under a separate backup key. See docs/FORMATS.md.
///
/// ```
/// offset  size  field
///      0     4  magic "KRBK"
///      4     1  format version (1)
///      5     8  creation time, ms since the epoch (i64)
///     13     8  applied index the snapshot was taken at (u64)
///     21     2  wrapped data key length w (u16), 40
///     23     w  data key wrapped under the backup key (RFC 5649)
///   23+w    12  AES-GCM nonce
///   35+w     8  ciphertext length n (u64)
///   43+w     n  AES-256-GCM ciphertext of the KMS snapshot
/// 43+w+n    16  tag
/// ```
/// Everything before the ciphertext is AAD, so no header field can be altered.
public struct BackupFile: Equatable, Sendable {
    public static let magic: [UInt8] = Array("KRBK".utf8)
    public static let formatVersion: UInt8 = 1
    static let fixedHeaderBytes = 23
    static let snapshotBytesMax = AESGCM.plaintextBytesMax

    public let createdAt: Timestamp
    public let appliedIndex: UInt64
    let wrappedDataKey: [UInt8]
    let nonce: [UInt8]
    let ciphertext: [UInt8]
    let tag: [UInt8]

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case notABackup
        case unknownVersion(UInt8)
        case truncated
        case trailingBytes(Int)
        case tooLarge(Int)
        /// Wrong backup key, or the file was modified.
        case authenticationFailed
        case crypto(CryptoError)

        public var description: String {
            switch self {
            case .notABackup: return "not a Keyraft backup file"
            case let .unknownVersion(v): return "unknown backup format version \(v)"
            case .truncated: return "the backup file is truncated"
            case let .trailingBytes(n): return "the backup file has \(n) unexpected trailing bytes"
            case let .tooLarge(n): return "the snapshot is \(n) bytes, more than a backup holds"
            case .authenticationFailed: return "the backup does not authenticate: wrong backup key, or the file was modified"
            case let .crypto(error): return error.description
            }
        }
    }

    /// Seals `snapshot` (from `KMSState.snapshot()`) under a fresh data key wrapped by `backupKey`.
    public static func seal(snapshot: [UInt8], appliedIndex: UInt64, createdAt: Timestamp,
                            backupKey: SecretBytes, entropy: some EntropySource) throws(Error) -> BackupFile {
        guard snapshot.count <= snapshotBytesMax else { throw .tooLarge(snapshot.count) }
        do {
            let dataKey = try SecretBytes.generate(count: AESGCM.keyByteCount, using: entropy)
            let wrapped = try KeyWrap.wrap(dataKey, under: backupKey)
            let nonce = try entropy.bytes(count: AESGCM.nonceByteCount)
            let header = encodeHeader(createdAt: createdAt, appliedIndex: appliedIndex, wrappedDataKey: wrapped,
                                      nonce: nonce, ciphertextBytes: snapshot.count)
            let box = try AESGCM.seal(snapshot, key: dataKey, nonce: nonce, aad: header)
            return BackupFile(createdAt: createdAt, appliedIndex: appliedIndex, wrappedDataKey: wrapped, nonce: nonce,
                              ciphertext: box.ciphertext, tag: box.tag)
        } catch {
            throw .crypto(error)
        }
    }

    /// The snapshot, if `backupKey` is the right key and nothing was modified.
    public func open(backupKey: SecretBytes) throws(Error) -> [UInt8] {
        let header = BackupFile.encodeHeader(createdAt: createdAt, appliedIndex: appliedIndex, wrappedDataKey: wrappedDataKey,
                                             nonce: nonce, ciphertextBytes: ciphertext.count)
        do {
            let dataKey = try KeyWrap.unwrap(wrappedDataKey, under: backupKey)
            return try AESGCM.open(ciphertext: ciphertext, tag: tag, nonce: nonce, key: dataKey, aad: header)
        } catch .authenticationFailed {
            throw .authenticationFailed
        } catch {
            throw .crypto(error)
        }
    }

    public func encoded() -> [UInt8] {
        var out = BackupFile.encodeHeader(createdAt: createdAt, appliedIndex: appliedIndex, wrappedDataKey: wrappedDataKey,
                                          nonce: nonce, ciphertextBytes: ciphertext.count)
        out.append(contentsOf: ciphertext)
        out.append(contentsOf: tag)
        return out
    }

    /// Parses strictly; authentication happens in `open`.
    public init(decoding bytes: [UInt8]) throws(Error) {
        guard bytes.count >= 5, Array(bytes[0..<4]) == BackupFile.magic else { throw .notABackup }
        guard bytes[4] == BackupFile.formatVersion else { throw .unknownVersion(bytes[4]) }
        var r = ByteReader(Array(bytes[5...]))
        do {
            createdAt = try r.timestamp()
            appliedIndex = try r.u64()
            let wrappedLength = Int(try r.u8()) << 8 | Int(try r.u8())
            guard wrappedLength >= 16, wrappedLength <= 64 else { throw BackupFile.Error.truncated }
            var key: [UInt8] = []
            for _ in 0..<wrappedLength { key.append(try r.u8()) }
            wrappedDataKey = key
            var nonce: [UInt8] = []
            for _ in 0..<AESGCM.nonceByteCount { nonce.append(try r.u8()) }
            self.nonce = nonce
            let length = try r.u64()
            guard length <= UInt64(BackupFile.snapshotBytesMax) else { throw BackupFile.Error.tooLarge(Int(clamping: length)) }
            let start = 5 + r.offset
            let needed = start + Int(length) + AESGCM.tagByteCount
            guard bytes.count >= needed else { throw BackupFile.Error.truncated }
            guard bytes.count == needed else { throw BackupFile.Error.trailingBytes(bytes.count - needed) }
            ciphertext = Array(bytes[start..<(start + Int(length))])
            tag = Array(bytes[(start + Int(length))...])
        } catch let error as BackupFile.Error {
            throw error
        } catch {
            throw .truncated
        }
    }

    private init(createdAt: Timestamp, appliedIndex: UInt64, wrappedDataKey: [UInt8], nonce: [UInt8],
                 ciphertext: [UInt8], tag: [UInt8]) {
        self.createdAt = createdAt
        self.appliedIndex = appliedIndex
        self.wrappedDataKey = wrappedDataKey
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    static func encodeHeader(createdAt: Timestamp, appliedIndex: UInt64, wrappedDataKey: [UInt8],
                             nonce: [UInt8], ciphertextBytes: Int) -> [UInt8] {
        precondition(wrappedDataKey.count <= 64 && nonce.count == AESGCM.nonceByteCount)
        var w = ByteWriter(capacity: fixedHeaderBytes + wrappedDataKey.count + 20)
        for byte in magic { w.u8(byte) }
        w.u8(formatVersion)
        w.timestamp(createdAt)
        w.u64(appliedIndex)
        w.u8(UInt8(wrappedDataKey.count >> 8))
        w.u8(UInt8(wrappedDataKey.count & 0xFF))
        for byte in wrappedDataKey { w.u8(byte) }
        for byte in nonce { w.u8(byte) }
        w.u64(UInt64(ciphertextBytes))
        return w.bytes
    }
}
