import KeyraftNode
import RaftCore

/// The node's durable Raft state in one RocksDB database: log, hard state and snapshot.
///
/// Layout (docs: ARCHITECTURE.md, "Storage"):
/// - `raft_log`: one record per entry under its big-endian u64 index.
/// - `raft_meta`: `format`, `hard_state`, `snapshot_meta` (metadata with membership, data
///   size and chunk count) and `log_sentinel` (index and term of the last compacted entry).
/// - `snapshot`: the latest snapshot's data in chunks under (snapshot index, chunk number).
///
/// Every value is sealed in a `RecordEnvelope` whose CRC-32C covers the family, the key and
/// the payload, and is checked on every read; a mismatch throws `.corrupted` naming the
/// record, so the node halts instead of using wrong data. Each `persist` is one write
/// batch (synced when asked), so a Ready lands whole or not at all; `saveSnapshot` writes
/// the snapshot and the compaction it allows in one synced batch.
///
/// Opening verifies the whole store (every checksum, the log's contiguity, how the snapshot,
/// the sentinel and the hard state relate) and keeps the log's bounds in memory.
/// Single-threaded, like the node driver that owns it, except `stageSnapshotData`, which may
/// run on another thread (it touches only RocksDB, which orders concurrent writes).
public final class RocksDBNodeStorage: NodeStorage {
    /// Default size of one snapshot chunk record.
    public static let snapshotChunkBytesDefault = 1 << 20
    /// Upper bound on log entries the store holds (and the open-time scan visits).
    public static let logEntriesMax = 1 << 24
    static let formatVersion: UInt8 = 1

    /// The folder holding the database.
    public let path: String
    let snapshotChunkBytes: Int
    let database: ColumnFamilyDatabase
    /// What the durable store holds, mirrored in memory; replaced only after a write succeeds.
    private(set) var state: StoreState

    /// Opens the store at `path`, creating it if missing. A new store starts from the empty
    /// snapshot with `bootstrap` as its membership; an existing one ignores `bootstrap`.
    /// Throws `.corrupted` naming the first bad record, `.ioFailure` when RocksDB fails.
    public init(path: String, bootstrap: Membership,
                snapshotChunkBytes: Int = RocksDBNodeStorage.snapshotChunkBytesDefault) throws(StorageError) {
        precondition(snapshotChunkBytes > 0, "snapshot chunks need at least one byte")
        let database = try ColumnFamilyDatabase(path: path)
        if try database.get(.raftMeta, StorageKey.format) == nil {
            try Self.bootstrap(database, membership: bootstrap)
        }
        self.path = path
        self.snapshotChunkBytes = snapshotChunkBytes
        self.database = database
        let (loaded, hasStagedChunks) = try StoreLoader(database: database).load()
        state = loaded
        state.checkInvariants()
        if hasStagedChunks {
            let batch = ColumnFamilyBatch(database)
            Self.stageDeletingChunks(except: state.snapshot.index, batch: batch)
            try database.write(batch, sync: true)
        }
    }

    /// Closes the database. Every later call throws `.ioFailure`. Idempotent.
    public func close() { database.close() }

    // MARK: RaftLogStorage

    /// The durable hard state and the membership of the latest snapshot (the node replays
    /// the log after it).
    public func initialState() throws(StorageError) -> RaftInitialState {
        let hardState = try readHardState()
        assert(hardState == state.hardState, "hard state on disk matches memory")
        let metadata = try readSnapshotRecord().metadata
        return RaftInitialState(hardState: hardState, membership: metadata.membership)
    }

    /// Entries in `range`, at least one, then as many as fit in `maxBytes`.
    /// Throws `.compacted` before `firstIndex()` and `.unavailable` beyond `lastIndex()`.
    public func entries(_ range: Range<LogIndex>, maxBytes: Int) throws(StorageError) -> [Entry] {
        if range.lowerBound <= state.sentinel.index { throw .compacted }
        if range.upperBound > state.lastIndex + 1 { throw .unavailable }
        var result: [Entry] = []
        var totalBytes = 0
        var index = range.lowerBound
        while index < range.upperBound {
            let entry = try readEntry(index)
            totalBytes += entry.sizeBytes
            if !result.isEmpty, totalBytes > maxBytes { break }
            result.append(entry)
            index = index + 1
        }
        assert(result.isEmpty == range.isEmpty, "a non-empty range returns at least one entry")
        return result
    }

