import KMS
import KeyraftNode
import RaftCore

/// What one run produced.
public struct SimResult: Sendable {
    public let seed: UInt64
    public let traceHash: String
    public let failure: SimFailure?
    public let simulatedMs: Int64
    public let events: Int
    public let requestsCompleted: Int
    public let historyOps: Int
    public let linearizability: String
}

/// Runs the real node code — Raft core, node driver, KMS state machine — on simulated
/// machines, network and time, under the faults the parameters ask for.
///
/// A run has two phases. Faults are injected during the fault phase; then every fault
/// heals (all restartable nodes restart, links heal) and the cluster must elect a leader,
/// finish every pending request and converge within the liveness budget.
public final class Simulator {
    let world: SimWorld
    let workload: KMSWorkload
    let raftChecker = RaftChecker()
    private var events = 0
    private var livenessPhase = false
    static let eventsMax = 50_000_000

    public init(parameters: SimParameters, printTrace: Bool = false) {
        world = SimWorld(parameters: parameters)
        if printTrace {
            world.trace.printer = { [unowned world] text in print("\(world.nowMs) \(text)") }
        }
        workload = KMSWorkload(world: world, random: world.random.fork())
        world.buildMachines()
        world.onNodeStarted = { [unowned self] machine in self.observe(machine) }
    }

    public func run() -> SimResult {
        let p = world.parameters
        boot()
        for client in 0..<p.clients { world.schedule(.client(client), in: 200 + Int64(client) * 7) }
        world.schedule(.fault, in: world.random.int64(p.faultIntervalMs))
        if let at = p.addLearnerAtMs { world.schedule(.addLearner, in: at) }
        var failure = runUntil(p.faultPhaseMs)
        if failure == nil { failure = livenessAndConvergence() }
        var linearizability = "not checked"
        if failure == nil {
            let (verdict, problem) = LinearizabilityCheck.run(history: workload.history, parameters: p)
            linearizability = verdict
            failure = problem
        }
        world.trace.add("end \(failure.map { "\($0)" } ?? "ok")")
        return SimResult(seed: p.seed, traceHash: world.trace.hex, failure: failure, simulatedMs: world.nowMs,
                         events: events, requestsCompleted: workload.completed, historyOps: workload.history.count,
                         linearizability: linearizability)
    }

    // MARK: Phases

    /// Starts the machines without workload or faults (tests drive the cluster themselves).
    func boot() {
        for machine in world.machines where machine.id != world.joinerID { world.start(machine) }
    }

    /// Runs the event loop `durationMs` further (tests).
    func advance(byMs durationMs: Int64) -> SimFailure? { runUntil(world.nowMs + durationMs) }

    private func runUntil(_ endMs: Int64) -> SimFailure? {
        while let nextTime = world.queue.nextTime, nextTime <= endMs {
            let (time, event) = world.queue.pop()!
            world.advance(to: time)
            handle(event)
            events += 1
            precondition(events <= Simulator.eventsMax, "event budget exhausted: a loop without a bound")
            if let failure = raftChecker.failure ?? workload.failure { return failure }
            if let text = world.durabilityViolation { return .safety(text) }
        }
        world.advance(to: max(world.nowMs, endMs))
        return nil
    }

    private func livenessAndConvergence() -> SimFailure? {
        livenessPhase = true
        world.healAll()
        let deadline = world.nowMs + world.parameters.livenessBudgetMs
        var stepMs: Int64 = 500
        while world.nowMs < deadline {
            if let failure = runUntil(min(deadline, world.nowMs + stepMs)) { return failure }
            if world.leader != nil, workload.pendingCount == 0 || workloadQuiet() {
                workload.stopped = true
                if workload.pendingCount == 0, converged() { break }
            }
            stepMs = 250
        }
        guard let leader = world.leader else {
            return .liveness("no leader \(world.parameters.livenessBudgetMs) ms after the faults healed; \(clusterSummary())")
        }
        guard workload.pendingCount == 0 else {
            return .liveness("\(workload.pendingCount) client requests still pending at the end of the liveness budget (leader n\(leader.id)): \(workload.pendingSummary()); \(clusterSummary())")
        }
        if let joiner = world.joinerID {
            guard leader.node!.status.membership.isVoter(joiner), world.machine(joiner).isUp else {
                return .liveness("n\(joiner) joined but was never promoted to a running voter; \(clusterSummary())")
            }
        }
        // Let the last commits reach every node, then compare.
        _ = runUntil(world.nowMs + 3_000)
        let reference = leader.node!.kms.state
        let deleted = Set(workload.createdKeys.filter { reference.keys[$0] == nil })
        if let failure = KMSChecks.convergence(world.machines, deletedKeys: deleted) { return failure }
        return KMSChecks.everyCiphertextDecrypts(workload.ciphertexts, on: world.machines, principal: workload.principal)
    }

