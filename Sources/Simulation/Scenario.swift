import Foundation

/// A scenario file: a workload and fault mix as `key = value` lines, `#` comments.
/// Keys are the parameter names `keyraft-sim` prints (e.g. `crash_weight = 3`).
public struct Scenario {
    public let path: String
    public let name: String
    let settings: [(key: String, value: String)]

    public static func load(path: String) throws -> Scenario {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var settings: [(String, String)] = []
        var name = (path as NSString).lastPathComponent
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ScenarioError(text: "\(path):\(number + 1): expected `key = value`")
            }
            if parts[0] == "name" { name = parts[1] } else { settings.append((parts[0], parts[1])) }
        }
        var probe = SimParameters(seed: 1)
        for (key, value) in settings {
            guard probe.set(key, value) else { throw ScenarioError(text: "\(path): unknown key or bad value: \(key) = \(value)") }
        }
        return Scenario(path: path, name: name, settings: settings)
    }

    func parameters(seed: UInt64) -> SimParameters {
        var p = SimParameters(seed: seed)
        for (key, value) in settings { _ = p.set(key, value) }
        return p
    }
}

struct ScenarioError: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}

extension SimParameters {
    /// Sets one parameter by its printed name; false if the name or value is not valid.
    mutating func set(_ key: String, _ value: String) -> Bool {
        func range() -> ClosedRange<Int64>? {
            let parts = value.split(separator: "-").compactMap { Int64($0) }
            return parts.count == 2 && parts[0] <= parts[1] ? parts[0]...parts[1] : nil
        }
        let int = Int(value)
        let int64 = Int64(value)
        let double = Double(value)
        switch key {
        case "nodes": guard let int, [3, 5, 7].contains(int) else { return false }; nodeCount = int
        case "clients": guard let int, (1...64).contains(int) else { return false }; clients = int
        case "fault_phase_ms": guard let int64, int64 > 0 else { return false }; faultPhaseMs = int64
        case "liveness_budget_ms": guard let int64, int64 > 0 else { return false }; livenessBudgetMs = int64
        case "max_staleness_ms": guard let int64, int64 > 0 else { return false }; maxStalenessMs = int64
        case "reads": guard ["lease", "linearizable"].contains(value) else { return false }; linearizableReads = value == "linearizable"
        case "latency_ms": guard let r = range() else { return false }; latencyMs = r
        case "think_ms": guard let r = range() else { return false }; clientThinkMs = r
        case "fault_interval_ms": guard let r = range() else { return false }; faultIntervalMs = r
        case "fault_duration_ms": guard let r = range() else { return false }; faultDurationMs = r
        case "loss_p": guard let double, (0...1).contains(double) else { return false }; lossProbability = double
        case "dup_p": guard let double, (0...1).contains(double) else { return false }; duplicateProbability = double
        case "spike_p": guard let double, (0...1).contains(double) else { return false }; latencySpikeProbability = double
        case "clock_drift_max": guard let double, (0...0.2).contains(double) else { return false }; clockDriftMax = double
        case "snapshot_every": guard let int, int > 0 else { return false }; snapshotEveryEntries = int
        case "add_learner_at_ms": guard let int64, int64 >= 0 else { return false }; addLearnerAtMs = int64
        case "max_msg_bytes": guard let int, int >= 1 else { return false }; maxSizePerMsgBytes = int
        case "max_inflight_msgs": guard let int, int >= 1 else { return false }; maxInflightMsgs = int
        case "request_timeout_ticks": guard let int, int > 0 else { return false }; requestTimeoutTicks = int
        default:
            guard let int, int >= 0 else { return false }
            switch key {
            case "crash_weight": crashWeight = int
            case "crash_leader_weight": crashLeaderWeight = int
            case "crash_leader_with_tail_weight": crashLeaderWithTailWeight = int
            case "rolling_restart_weight": rollingRestartWeight = int
            case "torn_write_weight": tornWriteWeight = int
            case "partition_weight": partitionWeight = int
            case "isolate_leader_weight": isolateLeaderWeight = int
            case "one_way_cut_weight": oneWayCutWeight = int
            case "pause_weight": pauseWeight = int
            case "disk_latency_weight": diskLatencyWeight = int
            case "majority_crash_weight": majorityCrashWeight = int
            case "corruption_weight": corruptionWeight = int
            case "clock_jump_days_weight": clockJumpDaysWeight = int
            default: return false
            }
        }
        return true
    }
}