    /// Term of the entry at `index`, the compaction sentinel's included.
    public func term(at index: LogIndex) throws(StorageError) -> Term {
        if index < state.sentinel.index { throw .compacted }
        if index > state.lastIndex { throw .unavailable }
        if index == state.sentinel.index { return state.sentinel.term }
        return try readEntry(index).term
    }

    /// The compaction sentinel's index + 1.
    public func firstIndex() throws(StorageError) -> LogIndex { state.sentinel.index + 1 }

    /// The last entry's index (the sentinel's when no entries follow it).
    public func lastIndex() throws(StorageError) -> LogIndex { state.lastIndex }

    /// The latest snapshot, read back and checked chunk by chunk.
    public func snapshot() throws(StorageError) -> Snapshot {
        let record = try readSnapshotRecord()
        assert(record.metadata == state.snapshot, "snapshot metadata on disk matches memory")
        let data = try readSnapshotData(record)
        return Snapshot(metadata: record.metadata, data: data)
    }

    // MARK: NodeStorage

    /// Writes one Ready: an installed snapshot (replacing the log), appended entries
    /// (truncating a conflicting suffix) and the hard state, in one batch, synced when `sync`.
    public func persist(hardState: HardState?, entries: [Entry], snapshot: Snapshot?, sync: Bool) throws(StorageError) {
        guard hardState != nil || !entries.isEmpty || snapshot != nil else { return }
        let batch = ColumnFamilyBatch(database)
        var next = state
        if let snapshot { stageInstall(snapshot, batch: batch, next: &next) }
        if !entries.isEmpty { try stageAppend(entries, batch: batch, next: &next) }
        if let hardState {
            precondition(hardState.term >= next.hardState.term, "hard state term went backwards")
            batch.put(.raftMeta, StorageKey.hardState, sealing: RaftCodec.encode(hardState))
            next.hardState = hardState
        }
        next.checkInvariants()
        try database.write(batch, sync: sync)
        state = next
    }

    /// Records a snapshot of the node's applied state and drops the entries up to
    /// `min(compactUpTo, snapshot index)`, in one synced batch: the log is never shorter
    /// than what a durable snapshot covers.
    public func saveSnapshot(_ snapshot: Snapshot, compactUpTo: LogIndex) throws(StorageError) {
        let metadata = snapshot.metadata
        precondition(metadata.index <= state.lastIndex, "snapshot beyond the log")
        precondition(metadata.index >= state.snapshot.index, "snapshot went backwards")
        try checkTerm(of: metadata)
        let batch = ColumnFamilyBatch(database)
        var next = state
        stageSnapshot(snapshot, batch: batch)
        next.snapshot = metadata
        try stageCompaction(upTo: min(compactUpTo, metadata.index), batch: batch, next: &next)
        next.checkInvariants()
        try database.write(batch, sync: true)
        state = next
    }

    // MARK: Snapshots written in the background

    /// Writes `data` as the chunks of a snapshot at `index`, beside the committed snapshot,
    /// synced. It reads and changes none of the store's in-memory state, so it may run on
    /// another thread while the node keeps persisting (RocksDB orders the writes); the store
    /// must stay open until it returns. The chunks count for nothing until
    /// `commitStagedSnapshot`; a crash before that leaves them for the next open to remove.
    /// Returns the chunk count.
    static let stagedChunksPerBatch = 4

    public func stageSnapshotData(_ data: [UInt8], index: LogIndex) throws(StorageError) -> UInt32 {
        precondition(data.count <= RaftCodec.maxSnapshotDataBytes, "snapshot data beyond the codec's bound")
        let chunkCount = (data.count + snapshotChunkBytes - 1) / snapshotChunkBytes
        // Small batches (a few MiB): the node's own writes queue behind each one in RocksDB's
        // write group, and a batch beyond the memtable size would force flushes. The last
        // one is synced, which syncs the write-ahead log with every earlier batch in it. An
        // empty snapshot has one chunk-less batch.
        var chunk = 0
        repeat {
            let batch = ColumnFamilyBatch(database)
            let end = min(chunk + Self.stagedChunksPerBatch, chunkCount)
            for current in chunk..<end {
                let start = current * snapshotChunkBytes
                let stop = min(start + snapshotChunkBytes, data.count)
                batch.put(.snapshot, StorageKey.snapshotChunk(index: index, chunk: UInt32(current)),
                          sealing: Array(data[start..<stop]))
            }
            try database.write(batch, sync: end == chunkCount)
            chunk = end
        } while chunk < chunkCount
        return UInt32(chunkCount)
    }

