import Foundation
import KeyraftCrypto
import KeyraftNode
import KeyraftServer
import NIOCore
import RaftCore
import Transport
import XCTest

final class ServerConfigTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory() }
    override func tearDown() { scratch?.remove() }

    /// A valid configuration; `replacing` swaps whole lines that start with a key.
    private func yaml(replacing overrides: [String: String] = [:]) -> String {
        let lines = [
            "nodeId: 1",
            "dataDir: node-1",
            "peerAddress: 127.0.0.1:7101",
            "apiAddress: \"127.0.0.1:8101\"",
            "peers: {2: \"127.0.0.1:7102\", 3: \"localhost:7103\"}",
            "initialVoters: [1, 2, 3]",
            "tls: {certificate: node-1.pem, privateKey: keys/node-1.key, ca: /etc/keyraft/ca.pem}",
            "rootKeyFile: root.key",
            "credentialsFile: credentials.json",
            "region: eu-west-1",
            "accountId: \"444455556666\"",
            "tickMs: 50",
            "electionTimeoutTicks: 12",
            "readConsistency: lease",
            "maxStalenessMs: 4000",
            "snapshotEveryEntries: 50000",
            "eventLoopThreads: 1",
            "pidFile: node-1.pid",
        ]
        return lines.map { line in
            let key = String(line.prefix { $0 != ":" })
            return overrides[key] ?? line
        }.joined(separator: "\n") + "\n"
    }

    private func load(_ text: String) throws -> ServerConfig {
        let path = scratch.file("node.yaml")
        try writeFile(text, to: path, mode: 0o644)
        return try ServerConfig.load(path: path)
    }

    private func assertInvalid(_ overrides: [String: String], mentions field: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(yaml(replacing: overrides)), file: file, line: line) { error in
            XCTAssertTrue(error is ServerConfig.Invalid, "\(type(of: error)): \(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(field), "'\(error)' does not name \(field)", file: file, line: line)
        }
    }

    func testValidFileLoadsWithRelativePathsResolved() throws {
        let config = try load(yaml())
        let base = scratch.path
        XCTAssertEqual(config.nodeID, NodeID(1))
        XCTAssertEqual(config.dataDir, base + "/node-1")
        XCTAssertEqual(config.peerAddress, PeerAddress(host: "127.0.0.1", port: 7101))
        XCTAssertEqual(config.apiAddress, PeerAddress(host: "127.0.0.1", port: 8101))
        XCTAssertEqual(config.peers, [NodeID(2): PeerAddress(host: "127.0.0.1", port: 7102),
                                      NodeID(3): PeerAddress(host: "localhost", port: 7103)])
        XCTAssertEqual(config.initialVoters, [NodeID(1), NodeID(2), NodeID(3)])
        XCTAssertEqual(config.tls, TLSFiles(certificatePath: base + "/node-1.pem", privateKeyPath: base + "/keys/node-1.key",
                                            caPath: "/etc/keyraft/ca.pem"), "absolute paths stay as written")
        XCTAssertEqual(config.rootKey, .file(base + "/root.key"))
        XCTAssertEqual(config.credentialsFile, base + "/credentials.json")
        XCTAssertEqual(config.pidFile, base + "/node-1.pid")
        XCTAssertEqual(config.auditDir, base + "/node-1-audit", "default: next to the data folder")
        XCTAssertEqual(config.region, "eu-west-1")
        XCTAssertEqual(config.accountID, "444455556666")
        XCTAssertEqual(config.tickMs, 50)
        XCTAssertEqual(config.electionTimeoutTicks, 12)
        XCTAssertEqual(config.readConsistency, .lease(maxStalenessMs: 4_000))
        XCTAssertEqual(config.snapshotEveryEntries, 50_000)
        XCTAssertEqual(config.nodeConfig.snapshotEveryEntries, 50_000)
        XCTAssertEqual(config.eventLoopThreads, 1)
    }

    func testDefaultsApplyWhenOptionalFieldsAreAbsent() throws {
        let minimal = """
        nodeId: 4
        dataDir: data
        peerAddress: 127.0.0.1:7104
        apiAddress: 127.0.0.1:8104
        tls: {certificate: n.pem, privateKey: n.key, ca: ca.pem}
        rootKeyFile: root.key
        credentialsFile: credentials.json
        readConsistency: linearizable
        """
        let config = try load(minimal)
        XCTAssertEqual(config.initialVoters, [NodeID(4)])
        XCTAssertEqual(config.peers, [:])
        XCTAssertEqual(config.readConsistency, .linearizable)
        XCTAssertEqual(config.region, "us-east-1")
        XCTAssertNil(config.pidFile)
        XCTAssertEqual(config.snapshotEveryEntries, NodeConfig(id: NodeID(4)).snapshotEveryEntries)
        XCTAssertEqual(config.eventLoopThreads, ServerConfig.eventLoopThreadsDefault)
    }

    /// `keyraft dev` gives each node its share of the host's cores, and the file it writes loads.
    func testDevClusterSharesTheCoresBetweenItsNodes() throws {
        XCTAssertEqual(DevCluster.eventLoopThreads(nodeCount: 3, coreCount: 2), 1)
        XCTAssertEqual(DevCluster.eventLoopThreads(nodeCount: 1, coreCount: 2), 2)
        XCTAssertEqual(DevCluster.eventLoopThreads(nodeCount: 3, coreCount: 8), 2)
        XCTAssertEqual(DevCluster.eventLoopThreads(nodeCount: 1, coreCount: 64), 4)
        let cluster = try DevCluster(directory: scratch.file("dev"), nodeCount: 3)
        try cluster.prepare()
        for node in 1...3 {
            let config = try ServerConfig.load(path: cluster.configPath(node))
            XCTAssertEqual(config.eventLoopThreads,
                           DevCluster.eventLoopThreads(nodeCount: 3, coreCount: System.coreCount))
        }
    }

    func testSnapshotIntervalOutOfRangeIsRefused() {
        assertInvalid(["snapshotEveryEntries": "snapshotEveryEntries: 0"], mentions: "snapshotEveryEntries")
        assertInvalid(["snapshotEveryEntries": "snapshotEveryEntries: 99999999"], mentions: "snapshotEveryEntries")
        assertInvalid(["eventLoopThreads": "eventLoopThreads: 0"], mentions: "eventLoopThreads")
    }

    func testNodeIDZeroIsRefused() {
        assertInvalid(["nodeId": "nodeId: 0"], mentions: "nodeId")
    }

    func testBadAddressesAreRefusedNamingTheField() {
        assertInvalid(["peerAddress": "peerAddress: 127.0.0.1"], mentions: "peerAddress")
        assertInvalid(["peerAddress": "peerAddress: \"127.0.0.1:\""], mentions: "peerAddress")
        assertInvalid(["apiAddress": "apiAddress: \"127.0.0.1:70000\""], mentions: "apiAddress")
        assertInvalid(["apiAddress": "apiAddress: \":8101\""], mentions: "apiAddress")
        assertInvalid(["peers": "peers: {2: \"127.0.0.1:port\", 3: \"localhost:7103\"}"], mentions: "peers.2")
    }

    func testInitialVotersNamingAnUnknownPeerIsRefused() {
        assertInvalid(["initialVoters": "initialVoters: [1, 2, 4]"], mentions: "initialVoters")
        assertInvalid(["initialVoters": "initialVoters: [1, 2, 2]"], mentions: "initialVoters")
    }

    func testPeersNamingThisNodeIsRefused() {
        assertInvalid(["peers": "peers: {1: \"127.0.0.1:7101\", 2: \"127.0.0.1:7102\"}"], mentions: "peers")
    }

    func testUnknownReadConsistencyIsRefused() {
        assertInvalid(["readConsistency": "readConsistency: eventual"], mentions: "readConsistency")
    }

    func testMissingRequiredFieldIsRefusedNamingIt() {
        assertInvalid(["rootKeyFile": ""], mentions: "rootKeyFile")
    }

    func testRootKeyFileAndCheckFileTogetherAreRefused() {
        assertInvalid(["rootKeyFile": "rootKeyFile: root.key\nrootKeyCheckFile: root.check"], mentions: "exactly one")
    }
}

