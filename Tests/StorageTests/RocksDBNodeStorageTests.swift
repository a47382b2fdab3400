import Dispatch
import Foundation
import KeyraftNode
import RaftCore
import Testing
@testable import Storage

@Suite("RocksDBNodeStorage")
struct RocksDBNodeStorageTests {
    @Test("CRC-32C matches the standard check value and the record envelope round-trips")
    func checksumAndEnvelope() throws {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == CRC32C.checkValue)
        let key = StorageKey.log(LogIndex(7))
        let sealed = RecordEnvelope.seal([1, 2, 3], family: .raftLog, key: key)
        #expect(try RecordEnvelope.open(sealed, family: .raftLog, key: key) == [1, 2, 3])
        // The same bytes under another key or in another family fail the check.
        #expect(corruption { _ = try RecordEnvelope.open(sealed, family: .raftLog, key: StorageKey.log(LogIndex(8))) }?
            .contains("raft_log[index 8]: checksum mismatch") == true)
        #expect(corruption { _ = try RecordEnvelope.open(sealed, family: .snapshot, key: key) } != nil)
        #expect(corruption { _ = try RecordEnvelope.open([1, 0], family: .raftLog, key: key) }?.contains("shorter") == true)
    }

    @Test("a new store reports the bootstrap state; entries and hard state round-trip and survive a reopen")
    func roundTrip() throws {
        let folder = TemporaryFolder("storage-roundtrip")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters)
        #expect(try storage.initialState() == RaftInitialState(hardState: HardState(), membership: threeVoters))
        #expect(try storage.firstIndex() == LogIndex(1))
        #expect(try storage.lastIndex() == LogIndex.zero)
        #expect(try storage.term(at: .zero) == .zero)
        #expect(try storage.snapshot() == Snapshot(metadata: SnapshotMetadata(membership: threeVoters)))

        var entries = makeEntries(1...5, term: 2)
        entries[1].data = []
        entries[2].kind = .membershipChange
        let hardState = HardState(term: Term(2), vote: NodeID(1), commit: LogIndex(3))
        try storage.persist(hardState: hardState, entries: entries, snapshot: nil, sync: true)
        #expect(try storage.entries(LogIndex(1)..<LogIndex(6), maxBytes: .max) == entries)
        #expect(try storage.entries(LogIndex(2)..<LogIndex(4), maxBytes: .max) == Array(entries[1...2]))
        #expect(try storage.entries(LogIndex(1)..<LogIndex(6), maxBytes: 0) == [entries[0]])
        let twoBytes = entries[0].sizeBytes + entries[1].sizeBytes
        #expect(try storage.entries(LogIndex(1)..<LogIndex(6), maxBytes: twoBytes) == Array(entries[0...1]))
        #expect(try storage.entries(LogIndex(3)..<LogIndex(3), maxBytes: .max) == [])
        for entry in entries { #expect(try storage.term(at: entry.index) == entry.term) }
        #expect(try storage.initialState().hardState == hardState)

        // An unsynced write (a hard state with only a new commit index) still lands.
        let committed = HardState(term: Term(2), vote: NodeID(1), commit: LogIndex(5))
        try storage.persist(hardState: committed, entries: [], snapshot: nil, sync: false)
        let before = try StoreSnapshot(storage)
        storage.close()
        #expect(throws: StorageError.self) { try storage.entries(LogIndex(1)..<LogIndex(2), maxBytes: .max) }

        let reopened = try RocksDBNodeStorage(path: folder.path, bootstrap: Membership(voters: [NodeID(9)]))
        defer { reopened.close() }
        #expect(try StoreSnapshot(reopened) == before)
        #expect(try reopened.initialState().hardState == committed)
        #expect(try reopened.initialState().membership == threeVoters, "bootstrap is ignored by an existing store")
    }

    @Test("reads outside the log throw compacted or unavailable")
    func outOfRange() throws {
        let folder = TemporaryFolder("storage-range")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters)
        defer { storage.close() }
        try storage.persist(hardState: nil, entries: makeEntries(1...10, term: 1), snapshot: nil, sync: true)
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(6), term: Term(1), membership: threeVoters))
        try storage.saveSnapshot(snapshot, compactUpTo: LogIndex(4))
        #expect(throws: StorageError.compacted) { try storage.entries(LogIndex(4)..<LogIndex(6), maxBytes: .max) }
        #expect(throws: StorageError.compacted) { try storage.term(at: LogIndex(3)) }
        #expect(try storage.term(at: LogIndex(4)) == Term(1))
        #expect(throws: StorageError.unavailable) { try storage.entries(LogIndex(8)..<LogIndex(12), maxBytes: .max) }
        #expect(throws: StorageError.unavailable) { try storage.term(at: LogIndex(11)) }
        #expect(try storage.entries(LogIndex(5)..<LogIndex(11), maxBytes: .max) == makeEntries(5...10, term: 1))
    }

    @Test("an append truncates a conflicting suffix, shorter or longer than the old tail")
    func conflictingSuffix() throws {
        let folder = TemporaryFolder("storage-truncate")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters)
        try storage.persist(hardState: nil, entries: makeEntries(1...5, term: 1), snapshot: nil, sync: true)
        try storage.persist(hardState: HardState(term: Term(2)), entries: makeEntries(3...4, term: 2), snapshot: nil, sync: true)
        #expect(try storage.lastIndex() == LogIndex(4))
        #expect(try storage.entries(LogIndex(1)..<LogIndex(5), maxBytes: .max)
            == makeEntries(1...2, term: 1) + makeEntries(3...4, term: 2))
        #expect(throws: StorageError.unavailable) { try storage.term(at: LogIndex(5)) }
        try storage.persist(hardState: HardState(term: Term(3)), entries: makeEntries(4...7, term: 3), snapshot: nil, sync: true)
        let expected = makeEntries(1...2, term: 1) + makeEntries(3...3, term: 2) + makeEntries(4...7, term: 3)
        #expect(try storage.entries(LogIndex(1)..<LogIndex(8), maxBytes: .max) == expected)
        storage.close()

        let reopened = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters)
        defer { reopened.close() }
        #expect(try reopened.lastIndex() == LogIndex(7))
        #expect(try reopened.entries(LogIndex(1)..<LogIndex(8), maxBytes: .max) == expected)
    }

    @Test("installing a snapshot replaces the log; a later, smaller snapshot leaves no stale chunks")
    func snapshotInstall() throws {
        let folder = TemporaryFolder("storage-install")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 64)
        try storage.persist(hardState: HardState(term: Term(1), commit: LogIndex(5)), entries: makeEntries(1...5, term: 1),
                            snapshot: nil, sync: true)
        let twoVoters = Membership(voters: [NodeID(1), NodeID(2)], learners: [NodeID(4)])
        let big = Snapshot(metadata: SnapshotMetadata(index: LogIndex(10), term: Term(3), membership: twoVoters),
                           data: (0..<1_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        try storage.persist(hardState: HardState(term: Term(3), commit: LogIndex(10)), entries: makeEntries(11...12, term: 3),
                            snapshot: big, sync: true)
        #expect(try storage.snapshot() == big)
        #expect(try storage.firstIndex() == LogIndex(11))
        #expect(try storage.lastIndex() == LogIndex(12))
        #expect(try storage.term(at: LogIndex(10)) == Term(3))
        #expect(throws: StorageError.compacted) { try storage.term(at: LogIndex(5)) }
        #expect(throws: StorageError.compacted) { try storage.entries(LogIndex(10)..<LogIndex(12), maxBytes: .max) }
        #expect(try storage.initialState().membership == twoVoters)
        let afterBig = try StoreSnapshot(storage)
        storage.close()

        let reopened = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 64)
        #expect(try StoreSnapshot(reopened) == afterBig)
        let small = Snapshot(metadata: SnapshotMetadata(index: LogIndex(20), term: Term(4), membership: threeVoters),
                             data: Array("small".utf8))
        try reopened.persist(hardState: HardState(term: Term(4), commit: LogIndex(20)), entries: [], snapshot: small, sync: true)
        #expect(try reopened.lastIndex() == LogIndex(20))
        #expect(try reopened.firstIndex() == LogIndex(21))
        reopened.close()

        // Opening verifies the snapshot family holds exactly the new snapshot's chunks.
        let again = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters)
        defer { again.close() }
        #expect(try again.snapshot() == small)
        #expect(try again.entries(LogIndex(21)..<LogIndex(21), maxBytes: .max) == [])
    }

    @Test("compaction happens only behind the snapshot, in the same batch, and survives a reopen")
    func compaction() throws {
        let folder = TemporaryFolder("storage-compact")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 16)
        let log = makeEntries(1...5, term: 1) + makeEntries(6...10, term: 2)
        try storage.persist(hardState: HardState(term: Term(2), commit: LogIndex(10)), entries: log, snapshot: nil, sync: true)
        let first = Snapshot(metadata: SnapshotMetadata(index: LogIndex(8), term: Term(2), membership: threeVoters),
                             data: Array("state at 8, long enough for several chunks".utf8))
        try storage.saveSnapshot(first, compactUpTo: LogIndex(5))
        #expect(try storage.firstIndex() == LogIndex(6))
        #expect(try storage.term(at: LogIndex(5)) == Term(1))
        #expect(try storage.entries(LogIndex(6)..<LogIndex(11), maxBytes: .max) == Array(log[5...]))
        #expect(try storage.snapshot() == first)

        // compactUpTo beyond the snapshot is clamped to it.
        let second = Snapshot(metadata: SnapshotMetadata(index: LogIndex(10), term: Term(2), membership: threeVoters),
                              data: Array("state at 10".utf8))
        try storage.saveSnapshot(second, compactUpTo: LogIndex(50))
        #expect(try storage.firstIndex() == LogIndex(11))
        #expect(try storage.lastIndex() == LogIndex(10))
        #expect(try storage.term(at: LogIndex(10)) == Term(2))
        try storage.persist(hardState: nil, entries: makeEntries(11...12, term: 2), snapshot: nil, sync: true)
        let before = try StoreSnapshot(storage)
        storage.close()

        let reopened = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters)
        defer { reopened.close() }
        #expect(try StoreSnapshot(reopened) == before)
        #expect(try reopened.snapshot() == second)
    }

    @Test("a snapshot staged on another thread while entries are appended commits with its compaction")
    func stagedSnapshot() throws {
        let folder = TemporaryFolder("storage-staged")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 16)
        try storage.persist(hardState: HardState(term: Term(1), commit: LogIndex(20)), entries: makeEntries(1...20, term: 1),
                            snapshot: nil, sync: true)
        let data = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 * 13) }
        let metadata = SnapshotMetadata(index: LogIndex(20), term: Term(1), membership: threeVoters)
        // Staging runs beside appends on this thread, as in the server.
        let staged = UncheckedBox<Result<UInt32, StorageError>?>(nil)
        let stager = UncheckedBox(storage)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            staged.value = Result { () throws(StorageError) in try stager.value.stageSnapshotData(data, index: LogIndex(20)) }
            finished.signal()
        }.start()
        for index: UInt64 in 21...60 {
            try storage.persist(hardState: nil, entries: makeEntries(index...index, term: 1), snapshot: nil, sync: false)
        }
        finished.wait()
        let chunkCount = try #require(try staged.value?.get())
        #expect(chunkCount == UInt32((data.count + 15) / 16))
        #expect(try storage.snapshot().metadata.index == LogIndex(0), "staged chunks are not the snapshot yet")
        #expect(try storage.commitStagedSnapshot(metadata, dataBytes: data.count, chunkCount: chunkCount, compactUpTo: LogIndex(15)))
        #expect(try storage.snapshot() == Snapshot(metadata: metadata, data: data))
        #expect(try storage.firstIndex() == LogIndex(16))
        #expect(try storage.lastIndex() == LogIndex(60))
        let before = try StoreSnapshot(storage)
        storage.close()
        let reopened = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 16)
        defer { reopened.close() }
        #expect(try StoreSnapshot(reopened) == before)
        #expect(try reopened.snapshot() == Snapshot(metadata: metadata, data: data))
    }

    @Test("a staged snapshot that an installed one overtook, or a crash before its commit, leaves nothing behind")
    func stagedSnapshotSupersededOrAbandoned() throws {
        let folder = TemporaryFolder("storage-staged-superseded")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 16)
        try storage.persist(hardState: HardState(term: Term(1), commit: LogIndex(10)), entries: makeEntries(1...10, term: 1),
                            snapshot: nil, sync: true)
        let stale = SnapshotMetadata(index: LogIndex(10), term: Term(1), membership: threeVoters)
        let chunkCount = try storage.stageSnapshotData(Array(repeating: 7, count: 100), index: LogIndex(10))
        let installed = Snapshot(metadata: SnapshotMetadata(index: LogIndex(30), term: Term(2), membership: threeVoters),
                                 data: Array("the leader's state at 30".utf8))
        try storage.persist(hardState: HardState(term: Term(2), commit: LogIndex(30)), entries: [], snapshot: installed, sync: true)
        #expect(try storage.commitStagedSnapshot(stale, dataBytes: 100, chunkCount: chunkCount, compactUpTo: LogIndex(10)) == false)
        #expect(try storage.snapshot() == installed)

        // Staged, never committed (the process died): the next open removes the chunks.
        try storage.persist(hardState: nil, entries: makeEntries(31...40, term: 2), snapshot: nil, sync: true)
        _ = try storage.stageSnapshotData(Array(repeating: 9, count: 200), index: LogIndex(40))
        let before = try StoreSnapshot(storage)
        storage.close()
        let reopened = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 16)
        #expect(try StoreSnapshot(reopened) == before)
        #expect(try reopened.snapshot() == installed)
        #expect(try chunkKeys(reopened).allSatisfy { $0.starts(with: StorageKey.snapshotChunk(index: LogIndex(30), chunk: 0)[0..<8]) })
        reopened.close()
    }

    @Test("chunks staged over a store that never had a snapshot are removed at the next open")
    func stagedOverTheBootstrapSnapshot() throws {
        let folder = TemporaryFolder("storage-staged-first")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 16)
        try storage.persist(hardState: HardState(term: Term(1), commit: LogIndex(10)), entries: makeEntries(1...10, term: 1),
                            snapshot: nil, sync: true)
        _ = try storage.stageSnapshotData(Array(repeating: 5, count: 100), index: LogIndex(10))
        let bootstrap = try storage.snapshot()
        #expect(bootstrap.metadata.index == LogIndex(0))
        storage.close()
        let reopened = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 16)
        defer { reopened.close() }
        #expect(try reopened.snapshot() == bootstrap)
        #expect(try chunkKeys(reopened).allSatisfy { $0.starts(with: StorageKey.snapshotChunk(index: LogIndex(0), chunk: 0)[0..<8]) })
        #expect(try reopened.lastIndex() == LogIndex(10))
    }

    private func chunkKeys(_ storage: RocksDBNodeStorage) throws -> [[UInt8]] {
        var keys: [[UInt8]] = []
        _ = try storage.database.scan(.snapshot, recordsMax: 10_000) { (key, _) throws(StorageError) in keys.append(key) }
        return keys
    }

    @Test("a snapshot whose term disagrees with the log is refused")
    func snapshotTermMismatch() throws {
        let folder = TemporaryFolder("storage-term")
        defer { folder.remove() }
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters)
        defer { storage.close() }
        try storage.persist(hardState: nil, entries: makeEntries(1...3, term: 1), snapshot: nil, sync: true)
        let wrong = Snapshot(metadata: SnapshotMetadata(index: LogIndex(3), term: Term(2), membership: threeVoters))
        #expect(corruption { try storage.saveSnapshot(wrong, compactUpTo: LogIndex(3)) }?.contains("raft_log[index 3]") == true)
        #expect(try storage.firstIndex() == LogIndex(1), "nothing was compacted")
    }
}