    /// Makes the chunks staged at `metadata.index` the snapshot and drops the entries up to
    /// `min(compactUpTo, snapshot index)`, in one synced batch, like `saveSnapshot`. When an
    /// installed or newer snapshot took its place meanwhile, it only deletes the staged
    /// chunks and returns false.
    public func commitStagedSnapshot(_ metadata: SnapshotMetadata, dataBytes: Int, chunkCount: UInt32,
                                     compactUpTo: LogIndex) throws(StorageError) -> Bool {
        let batch = ColumnFamilyBatch(database)
        guard metadata.index > state.snapshot.index else {
            if metadata.index != state.snapshot.index {
                batch.deleteRange(.snapshot, from: StorageKey.snapshotChunk(index: metadata.index, chunk: 0),
                                  to: StorageKey.snapshotChunk(index: metadata.index + 1, chunk: 0))
                try database.write(batch, sync: false)
            }
            return false
        }
        precondition(metadata.index <= state.lastIndex, "snapshot beyond the log")
        try checkTerm(of: metadata)
        var next = state
        Self.stageDeletingChunks(except: metadata.index, batch: batch)
        batch.deleteRange(.snapshot, from: StorageKey.snapshotChunk(index: metadata.index, chunk: chunkCount),
                          to: StorageKey.snapshotChunk(index: metadata.index + 1, chunk: 0))
        let record = SnapshotRecord(metadata: metadata, dataBytes: UInt64(dataBytes), chunkCount: chunkCount)
        batch.put(.raftMeta, StorageKey.snapshotMetadata, sealing: record.encoded)
        next.snapshot = metadata
        try stageCompaction(upTo: min(compactUpTo, metadata.index), batch: batch, next: &next)
        next.checkInvariants()
        try database.write(batch, sync: true)
        state = next
        return true
    }

    /// Deletes every snapshot chunk except those of the snapshot at `index`.
    private static func stageDeletingChunks(except index: LogIndex, batch: ColumnFamilyBatch) {
        if index > .zero {  // a range needs its start before its end
            batch.deleteRange(.snapshot, from: StorageKey.snapshotChunk(index: .zero, chunk: 0),
                              to: StorageKey.snapshotChunk(index: index, chunk: 0))
        }
        batch.deleteRange(.snapshot, from: StorageKey.snapshotChunk(index: index + 1, chunk: 0),
                          to: StorageKey.snapshotChunk(index: LogIndex(UInt64.max), chunk: UInt32.max))
    }

    /// The log's entry at the snapshot's index has the snapshot's term.
    private func checkTerm(of metadata: SnapshotMetadata) throws(StorageError) {
        let storedTerm = try term(at: metadata.index)
        guard storedTerm == metadata.term else {
            throw .corrupted("raft_log[index \(metadata.index)] has term \(storedTerm), the snapshot says \(metadata.term)")
        }
    }

    /// Drops the entries up to `compactTo` (moving the sentinel) when it is beyond the sentinel.
    private func stageCompaction(upTo compactTo: LogIndex, batch: ColumnFamilyBatch,
                                 next: inout StoreState) throws(StorageError) {
        guard compactTo > next.sentinel.index else { return }
        let sentinel = LogPosition(index: compactTo, term: try term(at: compactTo))
        batch.deleteRange(.raftLog, from: StorageKey.log(next.sentinel.index + 1), to: StorageKey.log(compactTo + 1))
        batch.put(.raftMeta, StorageKey.logSentinel, sealing: sentinel.encoded)
        next.sentinel = sentinel
    }

    // MARK: Staging writes

    /// Replaces the log with the snapshot's position: every entry goes, the sentinel moves.
    private func stageInstall(_ snapshot: Snapshot, batch: ColumnFamilyBatch, next: inout StoreState) {
        let metadata = snapshot.metadata
        precondition(metadata.index >= next.snapshot.index, "snapshot out of date")
        stageSnapshot(snapshot, batch: batch)
        batch.deleteRange(.raftLog, from: StorageKey.log(.zero), to: StorageKey.log(LogIndex(UInt64.max)))
        let sentinel = LogPosition(index: metadata.index, term: metadata.term)
        batch.put(.raftMeta, StorageKey.logSentinel, sealing: sentinel.encoded)
        next.snapshot = metadata
        next.sentinel = sentinel
        next.lastIndex = metadata.index
    }