final class RootKeyFileTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory() }
    override func tearDown() { scratch?.remove() }

    private func bytes(of key: SecretBytes) -> [UInt8] { key.withUnsafeBytes { Array($0) } }

    private func assertLoadFails(_ path: String, mentions expected: String, hiding secret: String? = nil,
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try RootKeyFile.load(path: path), file: file, line: line) { error in
            XCTAssertTrue(error is RootKeyFile.Invalid, "\(type(of: error)): \(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(expected), "'\(error)' does not say \(expected)", file: file, line: line)
            if let secret {
                XCTAssertFalse("\(error)".contains(secret), "the message shows the file's content", file: file, line: line)
                XCTAssertFalse("\(error)".contains(secret.prefix(8)), "the message shows the file's content", file: file, line: line)
            }
        }
    }

    func testCreateThenLoadRoundTrips() throws {
        let path = scratch.file("root.key")
        try RootKeyFile.create(path: path)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text.count, 65)
        XCTAssertTrue(text.hasSuffix("\n"))
        let hex = Array(text.utf8.dropLast())
        let expected = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
        let key = try RootKeyFile.load(path: path)
        XCTAssertEqual(key.count, RootKeyFile.keyBytes)
        XCTAssertEqual(bytes(of: key), expected)
        XCTAssertNotEqual(expected, [UInt8](repeating: 0, count: 32))
        // A second file holds another key; an existing file is never replaced.
        let other = scratch.file("other.key")
        try RootKeyFile.create(path: other)
        XCTAssertNotEqual(bytes(of: try RootKeyFile.load(path: other)), expected)
        XCTAssertThrowsError(try RootKeyFile.create(path: path))
        XCTAssertEqual(bytes(of: try RootKeyFile.load(path: path)), expected, "the refused create left the key alone")
    }

    func testUppercaseHexWithoutNewlineLoads() throws {
        let path = scratch.file("upper.key")
        try writeFile(String(repeating: "A5", count: 32), to: path, mode: 0o600)
        XCTAssertEqual(bytes(of: try RootKeyFile.load(path: path)), [UInt8](repeating: 0xA5, count: 32))
    }

    func testModeReadableByOthersIsRefused() throws {
        let path = scratch.file("root.key")
        try RootKeyFile.create(path: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        assertLoadFails(path, mentions: "644")
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        assertLoadFails(path, mentions: "640")
    }

    func testWrongLengthIsRefused() throws {
        let path = scratch.file("short.key")
        let short = String(repeating: "c0ffee", count: 10) + "12" // 62 characters
        try writeFile(short + "\n", to: path, mode: 0o600)
        assertLoadFails(path, mentions: "64 hexadecimal", hiding: short)
        let long = String(repeating: "0f", count: 33)
        try writeFile(long, to: path, mode: 0o600)
        assertLoadFails(path, mentions: "64 hexadecimal", hiding: long)
        try writeFile("", to: path, mode: 0o600)
        assertLoadFails(path, mentions: "64 hexadecimal")
    }

    func testNonHexIsRefusedWithoutShowingTheContent() throws {
        let path = scratch.file("bad.key")
        let content = String(repeating: "deadbeef", count: 7) + "deadbeeg"
        XCTAssertEqual(content.count, 64)
        try writeFile(content + "\n", to: path, mode: 0o600)
        assertLoadFails(path, mentions: "not hexadecimal", hiding: content)
        XCTAssertThrowsError(try RootKeyFile.load(path: path)) { error in
            XCTAssertFalse("\(error)".contains("deadbee"), "\(error)")
            XCTAssertFalse("\(error)".contains("'g'") || "\(error)".contains("\"g\""), "the bad character is not shown: \(error)")
        }
    }

    func testMissingFileIsRefused() {
        assertLoadFails(scratch.file("absent.key"), mentions: "cannot be read")
    }
}

/// The example configurations in `Cluster/` must load: the runbook tells operators to copy them.
final class ExampleConfigurationTests: XCTestCase {
    func testEveryExampleConfigurationLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Cluster")
        var loaded = 0
        for folder in ["three-hosts", "five-hosts"] {
            let directory = root.appendingPathComponent(folder)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
            XCTAssertEqual(files.count, folder == "three-hosts" ? 3 : 5, folder)
            for file in files {
                let config = try ServerConfig.load(path: directory.appendingPathComponent(file).path)
                XCTAssertEqual(config.initialVoters.count, files.count, file)
                XCTAssertEqual(config.peers.count, files.count - 1, file)
                XCTAssertNotNil(config.adminAddress, file)
                loaded += 1
            }
        }
        XCTAssertEqual(loaded, 8)
    }
}
