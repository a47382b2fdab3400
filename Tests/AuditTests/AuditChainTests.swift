import Audit
import Foundation
import Testing

@Suite struct AuditChainTests {
    /// Small files so a few hundred records span several files.
    static let smallFileBytes = 8 << 10

    @Test func roundTripAcrossRotatedFiles() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 300, fileBytesMax: Self.smallFileBytes)
        let files = try dir.auditFiles()
        #expect(files.count >= 5)
        for file in files {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size <= Self.smallFileBytes)
        }
        #expect(try AuditVerifier().verify(directory: dir.path) == .ok(records: 300))
        // A later file alone only verifies when the caller says the chain starts mid-way.
        let second = files[1]
        let lineCount = try readLines(second).count
        #expect(try AuditVerifier().verify(file: second) != .ok(records: lineCount))
        #expect(try AuditVerifier(chainStartsMidway: true).verify(file: second) == .ok(records: lineCount))
        // Sequences run 0..<300 across files.
        let sequences = try files.flatMap(readLines).map { try AuditRecord.parse(line: $0).sequence }
        #expect(sequences == Array(0..<300))
    }

    @Test func editedByteInMiddleRecordIsNamed() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 50)
        let file = try #require(try dir.auditFiles().first)
        let lines = try readLines(file)
        #expect(try AuditVerifier().verify(file: file) == .ok(records: 50))

        // A byte of line 25's own previousHash: caught at line 25.
        var edited = lines
        let offset = try #require(byteOffset(of: #""previousHash":""#, in: edited[24]))
        edited[24][offset] = edited[24][offset] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        try writeLines(edited, to: file)
        #expect(try brokenAt(file) == "25:hash")

        // A byte that breaks line 25's JSON: caught at line 25.
        edited = lines
        edited[24][0] = UInt8(ascii: "[")
        try writeLines(edited, to: file)
        #expect(try brokenAt(file) == "25:unparseable")

        // A byte inside a value of line 25 keeps it valid: caught at line 26, whose
        // previousHash no longer matches.
        edited = lines
        let aliceIndex = try #require(byteOffset(of: "alice", in: edited[24]))
        edited[24][aliceIndex] = UInt8(ascii: "A")
        try writeLines(edited, to: file)
        #expect(try brokenAt(file) == "26:hash")
    }

    @Test func deletedLineIsNamed() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 50)
        let file = try #require(try dir.auditFiles().first)
        var lines = try readLines(file)
        lines.remove(at: 19)
        try writeLines(lines, to: file)
        #expect(try brokenAt(file) == "20:sequence")
    }

    @Test func swappedLinesAreNamed() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 50)
        let file = try #require(try dir.auditFiles().first)
        var lines = try readLines(file)
        lines.swapAt(9, 10)
        try writeLines(lines, to: file)
        #expect(try brokenAt(file) == "10:sequence")
    }

    @Test func truncatedLastLineIsNamed() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 50)
        let file = try #require(try dir.auditFiles().first)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes.removeLast(10)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(try brokenAt(file) == "50:truncated")
    }

    @Test func missingNewlineOnlyIsTruncation() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 5)
        let file = try #require(try dir.auditFiles().first)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes.removeLast()
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(try brokenAt(file) == "5:truncated")
    }

    @Test func deletedMiddleFileIsNamedAtNextFile() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 300, fileBytesMax: Self.smallFileBytes)
        let files = try dir.auditFiles()
        try #require(files.count >= 4)
        try FileManager.default.removeItem(atPath: files[2])
        let result = try AuditVerifier().verify(directory: dir.path)
        guard case .broken(let file, let line, let reason) = result else {
            Issue.record("expected broken, got \(result)")
            return
        }
        #expect(file == files[3])
        #expect(line == 1)
        guard case .sequenceGap = reason else {
            Issue.record("expected a sequence gap, got \(reason)")
            return
        }
    }

    @Test func reopenContinuesTheChain() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 100, fileBytesMax: Self.smallFileBytes)
        let filesBefore = try dir.auditFiles().count
        let log = try AuditLog(directory: dir.path, fileBytesMax: Self.smallFileBytes, recordBytesMax: smallRecordBytes)
        #expect(log.sequenceNext == 100)
        for i in 100..<200 { try log.append(event(i), sync: i % 10 == 0) }
        #expect(try dir.auditFiles().count > filesBefore)
        #expect(try AuditVerifier().verify(directory: dir.path) == .ok(records: 200))
    }

    @Test func reopenStepsBackOverAnEmptyNewestFile() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 100, fileBytesMax: Self.smallFileBytes)
        let last = try #require(try dir.auditFiles().last)
        let number = Int(last.dropLast(".jsonl".count).suffix(6))! + 1
        let next = dir.path + "/audit-" + String(format: "%06d", number) + ".jsonl"
        #expect(FileManager.default.createFile(atPath: next, contents: nil))
        let log = try AuditLog(directory: dir.path, fileBytesMax: Self.smallFileBytes, recordBytesMax: smallRecordBytes)
        try log.append(event(100))
        #expect(try readLines(next).count == 1)
        #expect(try AuditVerifier().verify(directory: dir.path) == .ok(records: 101))
    }

    @Test func refusesToExtendABrokenChain() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 20)
        let file = try #require(try dir.auditFiles().first)
        var lines = try readLines(file)
        lines.remove(at: 4)
        try writeLines(lines, to: file)
        #expect(throws: AuditError.brokenChain(
            file: file, line: 5, reason: .sequenceGap(expected: 4, found: 5))) {
            _ = try AuditLog(directory: dir.path)
        }
        // Nothing was appended.
        #expect(try readLines(file).count == 19)
    }

    @Test func refusesToExtendATruncatedTail() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        try writeLog(dir, records: 20)
        let file = try #require(try dir.auditFiles().first)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes.removeLast(3)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(throws: AuditError.brokenChain(file: file, line: 20, reason: .truncatedLastLine)) {
            _ = try AuditLog(directory: dir.path)
        }
    }

    @Test func oversizedRecordIsRefusedNotTruncated() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let log = try AuditLog(directory: dir.path, fileBytesMax: 1 << 20, recordBytesMax: 1024)
        try log.append(event(0))
        var big = event(1)
        big.principal = String(repeating: "p", count: 2000)
        #expect(throws: AuditError.self) { try log.append(big) }
        try log.append(event(2))
        #expect(log.sequenceNext == 2)
        #expect(try AuditVerifier().verify(directory: dir.path) == .ok(records: 2))
    }

    /// The first broken line of `file` and the kind of break, as a word.
    private func brokenAt(_ file: String) throws -> String {
        let result = try AuditVerifier().verify(file: file)
        guard case .broken(let path, let line, let reason) = result else { return "\(result)" }
        #expect(path == file)
        switch reason {
        case .unparseable: return "\(line):unparseable"
        case .sequenceGap: return "\(line):sequence"
        case .hashMismatch: return "\(line):hash"
        case .truncatedLastLine: return "\(line):truncated"
        }
    }

    /// The byte offset just past the first occurrence of `needle` in `line`... or at it.
    private func byteOffset(of needle: String, in line: [UInt8]) -> Int? {
        let pattern = Array(needle.utf8)
        guard line.count >= pattern.count else { return nil }
        for start in 0...(line.count - pattern.count) where Array(line[start..<start + pattern.count]) == pattern {
            return needle.hasSuffix("\"") ? start + pattern.count : start
        }
        return nil
    }
}
