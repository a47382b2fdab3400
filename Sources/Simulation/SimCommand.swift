import Foundation
@_spi(Canaries) import KeyraftNode
@_spi(Canaries) import RaftCore

/// The `keyraft-sim` command line. Exit codes: 0 every run held, 2 usage error,
/// 3 safety violation, 4 liveness failure, 5 crash (a trap inside the node code).
public enum SimCommand {
    public static let exitSafety: Int32 = 3
    public static let exitLiveness: Int32 = 4
    public static let exitCrash: Int32 = 5

    public static let usage = """
        usage: keyraft-sim [--seed S | --seeds A-B] [--scenario FILE] [--canary NAME] [--nodes N]
                           [--fault-phase-ms MS] [--quiet] [--trace] [--speed]
               keyraft-sim --list-canaries
          --seed S         run one seed (default 1); prints the parameters first, `trace <hash>` last
          --seeds A-B      swarm: each seed draws its own fault mix; stops at the first failure
          --scenario FILE  take the workload and fault mix from a scenario file (Simulations/)
          --canary NAME    switch on a deliberate bug; the run must then fail
          --speed          print simulated seconds per wall-clock second
          --trace          print every traced event (roles, faults, client outcomes) with its time
        exit status: 0 ok, 2 usage, 3 safety violation, 4 liveness failure, 5 crash
        """

    public static var canaryNames: [String] {
        RaftCanary.allCases.map(\.simulatorName) + NodeCanary.allCases.map(\.rawValue)
    }

    public static func main(_ arguments: [String]) -> Int32 {
        var seeds: ClosedRange<UInt64> = 1...1
        var swarm = false
        var scenario: Scenario?
        var canary: String?
        var nodes: Int?
        var faultPhaseMs: Int64?
        var quiet = false
        var printTrace = false
        var speed = false
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            switch flag {
            case "--list-canaries":
                for name in canaryNames { print(name) }
                return 0
            case "--seed":
                guard let value = rest.popFirst().flatMap({ UInt64($0) }) else { return usageError("--seed needs a number") }
                seeds = value...value
            case "--seeds":
                let parts = rest.popFirst()?.split(separator: "-").compactMap { UInt64($0) } ?? []
                guard parts.count == 2, parts[0] <= parts[1] else { return usageError("--seeds needs A-B") }
                seeds = parts[0]...parts[1]
                swarm = true
            case "--scenario":
                guard let path = rest.popFirst() else { return usageError("--scenario needs a file") }
                do { scenario = try Scenario.load(path: path) } catch { return usageError("\(error)") }
            case "--canary":
                guard let name = rest.popFirst(), canaryNames.contains(name) else {
                    return usageError("--canary needs one of: \(canaryNames.joined(separator: ", "))")
                }
                canary = name
            case "--nodes":
                guard let value = rest.popFirst().flatMap({ Int($0) }), [3, 5, 7].contains(value) else {
                    return usageError("--nodes is 3, 5 or 7")
                }
                nodes = value
            case "--fault-phase-ms":
                guard let value = rest.popFirst().flatMap({ Int64($0) }), value > 0 else { return usageError("--fault-phase-ms needs a number") }
                faultPhaseMs = value
            case "--quiet": quiet = true
            case "--trace": printTrace = true
            case "--speed": speed = true
            default: return usageError("unknown argument \(flag)")
            }
        }
        installCrashHandler()
        var ran = 0
        for seed in seeds {
            var parameters = scenario?.parameters(seed: seed) ?? (swarm ? SimParameters.swarm(seed: seed) : SimParameters.standard(seed: seed))
            if let canary { parameters.canaries = [canary] }
            if let nodes { parameters.nodeCount = nodes }
            if let faultPhaseMs { parameters.faultPhaseMs = faultPhaseMs }
            crashSeed = seed
            let single = seeds.count == 1
            if single || !quiet { print(parameters.description) }
            // Wall time is measured outside the run and never enters it.
            let started = ContinuousClock.now
            let result = Simulator(parameters: parameters, printTrace: printTrace).run()
            let wall = ContinuousClock.now - started
            if speed {
                let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
                let simulatedSeconds = Double(result.simulatedMs) / 1000
                print("speed simulated_s \(simulatedSeconds) wall_s \(String(format: "%.3f", wallSeconds)) ratio \(Int(simulatedSeconds / wallSeconds))x events_per_s \(Int(Double(result.events) / wallSeconds))")
            }
            ran += 1
            // A failure always shows its parameters first, even under --quiet.
            if quiet, !single, result.failure != nil { print(parameters.description) }
            if single || !quiet || result.failure != nil {
                print("simulated_ms \(result.simulatedMs) events \(result.events) requests \(result.requestsCompleted) history_ops \(result.historyOps) linearizability \(result.linearizability)")
            }
            if let failure = result.failure {
                print(failure)
                print("failing seed \(seed)")
                print("reproduce: keyraft-sim \(reproduceArguments(seed: seed, swarm: swarm, scenario: scenario, canary: canary, nodes: nodes, faultPhaseMs: faultPhaseMs))")
                print("trace \(result.traceHash)")
                switch failure {
                case .safety: return exitSafety
                case .liveness: return exitLiveness
                }
            }
            if single { print("trace \(result.traceHash)") } else if !quiet { print("seed \(seed) ok trace \(result.traceHash)") }
        }
        if seeds.count > 1 { print("\(ran) seeds ok (\(seeds.lowerBound)-\(seeds.upperBound))") }
        return 0
    }

    static func reproduceArguments(seed: UInt64, swarm: Bool, scenario: Scenario?, canary: String?, nodes: Int?,
                                   faultPhaseMs: Int64?) -> String {
        var parts = [swarm ? "--seeds \(seed)-\(seed)" : "--seed \(seed)"]
        if let scenario { parts.append("--scenario \(scenario.path)") }
        if let canary { parts.append("--canary \(canary)") }
        if let nodes { parts.append("--nodes \(nodes)") }
        if let faultPhaseMs { parts.append("--fault-phase-ms \(faultPhaseMs)") }
        return parts.joined(separator: " ")
    }

    static func usageError(_ text: String) -> Int32 {
        FileHandle.standardError.write(Data("keyraft-sim: \(text)\n\(usage)\n".utf8))
        return 2
    }

    private static func installCrashHandler() {
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
            signal(sig) { _ in
                let text = "CRASH: the node code trapped\nfailing seed \(crashSeed)\n"
                text.utf8CString.withUnsafeBufferPointer { buffer in
                    _ = write(2, buffer.baseAddress, buffer.count - 1)
                }
                _exit(SimCommand.exitCrash)
            }
        }
    }
}

nonisolated(unsafe) var crashSeed: UInt64 = 0

extension SimParameters {
    /// The mix `--seed` uses without a scenario: every fault kind, moderately.
    public static func standard(seed: UInt64) -> SimParameters {
        var p = SimParameters(seed: seed)
        p.crashWeight = 2
        p.tornWriteWeight = 1
        p.partitionWeight = 2
        p.isolateLeaderWeight = 2
        p.oneWayCutWeight = 1
        p.pauseWeight = 1
        p.diskLatencyWeight = 1
        p.majorityCrashWeight = 1
        p.clockJumpDaysWeight = 1
        p.lossProbability = 0.02
        p.duplicateProbability = 0.01
        p.clockDriftMax = 0.02
        p.faultPhaseMs = 30_000
        return p
    }
}
