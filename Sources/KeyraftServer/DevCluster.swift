import APIServer
import Dispatch
import Foundation
import Glibc
import KMSWire
import KeyraftCerts
import KeyraftCrypto
import KeyraftNode
import NIOCore
import NIOPosix
import Transport

/// `keyraft dev`: a local cluster of real node processes on 127.0.0.1, created in (or
/// reused from) one folder.
///
/// Layout of the folder: `ca.pem`/`ca.key`, `node-N.pem`/`node-N.key`, `root.key` (0600),
/// `credentials.json` (0600), `node-N.yaml`, data in `node-N/`, logs in `node-N.log`, pids
/// in `node-N.pid`; once a leader is elected, `endpoints` (one URL per node) and `env`
/// (0600, to source for the aws CLI).
public struct DevCluster {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let directory: String
    public let nodeCount: Int
    public let region = "us-east-1"
    public let accountID = "111122223333"
    /// How long to wait for every node to know the leader.
    public var readyTimeoutMs: Int64 = 90_000
    /// Start sealed: the root key exists only as Shamir shares (written to `unseal-shares`,
    /// 0600, a development convenience a production cluster never has).
    public var sealed = false

    public init(directory: String, nodeCount: Int) throws {
        guard (1...9).contains(nodeCount) else { throw Failure(description: "--nodes must be between 1 and 9") }
        let absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        self.directory = URL(fileURLWithPath: absolute).standardized.path
        self.nodeCount = nodeCount
    }

    public func path(_ name: String) -> String { directory + "/" + name }
    public func configPath(_ node: Int) -> String { path("node-\(node).yaml") }
    public func pidPath(_ node: Int) -> String { path("node-\(node).pid") }

    // MARK: Layout

