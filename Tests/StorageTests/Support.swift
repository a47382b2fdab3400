import Foundation
import KeyraftNode
import RaftCore
@testable import Storage
import Testing

/// A fresh folder under the system's temporary directory, removed by `remove()`.
struct TemporaryFolder {
    let url: URL
    var path: String { url.path }

    init(_ label: String) {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("keyraft-\(label)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

let threeVoters = Membership(voters: [NodeID(1), NodeID(2), NodeID(3)])

/// Entries `range` of `term`, each carrying a payload derived from its index.
func makeEntries(_ range: ClosedRange<UInt64>, term: UInt64) -> [Entry] {
    range.map { index in
        Entry(term: Term(term), index: LogIndex(index), data: Array("entry \(index) of term \(term)".utf8))
    }
}

/// The message of a `.corrupted` error thrown by `body`, or nil when it throws nothing or something else.
func corruption(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as StorageError {
        if case let .corrupted(message) = error { return message }
        return nil
    } catch {
        return nil
    }
}

/// Opens the raw database at `path` (the store must be closed) and applies `edit` in one synced batch.
func editRaw(_ path: String, _ edit: (ColumnFamilyDatabase, ColumnFamilyBatch) throws -> Void) throws {
    let database = try ColumnFamilyDatabase(path: path)
    defer { database.close() }
    let batch = ColumnFamilyBatch(database)
    try edit(database, batch)
    try database.write(batch, sync: true)
}

/// Flips one bit of the value stored under `key`, `offsetFromEnd` bytes before its end.
func flipStoredByte(_ database: ColumnFamilyDatabase, _ batch: ColumnFamilyBatch, _ family: ColumnFamily,
                    _ key: [UInt8], offsetFromEnd: Int = 1) throws {
    var value = try #require(try database.get(family, key))
    value[value.count - offsetFromEnd] ^= 0x10
    batch.putRaw(family, key, value)
}

/// Everything a store reports, for comparing a store before and after reopening it.
struct StoreSnapshot: Equatable {
    var initial: RaftInitialState
    var first: LogIndex
    var last: LogIndex
    var sentinelTerm: Term
    var entries: [Entry]
    var snapshot: Snapshot

    init(_ storage: RocksDBNodeStorage) throws {
        initial = try storage.initialState()
        first = try storage.firstIndex()
        last = try storage.lastIndex()
        sentinelTerm = try storage.term(at: first - 1)
        entries = last >= first ? try storage.entries(first..<(last + 1), maxBytes: .max) : []
        snapshot = try storage.snapshot()
    }
}
