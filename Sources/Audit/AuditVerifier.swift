import Foundation

/// Why a record breaks the chain.
public enum AuditBreak: Sendable, Hashable, CustomStringConvertible {
    /// The line is not a valid audit record.
    case unparseable
    /// The record's sequence is not the previous one's plus one (or not 0 at a chain's start).
    case sequenceGap(expected: UInt64, found: UInt64)
    /// The record's `previousHash` is not the hash of the previous line
    /// (or not the genesis hash at a chain's start).
    case hashMismatch(expected: String, found: String)
    /// The file's last line has no newline: a write was cut short, or the file was cut.
    case truncatedLastLine

    public var description: String {
        switch self {
        case .unparseable: "unparseable record"
        case .sequenceGap(let expected, let found): "sequence gap: expected \(expected), found \(found)"
        case .hashMismatch(let expected, let found): "hash mismatch: expected previousHash \(expected), found \(found)"
        case .truncatedLastLine: "truncated last line (no newline)"
        }
    }
}

/// The result of verifying a chain.
public enum AuditVerification: Sendable, Hashable {
    case ok(records: Int)
    /// The first broken record: its file and 1-based line number.
    case broken(file: String, line: Int, reason: AuditBreak)
}

/// Checks an audit hash chain in one file or across a directory of files.
///
/// A content edit that keeps a line valid JSON is caught at the *next* record, whose
/// `previousHash` no longer matches; an edit that breaks the line's own JSON, sequence or
/// `previousHash` is caught at the edited line.
public struct AuditVerifier: Sendable {
    /// When true, the first record may carry any sequence and `previousHash` (older files
    /// were removed); when false, it must be sequence 0 with the genesis hash.
    public var chainStartsMidway: Bool

    public init(chainStartsMidway: Bool = false) {
        self.chainStartsMidway = chainStartsMidway
    }

    /// Verifies one file. Throws only when the file cannot be read.
    public func verify(file path: String) throws -> AuditVerification {
        var state = ChainState(startsMidway: chainStartsMidway)
        return try state.consume(file: path)
    }

    /// Verifies every `audit-NNNNNN.jsonl` in `directory`, in number order, as one chain.
    /// Throws only when the directory or a file cannot be read.
    public func verify(directory: String) throws -> AuditVerification {
        var state = ChainState(startsMidway: chainStartsMidway)
        var result = AuditVerification.ok(records: 0)
        for file in try AuditFiles.list(directory: directory) {
            result = try state.consume(file: file.path)
            if case .broken = result { return result }
        }
        return result
    }
}

/// The verifier's running position in a chain, carried across files.
struct ChainState {
    // Invariant: both nil until the first record has been accepted (then both set).
    var lastHash: String?
    var lastSequence: UInt64?
    var lastRecord: AuditRecord?
    var records = 0
    let startsMidway: Bool

    init(startsMidway: Bool) {
        self.startsMidway = startsMidway
    }

    mutating func consume(file path: String) throws -> AuditVerification {
        let bytes = try AuditFiles.readAll(path: path)
        var lineNumber = 0
        var start = bytes.startIndex
        while start < bytes.endIndex {
            lineNumber += 1
            guard let end = bytes[start...].firstIndex(of: AuditChain.newline) else {
                return .broken(file: path, line: lineNumber, reason: .truncatedLastLine)
            }
            if let reason = accept(line: bytes[start..<end]) {
                return .broken(file: path, line: lineNumber, reason: reason)
            }
            start = end + 1
        }
        return .ok(records: records)
    }

    /// Accepts one line into the chain, or says why it breaks it.
    mutating func accept(line: ArraySlice<UInt8>) -> AuditBreak? {
        guard let record = try? AuditRecord.parse(line: line) else { return .unparseable }
        let expectedSequence: UInt64?
        let expectedHash: String?
        if let lastSequence, let lastHash {
            // A record at UInt64.max cannot have a successor; report it as a gap.
            expectedSequence = lastSequence == .max ? nil : lastSequence + 1
            expectedHash = lastHash
        } else if startsMidway {
            expectedSequence = record.sequence
            expectedHash = record.previousHash
        } else {
            expectedSequence = 0
            expectedHash = AuditRecord.genesisHash
        }
        if record.sequence != expectedSequence {
            return .sequenceGap(expected: expectedSequence ?? .max, found: record.sequence)
        }
        if record.previousHash != expectedHash {
            return .hashMismatch(expected: expectedHash ?? "", found: record.previousHash)
        }
        lastHash = AuditChain.hash(line: line)
        lastSequence = record.sequence
        lastRecord = record
        records += 1
        return nil
    }
}
