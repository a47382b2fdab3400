import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An append-only, hash-chained audit log in `<directory>/audit-NNNNNN.jsonl`.
///
/// Each append writes one line with a single `write(2)` to a file opened `O_APPEND`.
/// A file rotates to the next number before a line would make it exceed `fileBytesMax`;
/// the sequence and `previousHash` chain continue across files.
///
/// Not thread-safe: the caller serializes appends (for example from one actor or queue).
/// A `final class` because it owns a file descriptor.
public final class AuditLog {
    public static let fileBytesMaxDefault = 64 << 20
    public static let recordBytesMaxDefault = 16 << 10

    public let directory: String
    public let fileBytesMax: Int
    public let recordBytesMax: Int

    private var fileNumber: Int
    private var fd: Int32
    // Invariant: the size of the current file, as far as this log has written it.
    private var fileBytes: Int
    private var previousHash: String
    private var nextSequence: UInt64
    private var failed = false

    /// Opens (creating if needed) the log in `directory`, resuming the chain from the last
    /// record of the newest non-empty file after verifying that file.
    ///
    /// - Throws: `AuditError.brokenChain` when that file's chain is broken (including a
    ///   truncated last line); the log never extends a broken chain.
    public init(
        directory: String,
        fileBytesMax: Int = AuditLog.fileBytesMaxDefault,
        recordBytesMax: Int = AuditLog.recordBytesMaxDefault
    ) throws {
        precondition(recordBytesMax > 0, "recordBytesMax must be positive")
        precondition(fileBytesMax > recordBytesMax, "fileBytesMax must exceed recordBytesMax")
        self.directory = directory
        self.fileBytesMax = fileBytesMax
        self.recordBytesMax = recordBytesMax
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let files = try AuditFiles.list(directory: directory)
        let position = try Self.resumePosition(files: files)
        self.previousHash = position.previousHash
        self.nextSequence = position.nextSequence
        self.fileNumber = files.last?.number ?? 1
        self.fileBytes = 0
        self.fd = -1
        try openCurrentFile()
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// The sequence number the next record will get.
    public var sequenceNext: UInt64 { nextSequence }

    /// Appends one record for `event`; with `sync`, the file is fsynced before returning.
    ///
    /// - Returns: the record as written.
    /// - Throws: `AuditError.recordTooLarge` (nothing written), `AuditError.io` (the log
    ///   becomes unusable until reopened), `AuditError.failed` after an earlier I/O error.
    @discardableResult
    public func append(_ event: AuditEvent, sync: Bool = false) throws -> AuditRecord {
        guard !failed else { throw AuditError.failed }
        let record = AuditRecord(event: event, previousHash: previousHash, sequence: nextSequence)
        var line = try record.serializedLine()
        guard line.count <= recordBytesMax else {
            throw AuditError.recordTooLarge(bytes: line.count, recordBytesMax: recordBytesMax)
        }
        let hash = AuditChain.hash(line: line)
        line.append(AuditChain.newline)
        if fileBytes > 0 && fileBytes + line.count > fileBytesMax {
            try rotate(sync: sync)
        }
        do {
            try writeAll(line)
            if sync { try check(fsync(fd), "fsync") }
        } catch {
            // A partial line may be on disk; extending it would hide the damage.
            failed = true
            throw error
        }
        fileBytes += line.count
        previousHash = hash
        nextSequence += 1
        assert(fileBytes <= fileBytesMax || fileBytes == line.count, "file exceeded its bound")
        return record
    }

    // MARK: - Files

    private var currentPath: String { directory + "/" + AuditFiles.name(number: fileNumber) }

    private func openCurrentFile() throws {
        let path = currentPath
        let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard opened >= 0 else { throw AuditError.io(path: path, reason: "open: errno \(errno)") }
        var info = stat()
        guard fstat(opened, &info) == 0 else {
            close(opened)
            throw AuditError.io(path: path, reason: "fstat: errno \(errno)")
        }
        fd = opened
        fileBytes = Int(info.st_size)
    }

    private func rotate(sync: Bool) throws {
        guard fileNumber < AuditFiles.numberMax else { throw AuditError.fileNumbersExhausted }
        if sync { try check(fsync(fd), "fsync") }
        close(fd)
        fd = -1
        fileNumber += 1
        do {
            try openCurrentFile()
        } catch {
            failed = true
            throw error
        }
        if sync {
            // Make the new file's directory entry durable too.
            let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard dirFD >= 0 else { throw AuditError.io(path: directory, reason: "open: errno \(errno)") }
            defer { close(dirFD) }
            try check(fsync(dirFD), "fsync directory")
        }
        precondition(fileBytes == 0, "rotated into a non-empty audit file \(currentPath)")
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        // One write per line: a short write leaves a partial line, which we report rather
        // than complete with a second write that another appender could interleave with.
        guard written == bytes.count else {
            throw AuditError.io(path: currentPath, reason: written < 0 ? "write: errno \(errno)" : "short write")
        }
    }

    private func check(_ status: Int32, _ call: String) throws {
        guard status == 0 else { throw AuditError.io(path: currentPath, reason: "\(call): errno \(errno)") }
    }

    // MARK: - Resuming

    /// The chain position after the newest non-empty file, verified.
    private static func resumePosition(
        files: [(number: Int, path: String)]
    ) throws -> (previousHash: String, nextSequence: UInt64) {
        // Empty files (a crash right after rotating) carry no records; step back over them.
        for file in files.reversed() {
            let bytes = try AuditFiles.readAll(path: file.path)
            if bytes.isEmpty { continue }
            // Older files may have been removed, so only file 1 must start at genesis.
            var state = ChainState(startsMidway: file.number != 1)
            if case .broken(let path, let line, let reason) = try state.consume(file: file.path) {
                throw AuditError.brokenChain(file: path, line: line, reason: reason)
            }
            guard let hash = state.lastHash, let sequence = state.lastSequence else {
                preconditionFailure("a non-empty verified audit file has no last record")
            }
            guard sequence < .max else { throw AuditError.io(path: file.path, reason: "sequence exhausted") }
            return (hash, sequence + 1)
        }
        return (AuditRecord.genesisHash, 0)
    }
}
