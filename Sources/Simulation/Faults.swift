import KeyraftNode
import RaftCore

/// Fault injection: what can go wrong during the fault phase, drawn from the seed.
extension SimWorld {
    enum FaultKind: CaseIterable {
        case crash, crashLeader, crashLeaderWithTail, rollingRestart, tornWrite, partition, isolateLeader, oneWayCut, pause, diskLatency, majorityCrash, corruption, clockJumpDays
    }

    func weight(_ kind: FaultKind) -> Int {
        let p = parameters
        switch kind {
        case .crash: return p.crashWeight
        case .crashLeader: return p.crashLeaderWeight
        case .crashLeaderWithTail: return p.crashLeaderWithTailWeight
        case .rollingRestart: return p.rollingRestartWeight
        case .tornWrite: return p.tornWriteWeight
        case .partition: return p.partitionWeight
        case .isolateLeader: return p.isolateLeaderWeight
        case .oneWayCut: return p.oneWayCutWeight
        case .pause: return p.pauseWeight
        case .diskLatency: return p.diskLatencyWeight
        case .majorityCrash: return p.majorityCrashWeight
        case .corruption: return p.corruptionWeight
        case .clockJumpDays: return p.clockJumpDaysWeight
        }
    }

    /// Draws and injects one fault, and schedules its healing.
    func injectFault() {
        let total = FaultKind.allCases.reduce(0) { $0 + weight($1) }
        guard total > 0 else { return }
        var draw = random.int(0...(total - 1))
        var chosen = FaultKind.crash
        for kind in FaultKind.allCases {
            if draw < weight(kind) {
                chosen = kind
                break
            }
            draw -= weight(kind)
        }
        let duration = random.int64(parameters.faultDurationMs)
        switch chosen {
        case .crash:
            let candidates = machines.filter { $0.node != nil }
            guard !candidates.isEmpty else { return }
            crashAndRestart(random.pick(candidates), after: duration)
        case .crashLeader:
            guard let leader else { return }
            crashAndRestart(leader, after: duration)
        case .crashLeaderWithTail:
            // The Figure 8 adversary: kill a leader while part of its log is uncommitted, so
            // different terms' tails pile up on different minorities.
            guard let leader, let node = leader.node else { return }
            let status = node.status
            guard status.lastIndex > status.hardState.commit else { return }
            crashAndRestart(leader, after: duration)
        case .rollingRestart:
            // Restart the machines one after another, in id order, each back before the next goes.
            let victim = machines[rollingCursor % machines.count]
            rollingCursor += 1
            guard victim.node != nil else { return }
            crashAndRestart(victim, after: min(duration, parameters.faultIntervalMs.lowerBound))
        case .tornWrite:
            let victim = random.pick(machines)
            victim.disk.crashDuringNextSync = true
            trace.add("torn-write armed n\(victim.id)")
        case .partition:
            let shuffled = shuffledIDs()
            let cut = random.int(1...(shuffled.count - 1))
            let side = Set(shuffled.prefix(cut).map(\.rawValue))
            for a in shuffled where side.contains(a.rawValue) {
                for b in shuffled where !side.contains(b.rawValue) {
                    block(a, b)
                    block(b, a)
                }
            }
            trace.add("partition \(side.sorted())")
            schedule(.heal, in: duration)
        case .isolateLeader:
            guard let leader else { return }
            for other in machines where other.id != leader.id {
                block(leader.id, other.id)
                block(other.id, leader.id)
            }
            trace.add("isolate-leader n\(leader.id)")
            schedule(.heal, in: duration)
        case .oneWayCut:
            let ids = shuffledIDs()
            block(ids[0], ids[1])
            trace.add("one-way-cut n\(ids[0])->n\(ids[1])")
            schedule(.heal, in: duration)
        case .pause:
            let candidates = machines.filter { $0.isUp && !$0.paused }
            guard !candidates.isEmpty else { return }
            let victim = random.pick(candidates)
            victim.paused = true
            trace.add("pause n\(victim.id)")
            schedule(.resume(victim.id), in: duration)
        case .diskLatency:
            let victim = random.pick(machines)
            victim.busyUntilMs = max(victim.busyUntilMs, nowMs + min(duration, 2_000))
            trace.add("disk-latency n\(victim.id) until \(victim.busyUntilMs)")
        case .majorityCrash:
            let majority = shuffledIDs().prefix(machines.count / 2 + 1)
            for id in majority where machine(id).node != nil { crashAndRestart(machine(id), after: duration) }
        case .corruption:
            // At most a minority may be lost for good, or the cluster could never recover.
            let corrupted = machines.filter(\.diskCorrupted).count
            guard corrupted + 1 <= (parameters.nodeCount - 1) / 2 else { return }
            // The joiner may not be a voter yet: only machines that started can be damaged.
            let candidates = machines.filter { !$0.diskCorrupted && $0.id != joinerID }
            let victim = random.pick(candidates)
            guard let index = victim.disk.corruptRandomEntry() else { return }
            victim.diskCorrupted = true
            trace.add("corrupt n\(victim.id) entry \(index)")
            crashAndRestart(victim, after: duration)
        case .clockJumpDays:
            // Days pass on every wall clock (rotations and deletions come due); sometimes one
            // node's wall clock is instead stepped back, which must not stretch its lease.
            if random.chance(0.25) {
                let victim = random.pick(machines)
                let backMs = random.int64(1_000...600_000)
                victim.clock.offsetMs -= backMs
                trace.add("clock-step-back n\(victim.id) \(backMs) ms")
            } else {
                let days = Int64(random.int(1...120))
                for machine in machines { machine.clock.offsetMs += days * 86_400_000 }
                trace.add("clock-jump \(days) days")
            }
        }
    }

    private func crashAndRestart(_ machine: SimMachine, after delayMs: Int64) {
        crash(machine)
        schedule(.restart(machine.id), in: delayMs)
    }

    /// Ends every fault: links heal, paused nodes resume, crashed nodes restart.
    func healAll() {
        blocked.removeAll()
        for machine in machines {
            machine.paused = false
            machine.busyUntilMs = min(machine.busyUntilMs, nowMs)
            machine.disk.crashDuringNextSync = false
            let joinerWaiting = machine.id == joinerID && machine.incarnation == 0
            if !joinerWaiting, machine.node == nil || machine.node?.isHalted == true, machine.refusedReason == nil {
                if machine.node != nil { crash(machine) }
                start(machine)
            }
        }
        trace.add("heal-all")
    }

    private func shuffledIDs() -> [NodeID] {
        var ids = machines.filter { $0.node != nil || $0.id != joinerID }.map(\.id)
        for i in stride(from: ids.count - 1, to: 0, by: -1) { ids.swapAt(i, random.int(0...i)) }
        return ids
    }
}
