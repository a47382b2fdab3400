import KeyraftNode
import RaftCore

/// Reads and verifies a whole store at open: every record's checksum, the log's contiguity
/// and term order, and how the snapshot, the sentinel and the hard state relate.
struct StoreLoader {
    let database: ColumnFamilyDatabase

    /// The store's state, and whether staged snapshot chunks were left behind.
    func load() throws(StorageError) -> (StoreState, hasStagedChunks: Bool) {
        let format = try record(.raftMeta, StorageKey.format)
        guard format == [RocksDBNodeStorage.formatVersion] else {
            throw .corrupted("raft_meta[format]: unsupported format \(format)")
        }
        let hardState = try Self.decodeHardState(try record(.raftMeta, StorageKey.hardState))
        let snapshot = try SnapshotRecord(decoding: try record(.raftMeta, StorageKey.snapshotMetadata))
        let sentinel = try LogPosition(decoding: try record(.raftMeta, StorageKey.logSentinel))
        let hasStagedChunks = try verifySnapshotChunks(snapshot)
        let (lastIndex, snapshotEntryTerm) = try scanLog(after: sentinel, snapshotIndex: snapshot.metadata.index)
        let state = StoreState(hardState: hardState, snapshot: snapshot.metadata, sentinel: sentinel, lastIndex: lastIndex)
        if let violation = state.violation { throw .corrupted(violation) }
        if let snapshotEntryTerm, snapshotEntryTerm != snapshot.metadata.term {
            throw .corrupted("raft_log[index \(snapshot.metadata.index)]: term \(snapshotEntryTerm), the snapshot says \(snapshot.metadata.term)")
        }
        return (state, hasStagedChunks)
    }

    /// Visits the log once. Returns the last index and the term of the entry at
    /// `snapshotIndex` when the log still holds it.
    private func scanLog(after sentinel: LogPosition, snapshotIndex: LogIndex) throws(StorageError)
        -> (lastIndex: LogIndex, snapshotEntryTerm: Term?) {
        var expected = sentinel.index + 1
        var previousTerm = sentinel.term
        var snapshotEntryTerm: Term?
        try database.scan(.raftLog, recordsMax: RocksDBNodeStorage.logEntriesMax) { (key, value) throws(StorageError) in
            let name = StorageKey.describe(.raftLog, key)
            guard let index = StorageKey.logIndex(key) else { throw .corrupted("\(name): not an 8-byte index key") }
            guard index == expected else {
                throw .corrupted(index < expected
                    ? "\(name): an entry at or behind the compaction sentinel \(sentinel.index)"
                    : "\(name): the log has a gap, entry \(expected) is missing")
            }
            let entry = try Self.decodeEntry(try RecordEnvelope.open(value, family: .raftLog, key: key), key: key)
            guard entry.term >= previousTerm else {
                throw .corrupted("\(name): term \(entry.term) after term \(previousTerm)")
            }
            if index == snapshotIndex { snapshotEntryTerm = entry.term }
            previousTerm = entry.term
            expected = expected + 1
        }
        return (expected - 1, snapshotEntryTerm)
    }

    /// Chunks the loader tolerates besides the snapshot's own: leftovers of background
    /// snapshots staged but never committed (`stageSnapshotData`), which opening removes.
    static let stagedChunksMax = 1 << 20

    /// Every chunk of the snapshot is present, intact and in order. Chunks under other
    /// snapshot indexes can only be staged leftovers (a crash between `stageSnapshotData`
    /// and `commitStagedSnapshot`): counted, not read. Returns whether there are any.
    private func verifySnapshotChunks(_ record: SnapshotRecord) throws(StorageError) -> Bool {
        var chunk: UInt32 = 0
        var bytes: UInt64 = 0
        var staged = 0
        let chunksMax = Int(record.chunkCount) + Self.stagedChunksMax
        let prefix = Array(StorageKey.snapshotChunk(index: record.metadata.index, chunk: 0)[0..<8])
        try database.scan(.snapshot, recordsMax: chunksMax) { (key, value) throws(StorageError) in
            guard key.count == 12, Array(key[0..<8]) == prefix else {
                staged += 1
                return
            }
            let expectedKey = StorageKey.snapshotChunk(index: record.metadata.index, chunk: chunk)
            guard key == expectedKey else {
                throw .corrupted("\(StorageKey.describe(.snapshot, key)): unexpected, \(StorageKey.describe(.snapshot, expectedKey)) was due")
            }
            bytes += UInt64(try RecordEnvelope.open(value, family: .snapshot, key: key).count)
            chunk += 1
        }
        guard chunk == record.chunkCount, bytes == record.dataBytes else {
            throw .corrupted("snapshot[index \(record.metadata.index)]: \(chunk) chunks of \(bytes) bytes, " +
                             "\(record.chunkCount) chunks of \(record.dataBytes) bytes recorded")
        }
        return staged > 0
    }

    private func record(_ family: ColumnFamily, _ key: [UInt8]) throws(StorageError) -> [UInt8] {
        guard let stored = try database.get(family, key) else {
            throw .corrupted("\(StorageKey.describe(family, key)): missing")
        }
        return try RecordEnvelope.open(stored, family: family, key: key)
    }

    static func decodeEntry(_ payload: [UInt8], key: [UInt8]) throws(StorageError) -> Entry {
        let name = StorageKey.describe(.raftLog, key)
        let entry: Entry
        do { entry = try RaftCodec.decodeEntry(payload) } catch { throw .corrupted("\(name): does not decode: \(error)") }
        guard StorageKey.log(entry.index) == key else {
            throw .corrupted("\(name): holds the entry of index \(entry.index)")
        }
        return entry
    }

    static func decodeHardState(_ payload: [UInt8]) throws(StorageError) -> HardState {
        do { return try RaftCodec.decodeHardState(payload) } catch {
            throw .corrupted("raft_meta[hard_state]: does not decode: \(error)")
        }
    }
}
