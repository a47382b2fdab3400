/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum RocksDB and iSCSI use.
///
/// Table-driven, one byte at a time: records are small (log entries, metadata) or chunked
/// (snapshot data at most `RocksDBNodeStorage.snapshotChunkBytesDefault` per record), so
/// this is never the bottleneck next to an fsync.
enum CRC32C {
    /// Check value of the standard test input "123456789".
    static let checkValue: UInt32 = 0xE306_9283

    private static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// A running checksum: feed buffers to `update`, then read `value`.
    struct Running {
        private var state: UInt32 = 0xFFFF_FFFF

        mutating func update(_ bytes: some Sequence<UInt8>) {
            var crc = state
            for byte in bytes { crc = CRC32C.table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            state = crc
        }

        var value: UInt32 { state ^ 0xFFFF_FFFF }
    }

    /// The checksum of `bytes`.
    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var running = Running()
        running.update(bytes)
        return running.value
    }
}