@Suite("RocksDBNodeStorage corruption")
struct RocksDBNodeStorageCorruptionTests {
    /// A closed store holding entries 1...6 and a snapshot at 4 in chunks of 8 bytes.
    private func makeStore(_ folder: TemporaryFolder) throws {
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters, snapshotChunkBytes: 8)
        try storage.persist(hardState: HardState(term: Term(1), commit: LogIndex(6)), entries: makeEntries(1...6, term: 1),
                            snapshot: nil, sync: true)
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(4), term: Term(1), membership: threeVoters),
                                data: Array("twenty-four bytes of kms".utf8))
        try storage.saveSnapshot(snapshot, compactUpTo: LogIndex(2))
        storage.close()
    }

    private func openError(_ folder: TemporaryFolder) -> String? {
        corruption { _ = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters) }
    }

    @Test("a flipped byte in a stored log entry stops the open, naming the record")
    func flippedLogEntry() throws {
        let folder = TemporaryFolder("storage-flip")
        defer { folder.remove() }
        try makeStore(folder)
        try editRaw(folder.path) { db, batch in try flipStoredByte(db, batch, .raftLog, StorageKey.log(LogIndex(5))) }
        let message = try #require(openError(folder))
        #expect(message.contains("raft_log[index 5]: checksum mismatch"), "\(message)")
    }

    @Test("a flipped byte read after open throws instead of returning the entry")
    func flippedAfterOpen() throws {
        let folder = TemporaryFolder("storage-flip-read")
        defer { folder.remove() }
        try makeStore(folder)
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: threeVoters)
        defer { storage.close() }
        let batch = ColumnFamilyBatch(storage.database)
        try flipStoredByte(storage.database, batch, .raftLog, StorageKey.log(LogIndex(4)), offsetFromEnd: 3)
        try storage.database.write(batch, sync: true)
        #expect(corruption { _ = try storage.entries(LogIndex(3)..<LogIndex(7), maxBytes: .max) }?
            .contains("raft_log[index 4]: checksum mismatch") == true)
        #expect(corruption { _ = try storage.term(at: LogIndex(4)) }?.contains("raft_log[index 4]") == true)
        #expect(try storage.entries(LogIndex(5)..<LogIndex(7), maxBytes: .max) == makeEntries(5...6, term: 1))
    }

    @Test("a damaged header, a missing entry and a value under the wrong key are each named")
    func structuralDamage() throws {
        let folder = TemporaryFolder("storage-structure")
        defer { folder.remove() }
        try makeStore(folder)
        try editRaw(folder.path) { db, batch in
            var value = try #require(try db.get(.raftLog, StorageKey.log(LogIndex(3))))
            value[0] = 9
            batch.putRaw(.raftLog, StorageKey.log(LogIndex(3)), value)
        }
        #expect(openError(folder)?.contains("raft_log[index 3]: unknown record version 9") == true)

        try makeFreshCopy(folder)
        try editRaw(folder.path) { _, batch in batch.delete(.raftLog, StorageKey.log(LogIndex(5))) }
        #expect(openError(folder)?.contains("raft_log[index 6]: the log has a gap, entry 5 is missing") == true)

        try makeFreshCopy(folder)
        try editRaw(folder.path) { db, batch in
            let moved = try #require(try db.get(.raftLog, StorageKey.log(LogIndex(6))))
            batch.putRaw(.raftLog, StorageKey.log(LogIndex(5)), moved)
        }
        #expect(openError(folder)?.contains("raft_log[index 5]: checksum mismatch") == true)
    }

    @Test("damaged metadata and snapshot chunks are named")
    func metadataAndSnapshot() throws {
        let folder = TemporaryFolder("storage-meta")
        defer { folder.remove() }
        try makeStore(folder)
        try editRaw(folder.path) { db, batch in try flipStoredByte(db, batch, .raftMeta, StorageKey.hardState) }
        #expect(openError(folder)?.contains("raft_meta[hard_state]") == true)

        try makeFreshCopy(folder)
        try editRaw(folder.path) { db, batch in try flipStoredByte(db, batch, .raftMeta, StorageKey.snapshotMetadata) }
        #expect(openError(folder)?.contains("raft_meta[snapshot_meta]") == true)

        try makeFreshCopy(folder)
        let chunk = StorageKey.snapshotChunk(index: LogIndex(4), chunk: 1)
        try editRaw(folder.path) { db, batch in try flipStoredByte(db, batch, .snapshot, chunk) }
        #expect(openError(folder)?.contains("snapshot[index 4 chunk 1]: checksum mismatch") == true)

        try makeFreshCopy(folder)
        try editRaw(folder.path) { _, batch in batch.delete(.raftMeta, StorageKey.format) }
        #expect(openError(folder)?.contains("raft_meta[format]: missing") == true)
    }

    private func makeFreshCopy(_ folder: TemporaryFolder) throws {
        folder.remove()
        try makeStore(folder)
    }
}

/// Hands a value to another thread in a test that orders the accesses itself.
final class UncheckedBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
