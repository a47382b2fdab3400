import CRocksDB
import Glibc
import RaftCore

/// One RocksDB database opened with the node's column families, through the C API.
///
/// Every failure is reported as `StorageError.ioFailure` with RocksDB's message; values
/// come back exactly as stored (the callers check their envelopes).
final class ColumnFamilyDatabase {
    private var handle: OpaquePointer?
    /// Handles of `default` followed by `ColumnFamily.allCases`, in order.
    /// Invariant: `families.count == ColumnFamily.allCases.count + 1` while open.
    private var families: [OpaquePointer]
    private let synced: OpaquePointer
    private let unsynced: OpaquePointer
    private let readOptions: OpaquePointer
    let path: String

    /// Opens (creating if missing) the database at `path` with every column family.
    init(path: String) throws(StorageError) {
        let options = rocksdb_options_create()!
        defer { rocksdb_options_destroy(options) }
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_create_missing_column_families(options, 1)
        rocksdb_options_set_paranoid_checks(options, 1)
        // The column families share one write-ahead log, and a log file is deleted only
        // once every family has flushed what it holds. Rarely written families (snapshot
        // chunks) would pin every log file since their last flush: the data folder grew to
        // 1.5 GiB per node at 100,000 keys and a restart replayed all of it. Past this size
        // RocksDB flushes the families pinning the oldest file.
        rocksdb_options_set_max_total_wal_size(options, 64 << 20)
        let names = ["default"] + ColumnFamily.allCases.map(\.name)
        let cNames: [UnsafeMutablePointer<CChar>?] = names.map { strdup($0) }
        defer { for name in cNames { free(name) } }
        let familyOptions = [OpaquePointer?](repeating: options, count: names.count)
        var handles = [OpaquePointer?](repeating: nil, count: names.count)
        var error: UnsafeMutablePointer<CChar>?
        let constNames = cNames.map { UnsafePointer($0) }
        let db = rocksdb_open_column_families(options, path, Int32(names.count), constNames, familyOptions,
                                              &handles, &error)
        try Self.check(error, "open \(path)")
        guard let db else { throw .ioFailure("rocksdb open \(path): no handle returned") }
        handle = db
        families = handles.map { $0! }
        self.path = path
        synced = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(synced, 1)
        unsynced = rocksdb_writeoptions_create()
        readOptions = rocksdb_readoptions_create()
        rocksdb_readoptions_set_verify_checksums(readOptions, 1)
        assert(families.count == ColumnFamily.allCases.count + 1)
    }

    deinit {
        close()
        rocksdb_writeoptions_destroy(synced)
        rocksdb_writeoptions_destroy(unsynced)
        rocksdb_readoptions_destroy(readOptions)
    }

    /// Closes the database (idempotent). Later calls fail with `.ioFailure`.
    func close() {
        guard let handle else { return }
        for family in families { rocksdb_column_family_handle_destroy(family) }
        families = []
        rocksdb_close(handle)
        self.handle = nil
    }

    var isOpen: Bool { handle != nil }

    func family(_ family: ColumnFamily) -> OpaquePointer {
        precondition(isOpen, "column family of a closed database")
        return families[family.rawValue + 1]
    }

