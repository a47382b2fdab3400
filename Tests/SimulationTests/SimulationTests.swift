import Foundation
import Testing
@testable import Simulation
import RaftCore

/// Fast checks of the simulator itself, in debug. The heavy runs (hundreds of seeds,
/// every scenario and canary) are in scripts/sim-check.sh, in release.
@Suite("Simulator")
struct SimulationTests {
    func short(_ seed: UInt64) -> SimParameters {
        var p = SimParameters.standard(seed: seed)
        p.nodeCount = 3
        p.faultPhaseMs = 8_000
        return p
    }

    @Test("the same seed gives the same trace; another seed another")
    func deterministic() {
        let a = Simulator(parameters: short(11)).run()
        let b = Simulator(parameters: short(11)).run()
        let c = Simulator(parameters: short(12)).run()
        #expect(a.failure == nil && b.failure == nil && c.failure == nil)
        #expect(a.traceHash == b.traceHash)
        #expect(a.traceHash != c.traceHash)
        #expect(a.requestsCompleted > 50, "the workload ran")
        #expect(a.linearizability.hasPrefix("ok"), "\(a.linearizability)")
    }

    @Test("a canary makes the run fail: rotation-drops-old-version is caught as a safety violation")
    func canaryCaught() {
        var p = short(1)
        p.canaries = ["rotation-drops-old-version"]
        p.faultPhaseMs = 20_000
        let result = Simulator(parameters: p).run()
        guard case let .safety(text)? = result.failure else {
            Issue.record("expected a safety violation, got \(String(describing: result.failure))")
            return
        }
        #expect(text.contains("no longer decrypts") || text.contains("versions") || text.contains("InvalidCiphertext"), "\(text)")
    }

    @Test("scenario files parse; unknown keys and bad values are refused")
    func scenarios() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Simulations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sim") }.sorted()
        #expect(files.count >= 7)
        for file in files {
            let scenario = try Scenario.load(path: folder.appendingPathComponent(file).path)
            #expect(!scenario.name.isEmpty)
        }
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(getpid()).sim")
        defer { try? FileManager.default.removeItem(at: bad) }
        for text in ["nodes = 4\n", "no_such_key = 1\n", "crash_weight = -1\n", "just words\n", "latency_ms = 9-3\n"] {
            try text.write(to: bad, atomically: true, encoding: .utf8)
            #expect(throws: ScenarioError.self, "\(text)") { try Scenario.load(path: bad.path) }
        }
    }

    @Test("the command line: usage errors exit 2, canaries are listed")
    func commandLine() {
        #expect(SimCommand.main(["--seed"]) == 2)
        #expect(SimCommand.main(["--canary", "no-such-bug"]) == 2)
        #expect(SimCommand.main(["--bogus"]) == 2)
        #expect(SimCommand.canaryNames.count == 7)
        #expect(SimCommand.main(["--list-canaries"]) == 0)
    }

    @Test("the simulated disk loses unsynced writes on a crash and refuses corrupted entries")
    func disk() throws {
        let disk = SimDisk(membership: .init(), random: SimRandom(seed: 3))
        let entries = (1...3).map { Entry(term: Term(1), index: LogIndex($0), data: [UInt8($0)]) }
        try disk.persist(hardState: HardState(term: Term(1), vote: nil, commit: .zero), entries: entries, snapshot: nil, sync: true)
        try disk.persist(hardState: HardState(term: Term(1), vote: nil, commit: LogIndex(3)),
                         entries: [Entry(term: Term(1), index: LogIndex(4), data: [4])], snapshot: nil, sync: false)
        #expect(try disk.lastIndex() == LogIndex(4))
        disk.crash()
        #expect(try disk.lastIndex() == LogIndex(3), "the unsynced entry is gone")
        #expect(try disk.initialState().hardState.commit == .zero, "the unsynced hard state is gone")
        #expect(disk.verifyForRestart() == nil)
        #expect(disk.corruptRandomEntry() != nil)
        #expect(disk.verifyForRestart() != nil, "a flipped bit is detected by the checksum")
    }
}
