import APIServer
import Audit
import Logging
import NIOConcurrencyHelpers
import Glibc

/// The node's audit trail: every API call, as hash-chained JSON lines in `directory`
/// (`Audit.AuditLog`: rotation by size, the chain continuing across files).
///
/// Appends are serialised by a lock; each is one `write` (no fsync per record: a crash may
/// lose the last records, never corrupt earlier ones, and the verifier reports a torn
/// last line). If the log fails, the failure is logged once and every later call is still
/// answered — the error counter in `failures` tells monitoring.
final class FileAuditSink: APIAuditSink, @unchecked Sendable {
    // @unchecked: `log` is only used under `lock`.
    private let lock = NIOLock()
    private let log: AuditLog
    private let node: String
    private let logger: Logger
    private let failureCount = NIOLockedValueBox(0)

    init(directory: String, node: String, logger: Logger) throws {
        log = try AuditLog(directory: directory)
        self.node = node
        self.logger = logger
    }

    var failures: Int { failureCount.withLockedValue { $0 } }

    func record(_ entry: APIAuditEntry) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let event = AuditEvent(
            timeMs: UInt64(now.tv_sec) * 1_000 + UInt64(now.tv_nsec) / 1_000_000, node: node,
            principal: entry.principal, operation: entry.operation, keyARN: entry.key,
            encryptionContext: entry.context,
            outcome: entry.errorName.map { .failure(awsErrorName: $0) } ?? .success, requestID: entry.requestID)
        do {
            try lock.withLock { _ = try log.append(event) }
        } catch {
            let first = failureCount.withLockedValue { count -> Bool in
                count += 1
                return count == 1
            }
            if first { logger.critical("audit log append failed", metadata: ["error": "\(error)"]) }
        }
    }
}