    /// One line per machine, for failure reports.
    func clusterSummary() -> String {
        world.machines.map { machine in
            guard let node = machine.node else {
                return "n\(machine.id) down\(machine.refusedReason.map { " (refused: \($0))" } ?? "")"
            }
            let status = node.status
            return "n\(machine.id) \(status.softState.role) term \(status.hardState.term) vote \(status.hardState.vote.map { "\($0)" } ?? "-") commit \(status.hardState.commit) applied \(status.applied) last \(status.lastIndex) members \(status.membership)\(status.progress.isEmpty ? "" : " progress " + status.progress.map { "\($0.0):\($0.1.state)/m\($0.1.match)/n\($0.1.next)/i\($0.1.inflightMsgs)\($0.1.isPaused ? "/paused" : "")" }.joined(separator: ","))\(node.haltReason.map { " halted: \($0)" } ?? "")"
        }.joined(separator: "; ")
    }

    private func workloadQuiet() -> Bool { world.nowMs > world.parameters.faultPhaseMs + 5_000 }

    private func converged() -> Bool {
        let applied = world.machines.compactMap { $0.isUp ? $0.node!.appliedIndex : nil }
        return Set(applied).count == 1
    }

    // MARK: Events

    private func handle(_ event: SimEvent) {
        switch event {
        case let .tick(id, incarnation):
            let machine = world.machine(id)
            guard machine.incarnation == incarnation, let node = machine.node else { return }
            if !machine.paused, machine.busyUntilMs <= world.nowMs {
                node.tick()
                noticeHalt(machine)
            }
            world.schedule(.tick(id, incarnation: incarnation), in: world.tickInterval(machine))
        case let .deliver(delivery):
            let machine = world.machine(delivery.to)
            guard !world.isBlocked(delivery.from, delivery.to), let node = machine.node, !machine.paused else { return }
            if machine.busyUntilMs > world.nowMs {
                world.schedule(.deliver(delivery), in: machine.busyUntilMs - world.nowMs)
                return
            }
            world.trace.add(delivery.from.rawValue, delivery.to.rawValue, messageTag(delivery.message))
            node.receive(delivery.message, from: delivery.from)
            noticeHalt(machine)
        case let .client(client):
            if client < 0 { workload.retryFired(-client - 1) } else { workload.step(client) }
        case .fault:
            guard !livenessPhase else { return }
            world.injectFault()
            world.schedule(.fault, in: world.random.int64(world.parameters.faultIntervalMs))
        case .heal:
            guard !livenessPhase else { return }
            world.blocked.removeAll()
            world.trace.add("heal")
        case let .restart(id):
            let machine = world.machine(id)
            if machine.node == nil, machine.refusedReason == nil { world.start(machine) }
        case let .resume(id):
            world.machine(id).paused = false
            world.trace.add("resume n\(id)")
        case .addLearner:
            joinStep()
        }
    }

    /// Membership change during the run: the joiner is added as a learner, started, then
    /// promoted to voter once the leader accepts the promotion (it refuses until the
    /// learner has caught up). Retried every 500 ms while there is no leader.
    private func joinStep() {
        guard let joiner = world.joinerID else { return }
        let machine = world.machine(joiner)
        guard let leader = world.leader?.node else {
            world.schedule(.addLearner, in: 500)
            return
        }
        let membership = leader.status.membership
        do {
            if !membership.isLearner(joiner), !membership.isVoter(joiner) {
                try leader.proposeMembershipChange(MembershipChange(.addLearner, node: joiner))
                world.trace.add("propose add-learner n\(joiner)")
            } else if membership.isLearner(joiner) {
                try leader.proposeMembershipChange(MembershipChange(.addVoter, node: joiner))
                world.trace.add("propose promote n\(joiner)")
            } else {
                return  // a voter: done
            }
        } catch {
            world.trace.add("membership change refused: \(error)")
        }
        if machine.incarnation == 0 { world.start(machine) }
        world.schedule(.addLearner, in: 500)
    }

    private func messageTag(_ message: PeerMessage) -> UInt64 {
        switch message {
        case let .raft(m): return UInt64(m.type.rawValue) << 32 | (m.term.rawValue & 0xFFFF_FFFF)
        case .forward: return 0xF0
        case .forwardFailed: return 0xF1
        }
    }

    /// A node whose storage failed has halted: it is a crash; restart it later.
    private func noticeHalt(_ machine: SimMachine) {
        guard let node = machine.node, node.isHalted else { return }
        world.trace.add("halt n\(machine.id)")
        world.crash(machine)
        world.schedule(.restart(machine.id), in: 500)
    }

    private func observe(_ machine: SimMachine) {
        let node = machine.node!
        let id = machine.id
        raftChecker.restarted(id, from: (try? machine.disk.snapshot().metadata.index) ?? .zero)
        node.onApply = { [unowned self] entry in self.raftChecker.applied(id, entry) }
        var lastCommit = node.status.hardState.commit
        node.onHardState = { [unowned self, unowned node] hardState in
            // The entry at the new commit index is already in storage: a leader persists
            // an entry before it counts itself.
            self.raftChecker.leaderCommitted(id, previous: lastCommit, hardState: hardState, disk: machine.disk,
                                             isLeader: node.softState.role == .leader)
            lastCommit = hardState.commit
        }
        node.onRoleChange = { [unowned self, unowned node] soft in
            let term = node.status.hardState.term
            self.world.trace.add("role n\(id) \(soft.role) term \(term)")
            self.raftChecker.roleChanged(id, soft, term: term)
            if soft.role == .leader { self.raftChecker.leaderCompleteness(id, disk: machine.disk) }
        }
    }
}
