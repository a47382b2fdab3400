import CRocksDB

/// A thin owner of one RocksDB database through its C API.
///
/// This is the foundation the node's storage grows on (column families, checksummed
/// records and the Raft log arrive with the storage issue). Every call either succeeds
/// or throws `RocksDBError` with RocksDB's own message; nothing is silently ignored.
public final class RocksDB {
    private var handle: OpaquePointer?
    private let writeOptionsSynced: OpaquePointer
    private let readOptions: OpaquePointer
    public let path: String

    /// Opens (creating if missing) the database at `path`.
    public init(path: String, createIfMissing: Bool = true) throws(RocksDBError) {
        let options = rocksdb_options_create()!
        defer { rocksdb_options_destroy(options) }
        rocksdb_options_set_create_if_missing(options, createIfMissing ? 1 : 0)
        var error: UnsafeMutablePointer<CChar>?
        let handle = rocksdb_open(options, path, &error)
        try RocksDBError.check(error, operation: "open")
        guard let handle else { throw RocksDBError(operation: "open", message: "no handle returned") }
        self.handle = handle
        self.path = path
        writeOptionsSynced = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(writeOptionsSynced, 1)
        readOptions = rocksdb_readoptions_create()
    }

    deinit {
        close()
        rocksdb_writeoptions_destroy(writeOptionsSynced)
        rocksdb_readoptions_destroy(readOptions)
    }

    /// Closes the database. Further calls fail with "database is closed".
    public func close() {
        if let handle {
            rocksdb_close(handle)
            self.handle = nil
        }
    }

    /// Writes every operation of `batch` atomically and fsyncs before returning.
    public func writeSynced(_ batch: WriteBatch) throws(RocksDBError) {
        let handle = try openHandle("write")
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_write(handle, writeOptionsSynced, batch.pointer, &error)
        try RocksDBError.check(error, operation: "write")
    }

    /// The value stored under `key`, or nil.
    public func get(_ key: [UInt8]) throws(RocksDBError) -> [UInt8]? {
        let handle = try openHandle("get")
        var error: UnsafeMutablePointer<CChar>?
        var length = 0
        let value = key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { k in
                rocksdb_get(handle, readOptions, k.baseAddress, k.count, &length, &error)
            }
        }
        try RocksDBError.check(error, operation: "get")
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    private func openHandle(_ operation: String) throws(RocksDBError) -> OpaquePointer {
        guard let handle else { throw RocksDBError(operation: operation, message: "database is closed") }
        return handle
    }
}

/// An atomic group of writes.
public final class WriteBatch {
    let pointer: OpaquePointer

    public init() { pointer = rocksdb_writebatch_create() }
    deinit { rocksdb_writebatch_destroy(pointer) }

    public var count: Int { Int(rocksdb_writebatch_count(pointer)) }

    public func put(_ key: [UInt8], _ value: [UInt8]) {
        key.withUnsafeBufferPointer { k in
            value.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: CChar.self) { k in
                    v.withMemoryRebound(to: CChar.self) { v in
                        rocksdb_writebatch_put(pointer, k.baseAddress, k.count, v.baseAddress, v.count)
                    }
                }
            }
        }
    }

    public func delete(_ key: [UInt8]) {
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { k in
                rocksdb_writebatch_delete(pointer, k.baseAddress, k.count)
            }
        }
    }
}

/// A RocksDB failure, with the operation and RocksDB's message.
public struct RocksDBError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let message: String

    public var description: String { "RocksDB \(operation) failed: \(message)" }

    static func check(_ error: UnsafeMutablePointer<CChar>?, operation: String) throws(RocksDBError) {
        guard let error else { return }
        defer { rocksdb_free(error) }
        throw RocksDBError(operation: operation, message: String(cString: error))
    }
}
