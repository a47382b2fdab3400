import APIServer
import Foundation
import KMS
import KeyraftCrypto
import NIOCore
import NIOPosix
import RaftCore
import Storage

/// `keyraft backup`: encrypted backups of the KMS state and new clusters restored from them.
///
/// A backup is the leader's KMS snapshot at one applied index — key material inside it
/// stays wrapped under the cluster's root key — sealed in `BackupFile` under a fresh data
/// key wrapped by a separate backup key (docs/FORMATS.md). Restoring therefore needs the
/// backup key *and* the cluster's root key (file or shares).
public enum Backups {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The largest snapshot a backup fetches (the answer carries it in base64).
    static let snapshotAnswerBytesMax = 1 << 30

    /// Fetches a consistent snapshot from the leader and writes it sealed to `output` (0600).
    public static func create(environment: AdminEnvironment, output: String, backupKeyFile: String) throws -> (appliedIndex: UInt64, bytes: Int) {
        let backupKey = try RootKeyFile.load(path: backupKeyFile)
        guard !FileManager.default.fileExists(atPath: output) else { throw Failure(description: "\(output) exists; refusing to replace it") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        guard let leader = environment.leader(group: group) else {
            throw Failure(description: "no endpoint reports itself leader; set KEYRAFT_ENDPOINTS to every node")
        }
        let answer = try environment.call("GetBackupSnapshot", on: leader, group: group, timeoutMs: 120_000,
                                          answerBytesMax: snapshotAnswerBytesMax)
        guard let index = (answer["AppliedIndex"] as? NSNumber)?.uint64Value, let text = answer["Snapshot"] as? String,
              let snapshot = Data(base64Encoded: text) else {
            throw Failure(description: "the leader's answer holds no snapshot")
        }
        guard let check = (answer["RootKeyCheck"] as? String).flatMap(checkBytes) else {
            throw Failure(description: "the leader's answer holds no root key check value")
        }
        let bytes = Array(snapshot)
        // Refuse to write a backup that would not restore.
        do { _ = try KMSState(restoring: bytes) } catch {
            throw Failure(description: "the leader's snapshot does not decode: \(error)")
        }
        let file = try BackupFile.seal(snapshot: bytes, appliedIndex: index,
                                       createdAt: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1_000)),
                                       rootKeyCheck: check, backupKey: backupKey, entropy: SystemEntropy())
        let encoded = file.encoded()
        try SecretFile.write(encoded, to: output)
        return (index, encoded.count)
    }

    /// The 32 bytes of a 64-hex-digit check value, or nil.
    static func checkBytes(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = RootKeyFile.nibble(digits[index]), let low = RootKeyFile.nibble(digits[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    /// Initialises a node's empty data folder from a backup: the snapshot becomes the
    /// store's starting point, with the configuration's `initialVoters` as its membership.
    /// Every node of the new cluster is restored from the same file, then started.
    /// Returns the snapshot's index, and whether the backup's root key check value was
    /// compared with the node's (version-1 backups have none).
    public static func restore(input: String, backupKeyFile: String, config: ServerConfig) throws
        -> (appliedIndex: UInt64, rootKeyChecked: Bool) {
        let backupKey = try RootKeyFile.load(path: backupKeyFile)
        guard let raw = FileManager.default.contents(atPath: input) else { throw Failure(description: "cannot read \(input)") }
        let file: BackupFile
        let snapshot: [UInt8]
        do {
            file = try BackupFile(decoding: Array(raw))
            snapshot = try file.open(backupKey: backupKey)
        } catch {
            throw Failure(description: "\(input) cannot be opened: \(error)")
        }
        // Key material in the snapshot is wrapped under the root key the check value names:
        // a node with another root key could decrypt nothing. Refused before anything is written.
        if let check = file.rootKeyCheck {
            let nodeCheck: String
            switch config.rootKey {
            case let .file(path): nodeCheck = RootKeyCheck.value(of: try RootKeyFile.load(path: path))
            case let .shares(checkFile): nodeCheck = try RootKeyCheck.load(path: checkFile)
            }
            guard checkBytes(nodeCheck) == check else {
                throw Failure(description: "the backup's key material is wrapped under another root key than this node's "
                              + "(root key check values differ); restore with the root key (file or shares) of the cluster "
                              + "the backup was made from")
            }
        }
        let state: KMSState
        do { state = try KMSState(restoring: snapshot) } catch {
            throw Failure(description: "the backup's snapshot does not decode: \(error)")
        }
        let expected = KMSConfig(region: config.region, accountID: config.accountID)
        guard state.config == expected else {
            throw Failure(description: "the backup is of region \(state.config.region), account \(state.config.accountID); "
                          + "the node is configured for \(expected.region), \(expected.accountID)")
        }
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: config.dataDir), !contents.isEmpty {
            throw Failure(description: "\(config.dataDir) is not empty; restore only into a new node's data folder")
        }
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let membership = Membership(voters: config.initialVoters)
        let storage = try RocksDBNodeStorage(path: config.dataDir, bootstrap: membership)
        defer { storage.close() }
        // Term 1 on every restored node: they agree on the snapshot's position, and the new
        // cluster's first election starts above it.
        let index = LogIndex(file.appliedIndex)
        let metadata = SnapshotMetadata(index: index, term: Term(1), membership: membership)
        try storage.persist(hardState: HardState(term: Term(1), vote: nil, commit: index), entries: [],
                            snapshot: Snapshot(metadata: metadata, data: snapshot), sync: true)
        return (file.appliedIndex, file.rootKeyCheck != nil)
    }
}
