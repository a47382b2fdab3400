import Foundation

/// Naming and listing of `audit-NNNNNN.jsonl` files in one directory.
enum AuditFiles {
    static let prefix = "audit-"
    static let suffix = ".jsonl"
    static let numberDigits = 6
    static let numberMax = 999_999

    static func name(number: Int) -> String {
        precondition(number >= 1 && number <= numberMax, "audit file number out of range: \(number)")
        let digits = String(number)
        return prefix + String(repeating: "0", count: numberDigits - digits.count) + digits + suffix
    }

    /// The file number encoded in `name`, or nil when it is not an audit file.
    static func number(of name: String) -> Int? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let middle = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard middle.count == numberDigits, middle.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(middle)
    }

    /// The audit files in `directory`, oldest (lowest number) first, as (number, path).
    static func list(directory: String) throws -> [(number: Int, path: String)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        return names.compactMap { name in number(of: name).map { ($0, directory + "/" + name) } }
            .sorted { $0.number < $1.number }
    }

    static func readAll(path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AuditError.io(path: path, reason: "cannot read file")
        }
        return [UInt8](data)
    }
}

/// Errors from writing or reading the audit log.
public enum AuditError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A record's line would exceed the configured maximum; it is refused, never truncated.
    case recordTooLarge(bytes: Int, recordBytesMax: Int)
    /// The newest file's chain is broken; the log refuses to extend it.
    case brokenChain(file: String, line: Int, reason: AuditBreak)
    /// A file system call failed.
    case io(path: String, reason: String)
    /// An earlier write failed part-way; the log must be reopened (and its tail repaired).
    case failed
    /// There are no more file numbers (`audit-999999.jsonl` is full).
    case fileNumbersExhausted

    public var description: String {
        switch self {
        case .recordTooLarge(let bytes, let max):
            "audit record of \(bytes) bytes exceeds the maximum of \(max) bytes"
        case .brokenChain(let file, let line, let reason):
            "refusing to extend a broken audit chain: \(file) line \(line): \(reason)"
        case .io(let path, let reason):
            "audit log I/O error on \(path): \(reason)"
        case .failed:
            "audit log is unusable after an earlier write failure; reopen it"
        case .fileNumbersExhausted:
            "audit log file numbers exhausted (\(AuditFiles.name(number: AuditFiles.numberMax)))"
        }
    }
}
