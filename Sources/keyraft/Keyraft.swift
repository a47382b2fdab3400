import ArgumentParser
import Audit
import Dispatch
import Foundation
import Glibc
import KeyraftCerts
import KeyraftCrypto
import KeyraftServer
import NIOCore
import NIOPosix
import RaftCore

@main
struct Keyraft: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyraft",
        abstract: "A distributed key management service that speaks the AWS KMS API.",
        subcommands: [
            Server.self, Dev.self, Certs.self, Cluster.self, Operator.self, Backup.self, AuditCommand.self,
            EncryptFile.self, DecryptFile.self,
        ])
}

struct Server: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one node.")

    @Option(help: "The node's configuration file (YAML).")
    var config: String

    func run() throws {
        let status = ServerProcess.runUntilSignalled(configPath: config)
        if status != 0 { throw ExitCode(status) }
    }
}

struct Dev: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a local cluster on 127.0.0.1, each node its own process; Ctrl-C stops it.")

    @Option(help: "The cluster's folder: created if missing, reused if present.")
    var dir = ".keyraft-dev"

    @Option(help: "How many nodes.")
    var nodes = 3

    @Flag(help: "Start sealed: the root key is split into 5 Shamir shares (3 needed), written to DIR/unseal-shares.")
    var sealed = false

    func run() throws {
        var cluster = try DevCluster(directory: dir, nodeCount: nodes)
        cluster.sealed = sealed
        try cluster.prepare()
        let say: (String) -> Void = { print("keyraft dev: \($0)"); fflush(nil) }
        // Ctrl-C and SIGTERM stop every node, also while waiting for the leader.
        let stop = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        let endpoints: [String]
        do {
            endpoints = try cluster.start(binary: Self.ownExecutable(), output: say)
        } catch {
            say("\(error)")
            cluster.stopAll(output: say)
            throw ExitCode.failure
        }
        print("""

        Keyraft dev cluster is up (\(nodes) nodes). Endpoints (also in \(cluster.directory)/endpoints):
        \(endpoints.map { "  " + $0 }.joined(separator: "\n"))

        Try it:
          . \(cluster.directory)/env
          aws kms create-key --description demo
          aws kms create-alias --alias-name alias/demo --target-key-id <KeyId from above>
          aws kms encrypt --key-id alias/demo --plaintext fileb://<(echo hello) --query CiphertextBlob --output text
          aws kms decrypt --ciphertext-blob fileb://<(aws kms encrypt --key-id alias/demo --plaintext fileb://<(echo hello) --query CiphertextBlob --output text | base64 -d) --query Plaintext --output text | base64 -d

        Ctrl-C stops every node; running it again reuses \(cluster.directory).
        """)
        fflush(nil)
        stop.wait()
        say("stopping")
        cluster.stopAll(output: say)
        _ = sources
    }

    static func ownExecutable() -> String {
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let length = buffer.withUnsafeMutableBufferPointer { pointer in
            pointer.withMemoryRebound(to: CChar.self) { readlink("/proc/self/exe", $0.baseAddress!, $0.count - 1) }
        }
        guard length > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[..<length], as: UTF8.self)
    }
}

struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the cluster CA (or reuse it) and node and client certificates.")

    @Option(help: "Folder for ca.pem, ca.key, node-N.pem/.key and client-NAME.pem/.key.")
    var dir: String

    @Option(name: .customLong("node"), help: "A node id to issue a certificate for (repeatable).")
    var nodeIDs: [UInt64] = []

    @Option(name: .customLong("dns"), help: "A DNS name for the node certificates (repeatable; default localhost).")
    var dnsNames: [String] = []

    @Option(name: .customLong("ip"), help: "An IP address for the node certificates (repeatable; default 127.0.0.1).")
    var ipAddresses: [String] = []

    @Option(name: .customLong("client"), help: "A client certificate name (repeatable).")
    var clients: [String] = []

    @Flag(help: "Replace existing node or client certificates and keys.")
    var overwrite = false

    func run() throws {
        let certificates = ClusterCertificates(directory: dir)
        let (authority, created) = try certificates.loadOrCreateAuthority()
        print(created ? "created CA \(certificates.authorityCertificatePath)" : "using CA \(certificates.authorityCertificatePath)")
        for id in nodeIDs {
            try certificates.writeNodeCertificate(
                nodeID: id, authority: authority,
                dnsNames: dnsNames.isEmpty ? CertificateAuthority.defaultDNSNames : dnsNames,
                ipAddresses: ipAddresses.isEmpty ? CertificateAuthority.defaultIPAddresses : ipAddresses,
                overwrite: overwrite)
            print("wrote \(certificates.nodeCertificatePath(nodeID: id)) and its key")
        }
        for name in clients {
            try certificates.writeClientCertificate(name: name, authority: authority, overwrite: overwrite)
            print("wrote \(certificates.clientCertificatePath(name: name)) and its key")
        }
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Work with audit trails.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a hash-chained audit trail; name the first broken record. Exit 0 when intact, 1 when broken.")

        @Argument(help: "An audit file, or a node's audit folder (its files are checked as one chain).")
        var path: String

        @Flag(help: "The first record may continue an earlier chain (a file whose predecessors were archived).")
        var startsMidway = false

        func run() throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                print("keyraft audit verify: \(path) does not exist")
                throw ExitCode(2)
            }
            let verifier = AuditVerifier(chainStartsMidway: startsMidway)
            let result = isDirectory.boolValue ? try verifier.verify(directory: path) : try verifier.verify(file: path)
            switch result {
            case let .ok(records):
                print("ok: \(records) records, chain intact")
            case let .broken(file, line, reason):
                print("broken: \(file) line \(line): \(reason)")
                throw ExitCode.failure
            }
        }
    }
}

