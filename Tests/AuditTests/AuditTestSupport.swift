import Audit
import Foundation

/// A fresh temporary directory, removed by `remove()`.
struct TempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/audit-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func auditFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { $0.hasPrefix("audit-") && $0.hasSuffix(".jsonl") }.sorted().map { path + "/" + $0 }
    }
}

func event(_ i: Int, context: [String: String] = ["purpose": "test"]) -> AuditEvent {
    AuditEvent(
        timeMs: 1_800_000_000_000 + UInt64(i), node: "node-1",
        principal: "arn:aws:iam::111122223333:user/alice", operation: i % 2 == 0 ? "Encrypt" : "Decrypt",
        keyARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        encryptionContext: context, outcome: i % 7 == 0 ? .failure(awsErrorName: "NotFoundException") : .success,
        requestID: "req-\(i)"
    )
}

func writeLog(_ dir: TempDir, records: Int, fileBytesMax: Int = AuditLog.fileBytesMaxDefault) throws {
    let log = try AuditLog(directory: dir.path, fileBytesMax: fileBytesMax, recordBytesMax: smallRecordBytes)
    for i in 0..<records { try log.append(event(i)) }
}

func readLines(_ path: String) throws -> [[UInt8]] {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    return bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().map(Array.init)
}

func writeLines(_ lines: [[UInt8]], to path: String) throws {
    var bytes = [UInt8]()
    for line in lines { bytes += line + [UInt8(ascii: "\n")] }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Small enough to sit under the test's small file bound.
let smallRecordBytes = 2 << 10
