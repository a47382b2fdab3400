/// Everything that shapes one run. Printed first, so a failure report is complete.
public struct SimParameters: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var nodeCount = 5
    public var tickMs: Int64 = 100
    public var faultPhaseMs: Int64 = 60_000
    /// After the fault phase the cluster must converge within this budget.
    public var livenessBudgetMs: Int64 = 30_000
    public var clients = 4
    public var clientThinkMs: ClosedRange<Int64> = 5...60
    public var maxStalenessMs: Int64 = 3_000
    public var linearizableReads = false

    // Network
    public var latencyMs: ClosedRange<Int64> = 1...8
    public var latencySpikeProbability = 0.01
    public var latencySpikeMs: ClosedRange<Int64> = 50...400
    public var lossProbability = 0.0
    public var duplicateProbability = 0.0

    // Faults (per fault-interval draw)
    public var faultIntervalMs: ClosedRange<Int64> = 500...4_000
    public var crashWeight = 0
    public var crashLeaderWeight = 0
    public var crashLeaderWithTailWeight = 0
    public var rollingRestartWeight = 0
    public var tornWriteWeight = 0
    public var partitionWeight = 0
    public var isolateLeaderWeight = 0
    public var oneWayCutWeight = 0
    public var pauseWeight = 0
    public var diskLatencyWeight = 0
    public var majorityCrashWeight = 0
    public var corruptionWeight = 0
    public var clockJumpDaysWeight = 0
    public var faultDurationMs: ClosedRange<Int64> = 300...5_000
    /// Bound on clock drift: each node's clock runs at a rate in 1 ± this.
    public var clockDriftMax = 0.0
    /// Nodes of a new cluster that join later as learners (membership change during the run).
    public var addLearnerAtMs: Int64? = nil

    // Node
    public var snapshotEveryEntries = 200
    public var maxSizePerMsgBytes = 1 << 20
    public var maxInflightMsgs = 256
    public var requestTimeoutTicks = 30

    public var canaries: [String] = []

    public init(seed: UInt64) { self.seed = seed }

    public var description: String {
        var lines = [
            "seed \(seed)",
            "nodes \(nodeCount) tick_ms \(tickMs) fault_phase_ms \(faultPhaseMs) liveness_budget_ms \(livenessBudgetMs)",
            "clients \(clients) think_ms \(clientThinkMs.lowerBound)-\(clientThinkMs.upperBound) reads \(linearizableReads ? "linearizable" : "lease") max_staleness_ms \(maxStalenessMs)",
            "latency_ms \(latencyMs.lowerBound)-\(latencyMs.upperBound) spike_p \(latencySpikeProbability) spike_ms \(latencySpikeMs.lowerBound)-\(latencySpikeMs.upperBound) loss_p \(lossProbability) dup_p \(duplicateProbability)",
            "fault_interval_ms \(faultIntervalMs.lowerBound)-\(faultIntervalMs.upperBound) fault_duration_ms \(faultDurationMs.lowerBound)-\(faultDurationMs.upperBound) clock_drift_max \(clockDriftMax)",
            "weights crash \(crashWeight) crash_leader \(crashLeaderWeight) crash_leader_with_tail \(crashLeaderWithTailWeight) rolling_restart \(rollingRestartWeight) torn_write \(tornWriteWeight) partition \(partitionWeight) isolate_leader \(isolateLeaderWeight) one_way_cut \(oneWayCutWeight) pause \(pauseWeight) disk_latency \(diskLatencyWeight) majority_crash \(majorityCrashWeight) corruption \(corruptionWeight) clock_jump_days \(clockJumpDaysWeight)",
            "snapshot_every \(snapshotEveryEntries) max_msg_bytes \(maxSizePerMsgBytes) max_inflight_msgs \(maxInflightMsgs) request_timeout_ticks \(requestTimeoutTicks) add_learner_at_ms \(addLearnerAtMs.map(String.init) ?? "none")",
        ]
        lines.append("canaries \(canaries.isEmpty ? "none" : canaries.joined(separator: ","))")
        return lines.joined(separator: "\n")
    }

    /// A random fault mix for swarm testing, derived from the seed alone.
    public static func swarm(seed: UInt64) -> SimParameters {
        let r = SimRandom(seed: seed ^ 0x5EED_F00D)
        var p = SimParameters(seed: seed)
        p.nodeCount = r.pick([3, 5, 5, 7])
        p.clients = r.int(2...6)
        p.latencyMs = 1...Int64(r.int(2...20))
        p.lossProbability = r.chance(0.5) ? Double(r.int(0...10)) / 100 : 0
        p.duplicateProbability = r.chance(0.3) ? Double(r.int(0...5)) / 100 : 0
        p.crashWeight = r.int(0...3)
        p.tornWriteWeight = r.int(0...2)
        p.partitionWeight = r.int(0...3)
        p.isolateLeaderWeight = r.int(0...3)
        p.oneWayCutWeight = r.int(0...2)
        p.pauseWeight = r.int(0...2)
        p.diskLatencyWeight = r.int(0...2)
        p.majorityCrashWeight = r.int(0...1)
        p.corruptionWeight = r.chance(0.2) ? 1 : 0
        p.clockJumpDaysWeight = r.int(0...2)
        p.clockDriftMax = r.chance(0.5) ? Double(r.int(0...5)) / 100 : 0
        p.linearizableReads = r.chance(0.2)
        p.snapshotEveryEntries = r.pick([50, 200, 1000])
        p.maxSizePerMsgBytes = r.pick([1, 1_024, 4_096, 65_536, 1 << 20])
        p.maxInflightMsgs = r.pick([1, 4, 256])
        p.faultPhaseMs = Int64(r.int(20...60)) * 1000
        return p
    }
}