    /// The value stored under `key`, or nil.
    func get(_ family: ColumnFamily, _ key: [UInt8]) throws(StorageError) -> [UInt8]? {
        let db = try openHandle("get")
        var error: UnsafeMutablePointer<CChar>?
        var length = 0
        let cf = self.family(family)
        let value = key.withUnsafeBytes { k in
            rocksdb_get_cf(db, readOptions, cf, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count,
                           &length, &error)
        }
        try Self.check(error, "get \(StorageKey.describe(family, key))")
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// Writes `batch` atomically; with `sync`, fsyncs the write-ahead log before returning.
    func write(_ batch: ColumnFamilyBatch, sync: Bool) throws(StorageError) {
        let db = try openHandle("write")
        precondition(batch.database === self, "a batch of another database")
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_write(db, sync ? synced : unsynced, batch.pointer, &error)
        try Self.check(error, "write")
    }

    /// Visits every record of `family` in key order. Throws `.corrupted` when the family
    /// holds more than `recordsMax` records (the bound on the scan). Returns the count.
    @discardableResult
    func scan(_ family: ColumnFamily, recordsMax: Int,
              _ visit: (_ key: [UInt8], _ value: [UInt8]) throws(StorageError) -> Void) throws(StorageError) -> Int {
        let db = try openHandle("scan")
        let iterator = rocksdb_create_iterator_cf(db, readOptions, self.family(family))!
        defer { rocksdb_iter_destroy(iterator) }
        rocksdb_iter_seek_to_first(iterator)
        var count = 0
        while rocksdb_iter_valid(iterator) != 0 {
            guard count < recordsMax else {
                throw .corrupted("\(family.name) holds more than \(recordsMax) records")
            }
            var keyLength = 0
            var valueLength = 0
            let key = rocksdb_iter_key(iterator, &keyLength)!
            let value = rocksdb_iter_value(iterator, &valueLength)
            let keyBytes = Array(UnsafeRawBufferPointer(start: key, count: keyLength))
            let valueBytes = valueLength == 0 ? [] : Array(UnsafeRawBufferPointer(start: value, count: valueLength))
            try visit(keyBytes, valueBytes)
            count += 1
            rocksdb_iter_next(iterator)
        }
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(iterator, &error)
        try Self.check(error, "scan \(family.name)")
        return count
    }

    /// Whether `family` holds no record.
    func isEmpty(_ family: ColumnFamily) throws(StorageError) -> Bool {
        let db = try openHandle("scan")
        let iterator = rocksdb_create_iterator_cf(db, readOptions, self.family(family))!
        defer { rocksdb_iter_destroy(iterator) }
        rocksdb_iter_seek_to_first(iterator)
        let empty = rocksdb_iter_valid(iterator) == 0
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(iterator, &error)
        try Self.check(error, "scan \(family.name)")
        return empty
    }

    private func openHandle(_ operation: String) throws(StorageError) -> OpaquePointer {
        guard let handle else { throw .ioFailure("rocksdb \(operation): the database at \(path) is closed") }
        return handle
    }

    static func check(_ error: UnsafeMutablePointer<CChar>?, _ operation: String) throws(StorageError) {
        guard let error else { return }
        defer { rocksdb_free(error) }
        throw .ioFailure("rocksdb \(operation): \(String(cString: error))")
    }
}

/// An atomic group of writes across the column families of one database.
final class ColumnFamilyBatch {
    let pointer: OpaquePointer
    let database: ColumnFamilyDatabase

    init(_ database: ColumnFamilyDatabase) {
        pointer = rocksdb_writebatch_create()
        self.database = database
    }

    deinit { rocksdb_writebatch_destroy(pointer) }

    var count: Int { Int(rocksdb_writebatch_count(pointer)) }

    /// Stores `payload` under `key`, sealed in its checksummed envelope.
    func put(_ family: ColumnFamily, _ key: [UInt8], sealing payload: [UInt8]) {
        putRaw(family, key, RecordEnvelope.seal(payload, family: family, key: key))
    }

    /// Stores `value` exactly as given (tests use it to plant damaged records).
    func putRaw(_ family: ColumnFamily, _ key: [UInt8], _ value: [UInt8]) {
        let cf = database.family(family)
        key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                rocksdb_writebatch_put_cf(pointer, cf, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count,
                                          v.baseAddress?.assumingMemoryBound(to: CChar.self), v.count)
            }
        }
    }

    func delete(_ family: ColumnFamily, _ key: [UInt8]) {
        let cf = database.family(family)
        key.withUnsafeBytes { k in
            rocksdb_writebatch_delete_cf(pointer, cf, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count)
        }
    }

    /// Deletes every key in `start ..< end`.
    func deleteRange(_ family: ColumnFamily, from start: [UInt8], to end: [UInt8]) {
        precondition(start.lexicographicallyPrecedes(end), "empty or inverted delete range")
        let cf = database.family(family)
        start.withUnsafeBytes { s in
            end.withUnsafeBytes { e in
                rocksdb_writebatch_delete_range_cf(pointer, cf, s.baseAddress?.assumingMemoryBound(to: CChar.self),
                                                   s.count, e.baseAddress?.assumingMemoryBound(to: CChar.self), e.count)
            }
        }
    }
}