    /// Creates what is missing. An existing cluster keeps its CA, keys, credentials and ports.
    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let existing = (1...9).filter { FileManager.default.fileExists(atPath: configPath($0)) }
        if !existing.isEmpty {
            guard existing == Array(1...nodeCount) else {
                throw Failure(description: "\(directory) holds a cluster of \(existing.count) nodes; use --nodes \(existing.count) or another --dir")
            }
            return
        }
        let certificates = ClusterCertificates(directory: directory)
        let authority = try certificates.loadOrCreateAuthority().authority
        for node in 1...nodeCount where !FileManager.default.fileExists(atPath: certificates.nodeCertificatePath(nodeID: UInt64(node))) {
            try certificates.writeNodeCertificate(nodeID: UInt64(node), authority: authority)
        }
        if sealed {
            if !FileManager.default.fileExists(atPath: path("root.check")) {
                let shares = try RootKeyCheck.initialize(checkPath: path("root.check"), shares: 5, threshold: 3)
                try SecretFile.write(Array((shares.map(\.text).joined(separator: "\n") + "\n").utf8), to: path("unseal-shares"))
            }
        } else if !FileManager.default.fileExists(atPath: path("root.key")) {
            try RootKeyFile.create(path: path("root.key"))
        }
        if !FileManager.default.fileExists(atPath: path("credentials.json")) {
            let entropy = SystemEntropy()
            try CredentialFile.write([
                (Self.accessKeyID(entropy), Self.secret(entropy), "arn:aws:iam::\(accountID):user/dev", accountID, ["kms:*", "keyraft:*"]),
                (Self.accessKeyID(entropy), Self.secret(entropy), "arn:aws:iam::\(accountID):user/limited", accountID,
                 ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]),
            ], to: path("credentials.json"))
        }
        let ports = try Self.freePorts(3 * nodeCount)
        for node in 1...nodeCount {
            let peers = (1...nodeCount).filter { $0 != node }
                .map { "  \($0): \"127.0.0.1:\(ports[3 * ($0 - 1)])\"" }.joined(separator: "\n")
            let yaml = """
            # keyraft dev: node \(node) of \(nodeCount). Paths are relative to this file.
            nodeId: \(node)
            dataDir: node-\(node)
            peerAddress: "127.0.0.1:\(ports[3 * (node - 1)])"
            apiAddress: "127.0.0.1:\(ports[3 * (node - 1) + 1])"
            adminAddress: "127.0.0.1:\(ports[3 * (node - 1) + 2])"
            peers:\(peers.isEmpty ? " {}" : "\n" + peers)
            initialVoters: [\((1...nodeCount).map(String.init).joined(separator: ", "))]
            tls:
              certificate: node-\(node).pem
              privateKey: node-\(node).key
              ca: ca.pem
            \(sealed ? "rootKeyCheckFile: root.check" : "rootKeyFile: root.key")
            credentialsFile: credentials.json
            region: \(region)
            accountId: "\(accountID)"
            tickMs: 100
            electionTimeoutTicks: 10
            readConsistency: lease
            maxStalenessMs: 5000
            pidFile: node-\(node).pid
            logLevel: info
            # The nodes share this host's \(System.coreCount) cores.
            eventLoopThreads: \(Self.eventLoopThreads(nodeCount: nodeCount, coreCount: System.coreCount))

            """
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: configPath(node)), options: .atomic)
        }
    }

    /// Event-loop threads per node when `nodeCount` nodes share `coreCount` cores: their
    /// share of the cores, 1 to 4. More loops than cores only adds thread hops and context
    /// switches (docs/BENCHMARKS.md: three nodes on two cores serve Decrypt faster with one
    /// loop each than with two); a node alone on its host keeps the server's default.
    public static func eventLoopThreads(nodeCount: Int, coreCount: Int) -> Int {
        precondition(nodeCount >= 1 && coreCount >= 1, "a cluster has nodes and a host has cores")
        return max(1, min(4, coreCount / nodeCount))
    }

    static func accessKeyID(_ entropy: SystemEntropy) throws -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return "AKIA" + String(try entropy.bytes(count: 16).map { alphabet[Int($0 & 31)] })
    }

    static func secret(_ entropy: SystemEntropy) throws -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        return String(try entropy.bytes(count: 40).map { alphabet[Int($0 & 63)] })
    }

    /// Ports the system hands out now, all distinct (held open until every one is chosen).
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure(description: "cannot open a socket to find a free port") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw Failure(description: "cannot bind a socket to find a free port") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }

    // MARK: Processes

    /// Starts every node that is not running, waits until all of them follow one leader,
    /// writes `endpoints` and `env`, and returns the API endpoints.
    public func start(binary: String, output: (String) -> Void) throws -> [String] {
        unlink(path("endpoints"))
        unlink(path("env"))
        signal(SIGCHLD, SIG_IGN) // children are reaped by the system; `kill(pid, 0)` sees them go
        var configs: [ServerConfig] = []
        for node in 1...nodeCount {
            let config = try ServerConfig.load(path: configPath(node))
            configs.append(config)
            if let pid = Self.runningPID(pidPath(node)) {
                output("node \(node) is already running (pid \(pid))")
                continue
            }
            let pid = try Self.spawn(binary: binary, arguments: ["server", "--config", configPath(node)],
                                     logPath: path("node-\(node).log"))
            output("started node \(node) (pid \(pid)), log in \(path("node-\(node).log"))")
        }
        let credentials = try devCredentials()
        let client = try SignedClient(credentials: credentials, region: region, caPath: path("ca.pem"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let deadline = Date().addingTimeInterval(Double(readyTimeoutMs) / 1_000)
        var leader: UInt64?
        while Date() < deadline {
            let statuses = configs.map { config -> [String: Any]? in
                guard let answer = try? client.post(host: config.apiAddress.host, port: config.apiAddress.port,
                                                    target: "KeyraftAdmin.GetNodeStatus", body: Array("{}".utf8),
                                                    timeoutMs: 1_000, group: group),
                      answer.status == 200 else { return nil }
                return (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any]
            }
            let leaders = Set(statuses.map { ($0?["LeaderId"] as? NSNumber)?.uint64Value ?? 0 })
            // A node in linearizable read mode never holds a lease (only its leader refreshes one).
            let leases = zip(configs, statuses).allSatisfy { config, status in
                if config.readConsistency == .linearizable { return status != nil }
                return (status?["LeaseValid"] as? Bool) == true
            }
            if leaders.count == 1, let only = leaders.first, only != 0, leases {
                leader = only
                break
            }
            usleep(200_000)
        }
        guard let leader else {
            throw Failure(description: "no leader within \(readyTimeoutMs / 1_000) s; see the node logs in \(directory)")
        }
        let endpoints = configs.map { "https://\($0.apiAddress.host):\($0.apiAddress.port)" }
        try Data((endpoints.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path("endpoints")), options: .atomic)
        let env = """
        # Source this file: . \(path("env"))
        export AWS_ENDPOINT_URL_KMS=\(endpoints[0])
        export AWS_CA_BUNDLE=\(path("ca.pem"))
        export AWS_ACCESS_KEY_ID=\(credentials.accessKeyID)
        export AWS_SECRET_ACCESS_KEY=\(credentials.secretAccessKey)
        export AWS_REGION=\(region)
        export AWS_DEFAULT_REGION=\(region)
        export KEYRAFT_ENDPOINTS=\(endpoints.joined(separator: ","))

        """
        try SecretFile.write(Array(env.utf8), to: path("env"))
        output("leader: node \(leader)")
        return endpoints
    }

    /// The first credential of `credentials.json` (the dev user with every permission).
    public func devCredentials() throws -> SigV4Credentials {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("credentials.json")))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let first = (object["credentials"] as? [[String: Any]])?.first,
              let key = first["accessKeyId"] as? String, let secret = first["secretAccessKey"] as? String
        else { throw Failure(description: "\(path("credentials.json")) lists no credential") }
        return SigV4Credentials(accessKeyID: key, secretAccessKey: secret)
    }

    /// Sends SIGTERM to every node with a pid file, waits up to `graceMs`, then SIGKILLs
    /// the rest.
    public func stopAll(graceMs: Int64 = 15_000, output: (String) -> Void) {
        var running: [(Int, pid_t)] = []
        for node in 1...nodeCount {
            if let pid = Self.runningPID(pidPath(node)) {
                kill(pid, SIGTERM)
                running.append((node, pid))
            }
        }
        let deadline = Date().addingTimeInterval(Double(graceMs) / 1_000)
        while Date() < deadline, running.contains(where: { kill($0.1, 0) == 0 }) { usleep(50_000) }
        for (node, pid) in running where kill(pid, 0) == 0 {
            output("node \(node) did not stop in time; killing it")
            kill(pid, SIGKILL)
            unlink(pidPath(node))
        }
        output("stopped \(running.count) node(s)")
    }

    /// The pid in `pidFile` if that process is alive.
    public static func runningPID(_ pidFile: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              kill(pid, 0) == 0 else { return nil }
        return pid
    }

    public static func spawn(binary: String, arguments: [String], logPath: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([binary] + arguments).map { strdup($0) }
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, binary, &actions, nil, argv + [nil], environ)
        guard result == 0 else { throw Failure(description: "cannot start \(binary): \(String(cString: strerror(result)))") }
        return pid
    }
}
