import Foundation
import KMS
import KeyraftCrypto
import KeyraftNode
import RaftCore
import Storage
import Testing

final class FixedClock: NodeClock {
    var nowMs: Int64 = 1_780_000_000_000
    var monotonicMs: Int64 = 0
}

final class NoPeers: PeerNetwork {
    func send(_ message: PeerMessage, to peer: NodeID) {}
}

@Suite("KeyraftNode on RocksDBNodeStorage")
struct NodeOnRocksDBTests {
    static let ticksMax = 200
    static let keyCount = 6
    let rootKey = try! SecretBytes.generate(count: KeyWrap.rootKeyByteCount, using: SystemEntropy())
    let principal = Principal(arn: "arn:aws:iam::111122223333:user/storage-test", accountID: "111122223333")
    let clock = FixedClock()

    private func startNode(_ storage: RocksDBNodeStorage) throws -> KeyraftNode {
        var config = NodeConfig(id: NodeID(1))
        config.verifyInvariants = true
        config.snapshotEveryEntries = 4
        config.entriesKeptAfterSnapshot = 1
        return try KeyraftNode(config: config, kmsConfig: KMSConfig(), rootKey: rootKey, storage: storage,
                               network: NoPeers(), clock: clock, entropy: SystemEntropy(),
                               random: SystemRandomNumberGenerator())
    }

    /// Ticks until `done` holds; false when `ticksMax` ran out first.
    private func tick(_ node: KeyraftNode, until done: () -> Bool) -> Bool {
        for _ in 0..<Self.ticksMax {
            if done() { return true }
            clock.nowMs += 100
            node.tick()
        }
        return done()
    }

    private func createKey(_ node: KeyraftNode) throws -> KeyID {
        var result: Result<NodeResponse, KMSError>?
        node.submit(.write(.createKey(CreateKeyRequest(description: "storage test"))), principal: principal) { result = $0 }
        #expect(tick(node) { result != nil })
        guard case let .success(.write(.keyMetadata(metadata)))? = result else {
            Issue.record("CreateKey failed: \(String(describing: result))")
            throw StorageError.unavailable
        }
        return try #require(KeyID(metadata.keyID))
    }

    @Test("a single-node cluster elects itself, creates keys, restarts from snapshot plus log, and keeps no plaintext on disk")
    func restartAndScan() throws {
        let folder = TemporaryFolder("storage-node")
        defer { folder.remove() }
        let membership = Membership(voters: [NodeID(1)])

        let storage = try RocksDBNodeStorage(path: folder.path, bootstrap: membership)
        let node = try startNode(storage)
        #expect(tick(node) { node.softState.role == .leader }, "the single node elects itself")
        var keys: [KeyID] = []
        for _ in 0..<Self.keyCount { keys.append(try createKey(node)) }
        #expect(node.haltReason == nil)
        let wrapped = keys.map { node.kms.state.versions[$0]?.first?.wrappedMaterial ?? [] }
        #expect(wrapped.allSatisfy { $0.count == 40 })
        #expect(try storage.snapshot().metadata.index > LogIndex.zero, "the node snapshotted")
        #expect(try storage.firstIndex() > LogIndex(1), "and compacted the log behind the snapshot")
        node.shutdown()
        storage.close()

        let reopened = try RocksDBNodeStorage(path: folder.path, bootstrap: membership)
        let restarted = try startNode(reopened)
        #expect(tick(restarted) { keys.allSatisfy { restarted.kms.state.keys[$0] != nil } }, "replay restores every key")
        #expect(keys.map { restarted.kms.state.versions[$0]?.first?.wrappedMaterial ?? [] } == wrapped)
        #expect(tick(restarted) { restarted.softState.role == .leader })
        keys.append(try createKey(restarted))
        #expect(restarted.haltReason == nil)
        let allWrapped = keys.map { restarted.kms.state.versions[$0]?.first?.wrappedMaterial ?? [] }
        restarted.shutdown()
        reopened.close()

        try scanForPlaintext(folder, wrapped: allWrapped)
    }

    /// No file holds any key's 32 plaintext bytes; the wrapped forms are there (the scan sees the data).
    private func scanForPlaintext(_ folder: TemporaryFolder, wrapped: [[UInt8]]) throws {
        let plaintexts = try wrapped.map { wrapped in
            let secret = try KeyWrap.unwrap(wrapped, under: rootKey)
            return secret.withUnsafeBytes { Array($0) }
        }
        #expect(plaintexts.allSatisfy { $0.count == 32 })
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder.path)
        var contents: [(name: String, bytes: [UInt8])] = []
        for name in files.sorted() {
            var isDirectory: ObjCBool = false
            let path = folder.url.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            contents.append((name, Array(try Data(contentsOf: URL(fileURLWithPath: path)))))
        }
        #expect(contents.count >= 3, "the data folder holds RocksDB's files")
        for (index, plaintext) in plaintexts.enumerated() {
            for file in contents {
                #expect(!contains(file.bytes, plaintext), "key \(index)'s plaintext material found in \(file.name)")
            }
        }
        for (index, wrapping) in wrapped.enumerated() {
            #expect(contents.contains { contains($0.bytes, wrapping) }, "key \(index)'s wrapped material is on disk")
        }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let head = needle.first, haystack.count >= needle.count else { return false }
        var start = 0
        while start <= haystack.count - needle.count {
            if haystack[start] == head, haystack[start..<start + needle.count].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }
}