    /// Writes the snapshot's metadata and data chunks, dropping the previous snapshot's chunks.
    private func stageSnapshot(_ snapshot: Snapshot, batch: ColumnFamilyBatch) {
        precondition(snapshot.data.count <= RaftCodec.maxSnapshotDataBytes, "snapshot data beyond the codec's bound")
        let index = snapshot.metadata.index
        let chunkCount = (snapshot.data.count + snapshotChunkBytes - 1) / snapshotChunkBytes
        batch.deleteRange(.snapshot, from: StorageKey.snapshotChunk(index: .zero, chunk: 0),
                          to: StorageKey.snapshotChunk(index: LogIndex(UInt64.max), chunk: UInt32.max))
        for chunk in 0..<chunkCount {
            let start = chunk * snapshotChunkBytes
            let end = min(start + snapshotChunkBytes, snapshot.data.count)
            batch.put(.snapshot, StorageKey.snapshotChunk(index: index, chunk: UInt32(chunk)),
                      sealing: Array(snapshot.data[start..<end]))
        }
        let record = SnapshotRecord(metadata: snapshot.metadata, dataBytes: UInt64(snapshot.data.count),
                                    chunkCount: UInt32(chunkCount))
        batch.put(.raftMeta, StorageKey.snapshotMetadata, sealing: record.encoded)
    }

    /// Appends contiguous entries, overwriting from the first one and deleting any old tail beyond the last.
    /// Throws `.ioFailure` (nothing written) when the log would outgrow `logEntriesMax`.
    private func stageAppend(_ entries: [Entry], batch: ColumnFamilyBatch, next: inout StoreState) throws(StorageError) {
        let first = entries[0].index
        precondition(first <= next.lastIndex + 1, "gap in appended entries")
        precondition(first > next.sentinel.index, "append before the snapshot")
        let newLast = entries[entries.count - 1].index
        precondition(newLast.rawValue - first.rawValue == UInt64(entries.count - 1), "appended entries not contiguous")
        var previousTerm = Term.zero
        for (offset, entry) in entries.enumerated() {
            precondition(entry.index == first + UInt64(offset), "appended entries not contiguous")
            precondition(entry.term >= previousTerm, "entry terms go backwards")
            previousTerm = entry.term
            batch.put(.raftLog, StorageKey.log(entry.index), sealing: RaftCodec.encode(entry))
        }
        if newLast < next.lastIndex {
            // A conflicting suffix longer than the new entries: its tail goes too.
            batch.deleteRange(.raftLog, from: StorageKey.log(newLast + 1), to: StorageKey.log(next.lastIndex + 1))
        }
        guard newLast.rawValue - next.sentinel.index.rawValue <= UInt64(Self.logEntriesMax) else {
            throw .ioFailure("raft_log: appending up to \(newLast) would hold more than \(Self.logEntriesMax) entries")
        }
        next.lastIndex = newLast
    }

    // MARK: Reading records

    private func readEntry(_ index: LogIndex) throws(StorageError) -> Entry {
        let key = StorageKey.log(index)
        let payload = try readRecord(.raftLog, key)
        return try StoreLoader.decodeEntry(payload, key: key)
    }

    private func readHardState() throws(StorageError) -> HardState {
        try StoreLoader.decodeHardState(try readRecord(.raftMeta, StorageKey.hardState))
    }

    private func readSnapshotRecord() throws(StorageError) -> SnapshotRecord {
        try SnapshotRecord(decoding: try readRecord(.raftMeta, StorageKey.snapshotMetadata))
    }

    private func readSnapshotData(_ record: SnapshotRecord) throws(StorageError) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(Int(record.dataBytes))
        for chunk in 0..<record.chunkCount {
            data += try readRecord(.snapshot, StorageKey.snapshotChunk(index: record.metadata.index, chunk: chunk))
            guard data.count <= Int(record.dataBytes) else {
                throw .corrupted("snapshot[index \(record.metadata.index)]: chunks exceed the \(record.dataBytes) bytes recorded")
            }
        }
        guard data.count == Int(record.dataBytes) else {
            throw .corrupted("snapshot[index \(record.metadata.index)]: \(data.count) bytes, \(record.dataBytes) recorded")
        }
        return data
    }

    /// The verified payload stored under `key`; a missing record is corruption (the
    /// in-memory bounds say it exists).
    private func readRecord(_ family: ColumnFamily, _ key: [UInt8]) throws(StorageError) -> [UInt8] {
        guard let stored = try database.get(family, key) else {
            throw .corrupted("\(StorageKey.describe(family, key)): missing")
        }
        return try RecordEnvelope.open(stored, family: family, key: key)
    }

    // MARK: Creating a store

    private static func bootstrap(_ database: ColumnFamilyDatabase, membership: Membership) throws(StorageError) {
        for family in ColumnFamily.allCases {
            guard try database.isEmpty(family) else {
                throw .corrupted("raft_meta[format]: missing, but \(family.name) holds records")
            }
        }
        let batch = ColumnFamilyBatch(database)
        batch.put(.raftMeta, StorageKey.format, sealing: [formatVersion])
        batch.put(.raftMeta, StorageKey.hardState, sealing: RaftCodec.encode(HardState()))
        let record = SnapshotRecord(metadata: SnapshotMetadata(membership: membership), dataBytes: 0, chunkCount: 0)
        batch.put(.raftMeta, StorageKey.snapshotMetadata, sealing: record.encoded)
        batch.put(.raftMeta, StorageKey.logSentinel, sealing: LogPosition(index: .zero, term: .zero).encoded)
        try database.write(batch, sync: true)
    }
}

