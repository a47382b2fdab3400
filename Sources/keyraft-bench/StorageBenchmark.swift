import Foundation
import RaftCore
import Storage

/// Synced write batches on RocksDB through the node's storage: the disk's limit that
/// replicated writes stand on. Each `persist` is one synced batch, as one Ready is.
struct StorageBenchmark {
    let secondsPerCase: Double
    let entryBytes = 200  // about one CreateKey command with its envelope

    func run() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyraft-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        print("keyraft-bench storage: RocksDBNodeStorage.persist, synced, \(entryBytes)-byte entries, \(secondsPerCase)s per case")
        print(pad("entries per batch", 20) + pad("batches/s", 12) + pad("entries/s", 12) + pad("p50 ms", 10) + "p99 ms")
        for (i, batch) in [1, 10, 100].enumerated() {
            let store = try RocksDBNodeStorage(path: folder.appendingPathComponent("case\(i)").path,
                                               bootstrap: Membership(voters: [NodeID(1)]))
            defer { store.close() }
            var next = try store.lastIndex() + 1
            var latenciesNs: [UInt64] = []
            let clock = ContinuousClock()
            let deadline = clock.now + .milliseconds(Int(secondsPerCase * 1000))
            let payload = [UInt8](repeating: 0x5A, count: entryBytes)
            while clock.now < deadline, latenciesNs.count < 1_000_000 {
                let entries = (0..<batch).map { Entry(term: Term(1), index: next + UInt64($0), data: payload) }
                let started = clock.now
                try store.persist(hardState: HardState(term: Term(1), vote: NodeID(1), commit: next),
                                  entries: entries, snapshot: nil, sync: true)
                let elapsed = clock.now - started
                latenciesNs.append(UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000))
                next = next + UInt64(batch)
            }
            latenciesNs.sort()
            let totalSeconds = Double(latenciesNs.reduce(0, +)) / 1e9
            let batches = Double(latenciesNs.count) / totalSeconds
            func percentile(_ p: Double) -> Double { Double(latenciesNs[min(latenciesNs.count - 1, Int(Double(latenciesNs.count) * p))]) / 1e6 }
            print(pad("\(batch)", 20) + pad(format(batches, digits: 0), 12) + pad(format(batches * Double(batch), digits: 0), 12)
                  + pad(format(percentile(0.5), digits: 3), 10) + format(percentile(0.99), digits: 3))
        }
    }
}