struct Cluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administer a running cluster through its API (SigV4, the aws CLI's environment variables).",
        subcommands: [Status.self, AddLearner.self, Promote.self, Remove.self, TransferLeader.self, Snapshot.self])

    /// Sends `operation` to the leader, found by asking every endpoint for its status.
    static func onLeader(_ operation: String, node: UInt64) throws {
        let environment = try AdminEnvironment()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let leader = environment.endpoints.first { endpoint in
            (try? environment.call("GetNodeStatus", on: endpoint, group: group))?["Role"] as? String == "Leader"
        }
        guard let leader else {
            throw SignedClient.Failure(description: "no endpoint reports itself leader; set KEYRAFT_ENDPOINTS to every node")
        }
        let answer = try environment.call(operation, body: ["NodeId": node], on: leader, group: group)
        print("\(operation) node \(node): \(answer["Proposed"] != nil ? "proposed to the leader at \(leader)" : "\(answer)")")
        print("check with: keyraft cluster status")
    }

    struct AddLearner: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-learner",
            abstract: "Add a node as a learner. Start it first with initialVoters naming the current voters; every node's config must list its address (SIGHUP reloads peers).")
        @Argument var node: UInt64
        func run() throws { try Cluster.onLeader("AddLearner", node: node) }
    }

    struct Promote: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a caught-up learner a voter.")
        @Argument var node: UInt64
        func run() throws { try Cluster.onLeader("PromoteLearner", node: node) }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a node. Refused if the voters left that are up would not be a majority, or if it leads.")
        @Argument var node: UInt64
        func run() throws { try Cluster.onLeader("RemoveNode", node: node) }
    }

    struct TransferLeader: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "transfer-leader", abstract: "Hand leadership to a voter.")
        @Argument var node: UInt64
        func run() throws { try Cluster.onLeader("TransferLeader", node: node) }
    }

    struct Snapshot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Snapshot every node's state now and compact its log; exits 1 if any node did not.")

        /// A snapshot serialises the whole state: seconds with a million keys.
        static let timeoutMs: Int64 = 120_000

        func run() throws {
            let environment = try AdminEnvironment()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            defer { try? group.syncShutdownGracefully() }
            var failed = 0
            for endpoint in environment.endpoints {
                do {
                    let answer = try environment.call("Snapshot", on: endpoint, group: group, timeoutMs: Self.timeoutMs)
                    print("\(endpoint): snapshot at index \(answer["SnapshotIndex"] ?? "?")")
                } catch {
                    failed += 1
                    print("\(endpoint): \(error)")
                }
            }
            if failed > 0 {
                print("\(failed) of \(environment.endpoints.count) node(s) did not snapshot")
                throw ExitCode.failure
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each node's role, term, commit and applied index, lag, last contact and seal state.")

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            let environment = try AdminEnvironment()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            defer { try? group.syncShutdownGracefully() }
            var rows: [[String: Any]] = []
            for endpoint in environment.endpoints {
                do {
                    var status = try environment.call("GetNodeStatus", on: endpoint, group: group)
                    status["Endpoint"] = endpoint.description
                    rows.append(status)
                } catch {
                    rows.append(["Endpoint": endpoint.description, "Error": "\(error)"])
                }
            }
            if json {
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let leader = rows.first { $0["Role"] as? String == "Leader" }
            let leaderCommit = (leader?["CommitIndex"] as? NSNumber)?.uint64Value
            if let leader {
                print("leader: node \(leader["NodeId"] ?? "?")  term \(leader["Term"] ?? "?")")
            } else {
                print("leader: none reachable")
            }
            func column(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
            print(column("node", 6) + column("role", 13) + column("term", 7) + column("commit", 9) + column("applied", 9)
                  + column("lag", 6) + column("lease", 7) + column("sealed", 8) + "endpoint")
            for row in rows {
                if let error = row["Error"] {
                    print(column("?", 6) + column("unreachable", 13) + "\(row["Endpoint"] ?? "")  \(error)")
                    continue
                }
                let applied = (row["AppliedIndex"] as? NSNumber)?.uint64Value ?? 0
                let lag = leaderCommit.map { $0 > applied ? "\($0 - applied)" : "0" } ?? "?"
                print(column("\(row["NodeId"] ?? "?")", 6) + column("\(row["Role"] ?? "?")", 13) + column("\(row["Term"] ?? "?")", 7)
                      + column("\(row["CommitIndex"] ?? "?")", 9) + column("\(applied)", 9) + column(lag, 6)
                      + column((row["LeaseValid"] as? Bool) == true ? "valid" : "stale", 7)
                      + column((row["Sealed"] as? Bool) == true ? "yes" : "no", 8) + "\(row["Endpoint"] ?? "")")
            }
            if let contacts = leader?["LastContactMs"] as? [String: Any], !contacts.isEmpty {
                print("leader last heard from: " + contacts.sorted { $0.key < $1.key }.map { "node \($0.key) \($0.value) ms ago" }.joined(separator: ", "))
            }
        }
    }
}

struct Operator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: "Root key custody: split it into Shamir shares, unseal nodes.",
        subcommands: [Init.self, Unseal.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a root key, print it once as Shamir shares, keep only its check value (rootKeyCheckFile).")

        @Option(help: "How many shares.") var shares = 5
        @Option(help: "How many shares unseal a node.") var threshold = 3
        @Option(help: "Where to write the check value; every node's config names it as rootKeyCheckFile.")
        var checkFile: String

        func run() throws {
            let split = try RootKeyCheck.initialize(checkPath: checkFile, shares: shares, threshold: threshold)
            print("Root key created and split; its check value is in \(checkFile). The key itself is stored nowhere.")
            print("Give one share to each custodian. Any \(threshold) of them unseal a node. They are shown only now.\n")
            for (index, share) in split.enumerated() { print("share \(index + 1): \(share.text)") }
        }
    }

    struct Unseal: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give one share to every node (KEYRAFT_ENDPOINTS, else AWS_ENDPOINT_URL_KMS). Reads the share from stdin unless --share is given.")

        @Option(help: "The share (keyraft-share-1-…). Prefer stdin: arguments land in shell history.")
        var share: String?

        func run() throws {
            let text = share ?? (readLine(strippingNewline: true) ?? "")
            let environment = try AdminEnvironment()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            defer { try? group.syncShutdownGracefully() }
            var failed = false
            for endpoint in environment.endpoints {
                do {
                    let answer = try environment.call("Unseal", body: ["Share": text], on: endpoint, group: group)
                    if answer["Sealed"] as? Bool == false {
                        print("\(endpoint): unsealed")
                    } else {
                        print("\(endpoint): sealed, \(answer["SharesGiven"] ?? "?") of \(answer["Threshold"] ?? "?") shares given")
                    }
                } catch {
                    failed = true
                    print("\(error)") // names the endpoint
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypted backups: a consistent snapshot sealed under a separate backup key.",
        subcommands: [NewKey.self, Create.self, Restore.self])

    struct NewKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "new-key", abstract: "Create a backup key file (0600). Keep it apart from the cluster.")
        @Option(help: "The key file to create.") var out: String
        func run() throws {
            try RootKeyFile.create(path: out)
            print("wrote \(out)")
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a consistent snapshot from the running cluster's leader (aws CLI environment variables) and write it encrypted.")
        @Option(help: "The backup file to create (0600).") var out: String
        @Option(help: "The backup key file (keyraft backup new-key).") var backupKeyFile: String
        func run() throws {
            let (index, bytes) = try Backups.create(environment: try AdminEnvironment(), output: out, backupKeyFile: backupKeyFile)
            print("wrote \(out): \(bytes) bytes, the state at applied index \(index)")
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Initialise a new node's empty data folder from a backup; do it for every node of the new cluster, then start them. The cluster needs the same root key.")
        @Option(name: .customLong("in"), help: "The backup file.") var input: String
        @Option(help: "The backup key file.") var backupKeyFile: String
        @Option(help: "The new node's configuration file.") var config: String
        func run() throws {
            let configuration = try ServerConfig.load(path: config)
            let (index, rootKeyChecked) = try Backups.restore(input: input, backupKeyFile: backupKeyFile, config: configuration)
            if !rootKeyChecked {
                print("note: a version-1 backup names no root key; make sure this node has the root key of the cluster it came from")
            }
            print("restored node \(configuration.nodeID.rawValue) in \(configuration.dataDir) at index \(index); start it with keyraft server --config \(config)")
        }
    }
}