/// An (index, term) pair: the compaction sentinel.
struct LogPosition: Equatable {
    var index: LogIndex
    var term: Term

    static let encodedBytes = 16

    var encoded: [UInt8] { bigEndian(index.rawValue) + bigEndian(term.rawValue) }

    init(index: LogIndex, term: Term) {
        self.index = index
        self.term = term
    }

    init(decoding payload: [UInt8]) throws(StorageError) {
        guard payload.count == Self.encodedBytes else {
            throw .corrupted("raft_meta[log_sentinel]: \(payload.count) bytes, expected \(Self.encodedBytes)")
        }
        index = LogIndex(readBigEndian(payload[0..<8]))
        term = Term(readBigEndian(payload[8..<16]))
    }
}

/// The `snapshot_meta` record: data size (u64), chunk count (u32), then the codec's metadata.
struct SnapshotRecord: Equatable {
    var metadata: SnapshotMetadata
    var dataBytes: UInt64
    var chunkCount: UInt32

    var encoded: [UInt8] { bigEndian(dataBytes) + bigEndian(chunkCount) + RaftCodec.encode(metadata) }

    init(metadata: SnapshotMetadata, dataBytes: UInt64, chunkCount: UInt32) {
        self.metadata = metadata
        self.dataBytes = dataBytes
        self.chunkCount = chunkCount
    }

    init(decoding payload: [UInt8]) throws(StorageError) {
        guard payload.count > 12 else { throw .corrupted("raft_meta[snapshot_meta]: \(payload.count) bytes, too short") }
        dataBytes = readBigEndian(payload[0..<8])
        chunkCount = UInt32(readBigEndian(payload[8..<12]))
        do { metadata = try RaftCodec.decodeSnapshotMetadata(Array(payload[12...])) } catch {
            throw .corrupted("raft_meta[snapshot_meta]: does not decode: \(error)")
        }
        guard dataBytes <= UInt64(RaftCodec.maxSnapshotDataBytes), (dataBytes == 0) == (chunkCount == 0),
              UInt64(chunkCount) <= dataBytes
        else { throw .corrupted("raft_meta[snapshot_meta]: \(dataBytes) bytes in \(chunkCount) chunks is impossible") }
    }
}

/// The store's state, mirrored in memory.
struct StoreState: Equatable {
    var hardState: HardState
    var snapshot: SnapshotMetadata
    /// Index and term of the last compacted entry (zero for a log never compacted).
    var sentinel: LogPosition
    var lastIndex: LogIndex

    /// Invariant: the sentinel lies at or behind the snapshot, which lies within the log;
    /// a sentinel at the snapshot carries its term; the commit index lies within the log.
    func checkInvariants() {
        precondition(sentinel.index <= snapshot.index, "compacted beyond the snapshot")
        precondition(snapshot.index <= lastIndex, "snapshot beyond the log")
        precondition(sentinel.index < snapshot.index || sentinel.term == snapshot.term, "sentinel term differs from the snapshot's")
        precondition(hardState.commit <= lastIndex, "commit index beyond the log")
    }

    /// The first way `self` breaks the invariants, for a store read from disk.
    var violation: String? {
        if sentinel.index > snapshot.index {
            return "raft_meta[log_sentinel]: index \(sentinel.index) beyond the snapshot's \(snapshot.index)"
        }
        if snapshot.index > lastIndex {
            return "raft_meta[snapshot_meta]: index \(snapshot.index) beyond the last log index \(lastIndex)"
        }
        if sentinel.index == snapshot.index, sentinel.term != snapshot.term {
            return "raft_meta[log_sentinel]: term \(sentinel.term) differs from the snapshot's \(snapshot.term)"
        }
        if hardState.commit > lastIndex {
            return "raft_meta[hard_state]: commit \(hardState.commit) beyond the last log index \(lastIndex)"
        }
        return nil
    }
}
