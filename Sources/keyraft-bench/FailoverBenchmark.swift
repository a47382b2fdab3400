import Foundation
import Glibc
import KMSWire
import KeyraftServer
import NIOCore
import NIOPosix
import Transport

/// `keyraft-bench failover`: on a running `keyraft dev` cluster, SIGKILLs the leader and
/// measures the time until a CreateKey succeeds on another node; restarts the killed node
/// and waits until it has caught up; repeats. Prints every run and the median.
struct FailoverBenchmark {
    let cluster: DevCluster
    let runs: Int
    let keyraftBinary: String

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let client = try SignedClient(credentials: try cluster.devCredentials(), region: cluster.region,
                                      caPath: cluster.path("ca.pem"))
        let configs = try (1...cluster.nodeCount).map { try ServerConfig.load(path: cluster.configPath($0)) }
        func status(_ node: Int, timeoutMs: Int64 = 1_000) -> [String: Any]? {
            let api = configs[node - 1].apiAddress
            guard let answer = try? client.post(host: api.host, port: api.port, target: "KeyraftAdmin.GetNodeStatus",
                                                body: Array("{}".utf8), timeoutMs: timeoutMs, group: group),
                  answer.status == 200 else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any]
        }
        func createKey(on node: Int) -> Bool {
            let api = configs[node - 1].apiAddress
            let answer = try? client.post(host: api.host, port: api.port, target: "TrentService.CreateKey",
                                          body: Array(#"{"Description":"failover"}"#.utf8), timeoutMs: 300, group: group)
            return answer?.status == 200
        }
        func leader() -> Int? {
            for node in 1...cluster.nodeCount {
                if let status = status(node), status["Role"] as? String == "Leader" { return node }
            }
            return nil
        }
        var gapsMs: [Double] = []
        print("keyraft-bench failover: \(cluster.nodeCount) nodes, \(runs) runs (SIGKILL of the leader → first successful CreateKey)")
        for run in 1...runs {
            var found: Int?
            for _ in 0..<100 where found == nil {
                found = leader()
                if found == nil { usleep(100_000) }
            }
            guard let victim = found, let pid = DevCluster.runningPID(cluster.pidPath(victim)) else {
                throw SignedClient.Failure(description: "no leader with a running process")
            }
            guard createKey(on: victim) else { throw SignedClient.Failure(description: "the leader refuses writes before the kill") }
            let killedAt = Date()
            kill(pid, SIGKILL)
            let others = (1...cluster.nodeCount).filter { $0 != victim }
            var attempt = 0
            var recoveredAt: Date?
            while recoveredAt == nil, Date().timeIntervalSince(killedAt) < 60 {
                if createKey(on: others[attempt % others.count]) { recoveredAt = Date() }
                attempt += 1
            }
            guard let recoveredAt else { throw SignedClient.Failure(description: "no write succeeded within 60 s of the kill") }
            let gapMs = recoveredAt.timeIntervalSince(killedAt) * 1_000
            gapsMs.append(gapMs)
            // Restart the killed node and wait until it has applied what the new leader committed.
            unlink(cluster.pidPath(victim))
            _ = try DevCluster.spawn(binary: keyraftBinary, arguments: ["server", "--config", cluster.configPath(victim)],
                                     logPath: cluster.path("node-\(victim).log"))
            let newLeader = leader() ?? others[0]
            let target = (status(newLeader)?["CommitIndex"] as? NSNumber)?.uint64Value ?? 0
            let restartedAt = Date()
            var caughtUp = false
            while !caughtUp, Date().timeIntervalSince(restartedAt) < 60 {
                if let status = status(victim), ((status["AppliedIndex"] as? NSNumber)?.uint64Value ?? 0) >= target,
                   status["LeaseValid"] as? Bool == true {
                    caughtUp = true
                } else {
                    usleep(100_000)
                }
            }
            guard caughtUp else { throw SignedClient.Failure(description: "node \(victim) did not catch up within 60 s of its restart") }
            print(String(format: "run %d: killed node %d (leader); first write after %.0f ms (%d attempts); restarted node caught up in %.0f ms",
                         run, victim, gapMs, attempt, Date().timeIntervalSince(restartedAt) * 1_000))
        }
        let sorted = gapsMs.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        print(String(format: "median time from SIGKILL of the leader to the first successful write: %.0f ms (min %.0f, max %.0f)",
                     median, sorted.first ?? 0, sorted.last ?? 0))
    }
}
