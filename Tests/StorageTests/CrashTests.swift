import Foundation
import KeyraftNode
import RaftCore
import Storage
import Testing

/// Copies of the helper's payload functions (Sources/storage-crash-helper/main.swift).
private func helperPayload(_ index: LogIndex) -> [UInt8] {
    (0..<64).map { UInt8(truncatingIfNeeded: index.rawValue &* 31 &+ UInt64($0)) }
}

private func helperSnapshotData(_ index: LogIndex) -> [UInt8] {
    (0..<300).map { UInt8(truncatingIfNeeded: index.rawValue &* 7 &+ UInt64($0) / 3) }
}

/// The helper executable, built next to the test bundle.
private func helperURL() throws -> URL {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    let helper = executable.deletingLastPathComponent().appendingPathComponent("storage-crash-helper")
    try #require(FileManager.default.isExecutableFile(atPath: helper.path),
                 "build storage-crash-helper first (swift build --build-tests)")
    return helper
}

@Suite("RocksDBNodeStorage crash safety")
struct CrashTests {
    static let acknowledgementsPerRun = 150
    static let runDeadlineSeconds = 3.0

    /// Runs the helper on `folder` until it has acknowledged `acknowledgementsPerRun` more
    /// indexes, SIGKILLs it mid-write, and returns the highest index it acknowledged.
    private func runAndKill(_ folder: TemporaryFolder) throws -> UInt64 {
        let process = Process()
        process.executableURL = try helperURL()
        process.arguments = [folder.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let reader = output.fileHandleForReading
        let deadline = Date().addingTimeInterval(Self.runDeadlineSeconds)
        var text = ""
        var lines = 0
        while lines < Self.acknowledgementsPerRun, Date() < deadline {
            let data = reader.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            lines = text.filter { $0 == "\n" }.count
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the helper died of SIGKILL, not of an error")
        text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        // Only complete lines are acknowledgements.
        let acknowledged = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().compactMap { UInt64($0) }
        #expect(acknowledged.count >= Self.acknowledgementsPerRun, "the helper acknowledged enough writes")
        #expect(acknowledged == acknowledged.sorted(), "acknowledgements come in index order")
        return acknowledged.max() ?? 0
    }

    /// Every acknowledged index is in the log or covered by the snapshot, byte for byte.
    private func verify(_ folder: TemporaryFolder, acknowledged: UInt64) throws {
        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: Membership(voters: [NodeID(1)]))
        defer { storage.close() }
        let first = try storage.firstIndex()
        let last = try storage.lastIndex()
        #expect(last.rawValue >= acknowledged, "acknowledged \(acknowledged), the log ends at \(last)")
        #expect(try storage.initialState().hardState.commit.rawValue >= acknowledged)
        let snapshot = try storage.snapshot()
        #expect(snapshot.metadata.index >= first - 1)
        if !snapshot.isEmpty { #expect(snapshot.data == helperSnapshotData(snapshot.metadata.index)) }
        let entries = try storage.entries(first..<(last + 1), maxBytes: .max)
        #expect(entries.count == Int(last.rawValue - first.rawValue + 1))
        for entry in entries {
            #expect(entry.term == Term(1))
            #expect(entry.data == helperPayload(entry.index), "entry \(entry.index) intact")
        }
    }

    @Test("a child SIGKILLed in the middle of synced writes loses nothing it acknowledged, twice over")
    func killedMidWrite() throws {
        let folder = TemporaryFolder("storage-crash")
        defer { folder.remove() }
        let firstRun = try runAndKill(folder)
        try verify(folder, acknowledged: firstRun)
        // The second life resumes from what survived, and is killed too.
        let secondRun = try runAndKill(folder)
        #expect(secondRun > firstRun)
        try verify(folder, acknowledged: secondRun)
    }
}
