@_spi(Canaries) @testable import RaftCore

/// Interprets the scripted interaction format in testdata/*.txt against a `TestCluster`.
/// Each command's output is the trace of Ready handling (state, entries, messages, commits).
final class InteractionEnv {
    var cluster: TestCluster?
    var options: [String: String] = [:]

    private var c: TestCluster {
        guard let cluster else { preconditionFailure("add-nodes first") }
        return cluster
    }

    func run(_ line: String) -> [String] {
        let words = line.split(separator: " ").map(String.init)
        guard let cmd = words.first else { return [] }
        let args = Array(words.dropFirst()).filter { !$0.contains("=") }
        var kv: [String: String] = [:]
        for w in words.dropFirst() where w.contains("=") {
            let parts = w.split(separator: "=", maxSplits: 1).map(String.init)
            kv[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        let out = dispatch(cmd, args, kv)
        return out.isEmpty ? ["ok"] : out
    }

    private func id(_ s: String) -> NodeID { NodeID(UInt64(s)!) }
    private func idList(_ s: String?) -> [NodeID] {
        guard let s, !s.isEmpty else { return [] }
        return s.split(separator: ",").map { NodeID(UInt64($0)!) }
    }

    private func dispatch(_ cmd: String, _ a: [String], _ kv: [String: String]) -> [String] {
        switch cmd {
        case "add-nodes": return addNodes(Int(a[0])!, kv)
        case "campaign":
            c.nodes[id(a[0])]!.node.campaign()
            return []
        case "propose":
            return attempt { () throws(RaftError) in try self.c.nodes[self.id(a[0])]!.node.propose(Array(a[1].utf8)) }
        case "propose-joint":
            var changes: [MembershipChange] = []
            var i = 1
            while i + 1 < a.count {
                let kind: MembershipChange.Kind = a[i] == "add-voter" ? .addVoter : a[i] == "add-learner" ? .addLearner : .removeNode
                changes.append(MembershipChange(kind, node: id(a[i + 1])))
                i += 2
            }
            return attempt { () throws(RaftError) in try self.c.nodes[self.id(a[0])]!.node.proposeJointMembershipChange(changes) }
        case "propose-conf-change":
            let kind: MembershipChange.Kind = a[1] == "add-voter" ? .addVoter : a[1] == "add-learner" ? .addLearner : .removeNode
            let change = MembershipChange(kind, node: id(a[2]))
            return attempt { () throws(RaftError) in try self.c.nodes[self.id(a[0])]!.node.proposeMembershipChange(change) }
        case "read-index":
            return attempt { () throws(RaftError) in try self.c.nodes[self.id(a[0])]!.node.readIndex(context: Array(a[1].utf8)) }
        case "transfer-leadership":
            return attempt { () throws(RaftError) in try self.c.nodes[self.id(a[0])]!.node.transferLeadership(to: self.id(a[1])) }
        case "tick":
            for _ in 0..<(a.count > 1 ? Int(a[1])! : 1) { c.nodes[id(a[0])]!.node.tick() }
            return []
        case "tick-election": return tickElection(id(a[0]))
        case "tick-heartbeat":
            for _ in 0..<c.nodes[id(a[0])]!.raft.config.heartbeatTimeoutTicks { c.nodes[id(a[0])]!.node.tick() }
            return []
        case "process-ready": return a.flatMap { processReady(id($0)) }
        case "deliver-msgs": return deliver(kv)
        case "drop-msgs": return dropMsgs(kv)
        case "stabilize": return stabilize()
        case "partition": return partition(a)
        case "isolate":
            c.isolate(id(a[0]))
            return ["isolated \(a[0])"]
        case "heal":
            c.heal()
            return ["healed"]
        case "restart": return restart(id(a[0]))
        case "compact": return compact(id(a[0]), LogIndex(UInt64(a[1])!))
        case "status": return status(id(a[0]))
        case "raft-log": return raftLog(id(a[0]))
        case "raft-state": return raftState()
        case "applied": return c.nodes[id(a[0])]!.applied.map(entryText)
        case "report-unreachable":
            c.nodes[id(a[0])]!.node.reportUnreachable(id(a[1]))
            return []
        case "report-snapshot":
            c.nodes[id(a[0])]!.node.reportSnapshot(to: id(a[1]), succeeded: a[2] == "ok")
            return []
        default: preconditionFailure("unknown command \(cmd)")
        }
    }

    private func attempt(_ body: () throws(RaftError) -> Void) -> [String] {
        do { try body() } catch { return ["error: \(error)"] }
        return []
    }

    private func addNodes(_ count: Int, _ kv: [String: String]) -> [String] {
        let existing = cluster?.nodes.count ?? 0
        let newIDs = (1...count).map { NodeID(UInt64(existing + $0)) }
        let voters = kv["voters"].map { idList($0) } ?? newIDs
        let learners = idList(kv["learners"])
        let configure: (inout RaftConfig) -> Void = { cfg in
            cfg.electionJitterDisabled = true
            cfg.verifyInvariants = true
            cfg.preVote = (kv["prevote"] ?? "false") == "true"
            cfg.checkQuorum = (kv["checkquorum"] ?? "false") == "true"
            if let v = kv["inflight"] { cfg.maxInflightMsgs = Int(v)! }
            if let v = kv["election"] { cfg.electionTimeoutTicks = Int(v)! }
            if let v = kv["heartbeat"] { cfg.heartbeatTimeoutTicks = Int(v)! }
            if let v = kv["inflightbytes"] { cfg.maxInflightBytes = Int(v)! }
            if let v = kv["maxsize"] { cfg.maxSizePerMsgBytes = Int(v)! }
            if let v = kv["uncommitted"] { cfg.maxUncommittedEntriesBytes = Int(v)! }
            if let v = kv["canaries"] { cfg.canaries = v.split(separator: ",").map { RaftCanary(rawValue: String($0))! } }
        }
        let membership = Membership(voters: voters, learners: learners)
        let c = cluster ?? TestCluster(voters: [], seed: 1)
        cluster = c
        // Options apply to the nodes added by this command; a restart keeps a node's own.
        c.baseConfig = { id in
            var cfg = RaftConfig(id: id)
            configure(&cfg)
            return cfg
        }
        // Every node of a script starts from the same bootstrap membership (index 0).
        for id in newIDs { c.addNode(id, membership: membership) }
        return newIDs.map { "INFO \($0) started: \(membership)" }
    }

    private func tickElection(_ node: NodeID) -> [String] {
        let n = c.nodes[node]!
        let ticks = n.raft.role == .leader ? n.raft.config.electionTimeoutTicks : n.raft.randomizedElectionTimeoutTicks
        for _ in 0..<ticks { n.node.tick() }
        return []
    }

    private func processReady(_ node: NodeID) -> [String] {
        guard let rd = c.processReady(node) else { return [] }
        return describe(node, rd)
    }

    private func describe(_ node: NodeID, _ rd: Ready) -> [String] {
        var out = ["> \(node) handling Ready"]
        if let s = rd.softState { out.append("  State: \(s)") }
        if let h = rd.hardState { out.append("  HardState \(h)\(rd.mustSync ? " (sync)" : "")") }
        if let s = rd.snapshot { out.append("  Snapshot: \(s.metadata)") }
        if !rd.entries.isEmpty { out.append("  Entries: " + rd.entries.map(entryText).joined(separator: ", ")) }
        for m in rd.messages { out.append("  send \(msgText(m))") }
        for m in rd.messagesAfterPersist { out.append("  send after persist \(msgText(m))") }
        if !rd.committedEntries.isEmpty { out.append("  Apply: " + rd.committedEntries.map(entryText).joined(separator: ", ")) }
        for r in rd.readStates { out.append("  ReadState index=\(r.index) ctx=\(String(decoding: r.requestContext, as: UTF8.self))") }
        return out
    }

    private func entryText(_ e: Entry) -> String {
        if e.kind == .membershipChange, let t = MembershipTransition(encoded: e.data) { return "\(e.term)/\(e.index) conf(\(t))" }
        return "\(e.term)/\(e.index) \"\(String(decoding: e.data, as: UTF8.self))\""
    }

    private func msgText(_ m: Message) -> String {
        var s = "\(m.from)->\(m.to) \(m.type) Term:\(m.term) Log:\(m.logTerm)/\(m.index)"
        if m.commit != .zero { s += " Commit:\(m.commit)" }
        if m.reject { s += " Rejected (Hint: \(m.rejectHint))" }
        if !m.entries.isEmpty { s += " Entries:[" + m.entries.map(entryText).joined(separator: ", ") + "]" }
        if let snap = m.snapshot { s += " Snapshot[\(snap.metadata)]" }
        if !m.context.isEmpty {
            let ctx = m.type == .transferLeader ? "\(m.context.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })"
                : String(decoding: m.context, as: UTF8.self)
            s += " Context:\(ctx)"
        }
        return s
    }

    private func deliver(_ kv: [String: String]) -> [String] {
        let target = kv["to"].map { id($0) }
        let pending = c.queue.filter { target == nil || $0.to == target }
        c.deliver(to: target)
        return pending.map { m in
            (c.isCut(m) || c.nodes[m.to] == nil ? "dropped: " : "deliver ") + msgText(m)
        }
    }

    private func dropMsgs(_ kv: [String: String]) -> [String] {
        let target = kv["to"].map { id($0) }
        let type = kv["type"]
        let dropped = c.queue.filter { (target == nil || $0.to == target) && (type == nil || "\($0.type)" == type) }
        c.queue.removeAll { m in dropped.contains(m) }
        return dropped.map { "dropped: \(msgText($0))" }
    }

    private func stabilize() -> [String] {
        var out: [String] = []
        for _ in 0..<1000 {
            var moved = false
            for node in c.sortedIDs {
                let r = processReady(node)
                if !r.isEmpty { moved = true; out += r }
            }
            if !c.queue.isEmpty {
                let dropped = c.queue.filter { c.isCut($0) || c.nodes[$0.to] == nil }
                c.deliver()
                out += dropped.map { "dropped: \(msgText($0))" }
                moved = true
            }
            if !moved { return out }
        }
        preconditionFailure("did not stabilize")
    }

    private func partition(_ a: [String]) -> [String] {
        var groups: [[NodeID]] = [[]]
        for w in a {
            if w == "|" { groups.append([]) } else { groups[groups.count - 1].append(id(w)) }
        }
        c.partition(groups)
        return ["partitioned " + groups.map { $0.map(\.description).joined(separator: ",") }.joined(separator: " | ")]
    }

    /// Crash and restart: volatile state is lost, storage (all of it synced here) survives.
    private func restart(_ node: NodeID) -> [String] {
        let old = c.nodes[node]!
        var cfg = old.raft.config
        cfg.appliedIndex = old.raft.log.applied
        c.queue.removeAll { $0.from == node || $0.to == node }
        let fresh = TestNode(id: node, config: cfg, storage: old.storage, seed: c.seed)
        fresh.membership = old.membership
        c.nodes[node] = fresh
        return ["restarted \(node): \(fresh.raft.hardState) applied=\(fresh.raft.log.applied)"]
    }

    private func compact(_ node: NodeID, _ index: LogIndex) -> [String] {
        let n = c.nodes[node]!
        precondition(index <= n.node.compactableIndex, "compacting beyond applied")
        n.storage.createSnapshot(at: index, membership: n.membership, data: Array("snap@\(index)".utf8))
        n.storage.compact(upTo: index)
        return ["compacted \(node) up to \(index); first index \((try? n.storage.firstIndex())!)"]
    }

    private func status(_ node: NodeID) -> [String] {
        let s = c.nodes[node]!.node.status
        var out = ["\(s.id): \(s.softState) \(s.hardState) applied=\(s.applied) last=\(s.lastIndex) \(s.membership)"]
        if let t = s.leadTransferee { out.append("  transferring to \(t)") }
        for (peer, p) in s.progress {
            out.append("  \(peer): \(p.state) match=\(p.match) next=\(p.next) inflight=\(p.inflightMsgs)"
                + (p.isPaused ? " paused" : "") + (p.isLearner ? " learner" : ""))
        }
        return out
    }

    private func raftLog(_ node: NodeID) -> [String] {
        let r = c.nodes[node]!.raft
        guard let ents = try? r.log.slice(r.log.firstIndex, r.log.lastIndex + 1, maxBytes: Int.max), !ents.isEmpty else {
            return ["log is empty: first index=\(r.log.firstIndex), last index=\(r.log.lastIndex)"]
        }
        return ents.map(entryText)
    }

    private func raftState() -> [String] {
        c.sortedIDs.map { id in
            let r = c.nodes[id]!.raft
            return "\(id): \(r.role) term=\(r.term) lead=\(r.lead.map(\.description) ?? "none") commit=\(r.log.committed)"
        }
    }
}
