import Foundation
import Testing
import Storage

@Suite("RocksDB")
struct RocksDBTests {
    @Test("opens, writes a synced batch, reads it back, closes, and reopens with the data intact")
    func syncedBatchRoundTrip() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("keyraft-rocksdb-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: folder) }

        do {
            let db = try RocksDB(path: folder.path)
            let batch = WriteBatch()
            for i in 0..<100 {
                batch.put(Array("key-\(i)".utf8), Array("value-\(i)".utf8))
            }
            batch.delete(Array("key-7".utf8))
            #expect(batch.count == 101)
            try db.writeSynced(batch)
            #expect(try db.get(Array("key-42".utf8)) == Array("value-42".utf8))
            #expect(try db.get(Array("key-7".utf8)) == nil)
            #expect(try db.get(Array("absent".utf8)) == nil)
            db.close()
            #expect(throws: RocksDBError.self) { try db.get(Array("key-1".utf8)) }
        }
        let reopened = try RocksDB(path: folder.path, createIfMissing: false)
        #expect(try reopened.get(Array("key-99".utf8)) == Array("value-99".utf8))
        reopened.close()
    }

    @Test("opening a missing database without create-if-missing fails with RocksDB's message")
    func missingDatabase() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keyraft-absent-\(getpid())").path
        #expect(throws: RocksDBError.self) { try RocksDB(path: path, createIfMissing: false) }
    }
}
