import RaftCore

/// The column families of a node's database. Their order is the order they are opened in.
enum ColumnFamily: Int, CaseIterable, Sendable {
    /// Raft log entries under big-endian u64 index keys.
    case raftLog = 0
    /// Hard state, snapshot metadata, the compaction sentinel and the format version.
    case raftMeta = 1
    /// Snapshot data in chunks under (snapshot index, chunk number) keys.
    case snapshot = 2

    /// The column family's name in RocksDB.
    var name: String {
        switch self {
        case .raftLog: "raft_log"
        case .raftMeta: "raft_meta"
        case .snapshot: "snapshot"
        }
    }

    /// Mixed into every record's checksum, so a record copied into another family fails it.
    var tag: UInt8 { UInt8(rawValue + 1) }
}

/// Keys of the node's records, and how each is named in error messages.
enum StorageKey {
    static let format: [UInt8] = Array("format".utf8)
    static let hardState: [UInt8] = Array("hard_state".utf8)
    static let snapshotMetadata: [UInt8] = Array("snapshot_meta".utf8)
    static let logSentinel: [UInt8] = Array("log_sentinel".utf8)

    /// The raft_log key of `index`: 8 bytes, big-endian, so RocksDB's order is index order.
    static func log(_ index: LogIndex) -> [UInt8] { bigEndian(index.rawValue) }

    /// The snapshot key of one chunk: snapshot index (u64) then chunk number (u32), big-endian.
    static func snapshotChunk(index: LogIndex, chunk: UInt32) -> [UInt8] {
        bigEndian(index.rawValue) + bigEndian(chunk)
    }

    /// The index a raft_log key names, or nil when the key is not 8 bytes.
    static func logIndex(_ key: [UInt8]) -> LogIndex? {
        guard key.count == 8 else { return nil }
        return LogIndex(readBigEndian(key[0..<8]))
    }

    /// How `key` of `family` appears in error messages, e.g. `raft_log[index 5]`.
    static func describe(_ family: ColumnFamily, _ key: [UInt8]) -> String {
        switch family {
        case .raftLog:
            if let index = logIndex(key) { return "raft_log[index \(index)]" }
        case .raftMeta:
            if key.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return "raft_meta[\(String(decoding: key, as: UTF8.self))]" }
        case .snapshot:
            if key.count == 12 {
                return "snapshot[index \(readBigEndian(key[0..<8])) chunk \(readBigEndian(key[8..<12]))]"
            }
        }
        return "\(family.name)[0x\(key.map { String($0, radix: 16) }.joined())]"
    }
}

/// Big-endian fixed-width integers.
func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<T.bitWidth / 8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
}

/// Reads a big-endian unsigned integer of at most 8 bytes.
func readBigEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    precondition(bytes.count <= 8, "at most 8 bytes")
    return bytes.reduce(0) { $0 << 8 | UInt64($1) }
}

/// Every stored value: `version (1 byte) | CRC-32C (4 bytes, big-endian) | payload`.
///
/// The checksum covers the version, the column family's tag, the key and the payload, so a
/// flipped bit, a torn value and a value stored under the wrong key all fail it.
/// `open` is the only way back to a payload: nothing is read without the check.
enum RecordEnvelope {
    static let version: UInt8 = 1
    static let headerBytes = 5

    /// Wraps `payload` for storage under `key` of `family`.
    static func seal(_ payload: [UInt8], family: ColumnFamily, key: [UInt8]) -> [UInt8] {
        let crc = checksum(family: family, key: key, payload: payload[...])
        var sealed: [UInt8] = [version]
        sealed.reserveCapacity(headerBytes + payload.count)
        sealed += bigEndian(crc)
        sealed += payload
        assert(sealed.count == headerBytes + payload.count)
        return sealed
    }

    /// The payload of a stored value, or `.corrupted` naming the record.
    static func open(_ stored: [UInt8], family: ColumnFamily, key: [UInt8]) throws(StorageError) -> [UInt8] {
        let name = StorageKey.describe(family, key)
        guard stored.count >= headerBytes else {
            throw .corrupted("\(name): \(stored.count) bytes, shorter than the \(headerBytes)-byte record header")
        }
        guard stored[0] == version else { throw .corrupted("\(name): unknown record version \(stored[0])") }
        let recorded = UInt32(readBigEndian(stored[1..<5]))
        let payload = stored[headerBytes...]
        let computed = checksum(family: family, key: key, payload: payload)
        guard recorded == computed else {
            throw .corrupted("\(name): checksum mismatch (stored \(hex(recorded)), computed \(hex(computed)))")
        }
        return Array(payload)
    }

    private static func checksum(family: ColumnFamily, key: [UInt8], payload: ArraySlice<UInt8>) -> UInt32 {
        var crc = CRC32C.Running()
        crc.update([version, family.tag])
        crc.update(bigEndian(UInt32(key.count)))
        crc.update(key)
        crc.update(payload)
        return crc.value
    }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
