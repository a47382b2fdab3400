import KeyraftCrypto

/// An encrypted backup of the KMS state (issue 7): a snapshot sealed under a fresh data key,
/// the data key wrapped under a separate backup key. See docs/FORMATS.md.
///
/// ```
/// offset  size  field
///      0     4  magic "KRBK"
///      4     1  format version (2; version 1 lacks the check value)
///      5     8  creation time, ms since the epoch (i64)
///     13     8  applied index the snapshot was taken at (u64)
///     21    32  root key check value: HMAC-SHA256(root key, "keyraft root key check v1")
///     53     2  wrapped data key length w (u16), 40
///     55     w  data key wrapped under the backup key (RFC 5649)
///   55+w    12  AES-GCM nonce
///   67+w     8  ciphertext length n (u64)
///   75+w     n  AES-256-GCM ciphertext of the KMS snapshot
/// 75+w+n    16  tag
/// ```
/// Everything before the ciphertext is AAD, so no header field can be altered. The check
/// value names the root key the snapshot's key material is wrapped under, so a restore can
/// refuse a node holding another root key before it writes anything.
public struct BackupFile: Equatable, Sendable {
    public static let magic: [UInt8] = Array("KRBK".utf8)
    public static let formatVersion: UInt8 = 2
    /// Files of version 1, written before the check value existed, still open; they carry none.
    static let firstFormatVersion: UInt8 = 1
    static let rootKeyCheckBytes = 32
    static let fixedHeaderBytes = 55
    static let snapshotBytesMax = AESGCM.plaintextBytesMax

    public let version: UInt8
    public let createdAt: Timestamp
    public let appliedIndex: UInt64
    /// The check value of the root key wrapping the snapshot's key material (32 bytes);
    /// nil in a version-1 file.
    public let rootKeyCheck: [UInt8]?
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
    /// `rootKeyCheck` is the 32-byte check value of the root key its key material is wrapped under.
    public static func seal(snapshot: [UInt8], appliedIndex: UInt64, createdAt: Timestamp, rootKeyCheck: [UInt8],
                            backupKey: SecretBytes, entropy: some EntropySource) throws(Error) -> BackupFile {
        precondition(rootKeyCheck.count == rootKeyCheckBytes, "a root key check value is 32 bytes")
        return try seal(snapshot: snapshot, appliedIndex: appliedIndex, createdAt: createdAt, version: formatVersion,
                        rootKeyCheck: rootKeyCheck, backupKey: backupKey, entropy: entropy)
    }

    /// Either version; version 1 only for the tests that show such files still open.
    static func seal(snapshot: [UInt8], appliedIndex: UInt64, createdAt: Timestamp, version: UInt8, rootKeyCheck: [UInt8]?,
                     backupKey: SecretBytes, entropy: some EntropySource) throws(Error) -> BackupFile {
        guard snapshot.count <= snapshotBytesMax else { throw .tooLarge(snapshot.count) }
        do {
            let dataKey = try SecretBytes.generate(count: AESGCM.keyByteCount, using: entropy)
            let wrapped = try KeyWrap.wrap(dataKey, under: backupKey)
            let nonce = try entropy.bytes(count: AESGCM.nonceByteCount)
            let header = encodeHeader(version: version, createdAt: createdAt, appliedIndex: appliedIndex,
                                      rootKeyCheck: rootKeyCheck, wrappedDataKey: wrapped, nonce: nonce,
                                      ciphertextBytes: snapshot.count)
            let box = try AESGCM.seal(snapshot, key: dataKey, nonce: nonce, aad: header)
            return BackupFile(version: version, createdAt: createdAt, appliedIndex: appliedIndex,
                              rootKeyCheck: rootKeyCheck, wrappedDataKey: wrapped, nonce: nonce,
                              ciphertext: box.ciphertext, tag: box.tag)
        } catch {
            throw .crypto(error)
        }
    }

    /// The snapshot, if `backupKey` is the right key and nothing was modified.
    public func open(backupKey: SecretBytes) throws(Error) -> [UInt8] {
        let header = BackupFile.encodeHeader(version: version, createdAt: createdAt, appliedIndex: appliedIndex,
                                             rootKeyCheck: rootKeyCheck, wrappedDataKey: wrappedDataKey,
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
        var out = BackupFile.encodeHeader(version: version, createdAt: createdAt, appliedIndex: appliedIndex,
                                          rootKeyCheck: rootKeyCheck, wrappedDataKey: wrappedDataKey,
                                          nonce: nonce, ciphertextBytes: ciphertext.count)
        out.append(contentsOf: ciphertext)
        out.append(contentsOf: tag)
        return out
    }

    /// Parses strictly; authentication happens in `open`.
    public init(decoding bytes: [UInt8]) throws(Error) {
        guard bytes.count >= 5, Array(bytes[0..<4]) == BackupFile.magic else { throw .notABackup }
        guard bytes[4] == BackupFile.formatVersion || bytes[4] == BackupFile.firstFormatVersion else {
            throw .unknownVersion(bytes[4])
        }
        version = bytes[4]
        var r = ByteReader(Array(bytes[5...]))
        do {
            createdAt = try r.timestamp()
            appliedIndex = try r.u64()
            if version == BackupFile.firstFormatVersion {
                rootKeyCheck = nil
            } else {
                var check: [UInt8] = []
                for _ in 0..<BackupFile.rootKeyCheckBytes { check.append(try r.u8()) }
                rootKeyCheck = check
            }
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

    private init(version: UInt8, createdAt: Timestamp, appliedIndex: UInt64, rootKeyCheck: [UInt8]?,
                 wrappedDataKey: [UInt8], nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        self.version = version
        self.createdAt = createdAt
        self.appliedIndex = appliedIndex
        self.rootKeyCheck = rootKeyCheck
        self.wrappedDataKey = wrappedDataKey
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    static func encodeHeader(version: UInt8, createdAt: Timestamp, appliedIndex: UInt64, rootKeyCheck: [UInt8]?,
                             wrappedDataKey: [UInt8], nonce: [UInt8], ciphertextBytes: Int) -> [UInt8] {
        precondition(wrappedDataKey.count <= 64 && nonce.count == AESGCM.nonceByteCount)
        precondition((version == firstFormatVersion) == (rootKeyCheck == nil), "version 2 and only 2 has a check value")
        precondition(rootKeyCheck.map { $0.count == rootKeyCheckBytes } ?? true, "a root key check value is 32 bytes")
        var w = ByteWriter(capacity: fixedHeaderBytes + wrappedDataKey.count + 20)
        for byte in magic { w.u8(byte) }
        w.u8(version)
        w.timestamp(createdAt)
        w.u64(appliedIndex)
        for byte in rootKeyCheck ?? [] { w.u8(byte) }
        w.u8(UInt8(wrappedDataKey.count >> 8))
        w.u8(UInt8(wrappedDataKey.count & 0xFF))
        for byte in wrappedDataKey { w.u8(byte) }
        for byte in nonce { w.u8(byte) }
        w.u64(UInt64(ciphertextBytes))
        return w.bytes
    }
}
