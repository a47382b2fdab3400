@testable import RaftCore

/// A tiny seeded PRNG (SplitMix64) so every test run is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func nid(_ v: UInt64) -> NodeID { NodeID(v) }
func ids(_ vs: UInt64...) -> [NodeID] { vs.map(NodeID.init) }
func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// One simulated node: storage, core, and what it applied.
final class TestNode {
    let id: NodeID
    let storage: MemoryRaftLogStorage
    var node: RawNode
    var applied: [Entry] = []
    var appliedReads: [ReadState] = []
    var membership: Membership

    init(id: NodeID, config: RaftConfig, storage: MemoryRaftLogStorage, seed: UInt64) {
        self.id = id
        self.storage = storage
        self.node = RawNode(config: config, storage: storage, random: SplitMix64(seed: seed &+ id.rawValue))
        self.membership = (try? storage.initialState().membership) ?? Membership()
    }

    var raft: Raft { node.raft }
}

/// A deterministic in-memory cluster: a message queue, partitions, synchronous persistence.
final class TestCluster {
    var nodes: [NodeID: TestNode] = [:]
    var queue: [Message] = []
    /// Pairs (from, to) whose messages are dropped.
    var cut: Set<[UInt64]> = []
    var trace: [String] = []
    var baseConfig: (NodeID) -> RaftConfig
    let seed: UInt64

    init(voters: [NodeID], learners: [NodeID] = [], seed: UInt64 = 1,
         configure: @escaping (inout RaftConfig) -> Void = { _ in }) {
        self.seed = seed
        self.baseConfig = { id in
            var c = RaftConfig(id: id)
            c.verifyInvariants = true
            configure(&c)
            return c
        }
        let membership = Membership(voters: voters, learners: learners)
        for id in membership.allNodes { addNode(id, membership: membership) }
    }

    func addNode(_ id: NodeID, membership: Membership) {
        let storage = MemoryRaftLogStorage(membership: membership)
        nodes[id] = TestNode(id: id, config: baseConfig(id), storage: storage, seed: seed)
    }

    var sortedIDs: [NodeID] { nodes.keys.sorted() }
    subscript(_ id: UInt64) -> TestNode { nodes[NodeID(id)]! }

    /// Persists, queues messages, applies and advances one Ready. Returns it (nil if none).
    @discardableResult
    func processReady(_ id: NodeID) -> Ready? {
        guard let n = nodes[id], n.node.hasReady else { return nil }
        let rd = n.node.ready()
        if let snap = rd.snapshot {
            n.storage.applySnapshot(snap)
            n.membership = snap.metadata.membership
            n.applied.removeAll()
        }
        n.storage.append(rd.entries)
        if let hs = rd.hardState { n.storage.setHardState(hs) }
        queue.append(contentsOf: rd.messages)
        queue.append(contentsOf: rd.messagesAfterPersist)
        for e in rd.committedEntries {
            n.applied.append(e)
            if e.kind == .membershipChange, let t = MembershipTransition(encoded: e.data),
               case .success(let m) = n.membership.applying(t) {
                n.membership = m
                n.storage.setMembership(m)
            }
        }
        n.appliedReads.append(contentsOf: rd.readStates)
        n.node.advance(rd)
        return rd
    }

    func isCut(_ m: Message) -> Bool { cut.contains([m.from.rawValue, m.to.rawValue]) }

    /// Delivers queued messages (optionally only those to `to`). Returns the count delivered.
    @discardableResult
    func deliver(to: NodeID? = nil, filter: (Message) -> Bool = { _ in true }) -> Int {
        var keep: [Message] = []
        var batch: [Message] = []
        for m in queue {
            if (to == nil || m.to == to) && filter(m) { batch.append(m) } else { keep.append(m) }
        }
        queue = keep
        var delivered = 0
        for m in batch {
            guard !isCut(m), let n = nodes[m.to] else {
                trace.append("dropped \(m)")
                continue
            }
            try? n.node.step(m)
            delivered += 1
        }
        return delivered
    }

    /// Runs Ready/deliver rounds until nothing moves (bounded).
    @discardableResult
    func stabilize(maxRounds: Int = 1000, mustSettle: Bool = true) -> Bool {
        for _ in 0..<maxRounds {
            var moved = false
            for id in sortedIDs where processReady(id) != nil { moved = true }
            if !queue.isEmpty {
                deliver()
                moved = true
            }
            if !moved { return true }
        }
        precondition(!mustSettle, "cluster did not stabilize")
        return false
    }

    func isolate(_ id: NodeID) {
        for other in sortedIDs where other != id {
            cut.insert([id.rawValue, other.rawValue])
            cut.insert([other.rawValue, id.rawValue])
        }
    }

    func partition(_ groups: [[NodeID]]) {
        cut.removeAll()
        for (i, g) in groups.enumerated() {
            for (j, h) in groups.enumerated() where i != j {
                for a in g { for b in h { cut.insert([a.rawValue, b.rawValue]) } }
            }
        }
    }

    func heal() { cut.removeAll() }

    /// Campaigns `id` and stabilizes.
    func elect(_ id: UInt64) {
        self[id].node.campaign()
        stabilize()
    }

    /// Ticks `id` once and stabilizes.
    func tick(_ id: UInt64, times: Int = 1) {
        for _ in 0..<times { self[id].node.tick() }
    }

    /// Ticks every node `times` times, stabilizing after each round.
    func tickAll(_ times: Int) {
        for _ in 0..<times {
            for id in sortedIDs { nodes[id]!.node.tick() }
            stabilize()
        }
    }

    var leaders: [NodeID] { sortedIDs.filter { nodes[$0]!.raft.role == .leader } }
}

/// Builds a node whose storage already holds entries with the given terms (indices 1...n).
func makeNode(
    _ id: UInt64, voters: [UInt64], learners: [UInt64] = [], terms: [UInt64] = [],
    term: UInt64 = 0, vote: UInt64? = nil, commit: UInt64 = 0, seed: UInt64 = 1,
    configure: (inout RaftConfig) -> Void = { _ in }
) -> (RawNode, MemoryRaftLogStorage) {
    let storage = MemoryRaftLogStorage(membership: Membership(voters: voters.map(NodeID.init), learners: learners.map(NodeID.init)))
    storage.append(terms.enumerated().map { Entry(term: Term($0.element), index: LogIndex(UInt64($0.offset + 1))) })
    storage.setHardState(HardState(term: Term(term), vote: vote.map(NodeID.init), commit: LogIndex(commit)))
    var config = RaftConfig(id: NodeID(id))
    config.electionJitterDisabled = true
    config.preVote = false
    config.checkQuorum = false
    config.verifyInvariants = true
    configure(&config)
    return (RawNode(config: config, storage: storage, random: SplitMix64(seed: seed)), storage)
}

/// Persists and advances one Ready against `storage`, returning it.
@discardableResult
func drain(_ node: inout RawNode, _ storage: MemoryRaftLogStorage) -> Ready {
    let rd = node.ready()
    if let s = rd.snapshot { storage.applySnapshot(s) }
    storage.append(rd.entries)
    if let hs = rd.hardState { storage.setHardState(hs) }
    node.advance(rd)
    return rd
}

/// All messages of a Ready, in the order the caller would send them.
func sent(_ rd: Ready) -> [Message] { rd.messages + rd.messagesAfterPersist }

func msg(_ type: MessageType, _ from: UInt64, _ to: UInt64, term: UInt64, logTerm: UInt64 = 0, index: UInt64 = 0,
         entries: [Entry] = [], commit: UInt64 = 0, reject: Bool = false, hint: UInt64 = 0, context: [UInt8] = []) -> Message {
    Message(type: type, from: NodeID(from), to: NodeID(to), term: Term(term), logTerm: Term(logTerm),
            index: LogIndex(index), entries: entries, commit: LogIndex(commit), reject: reject,
            rejectHint: LogIndex(hint), context: context)
}

func ent(_ term: UInt64, _ index: UInt64, _ data: String = "") -> Entry {
    Entry(term: Term(term), index: LogIndex(index), data: Array(data.utf8))
}

/// Makes `node` leader of `term` by campaigning and granting every vote.
func makeLeader(_ node: inout RawNode, _ storage: MemoryRaftLogStorage, voters: [UInt64]) {
    node.campaign()
    let rd = drain(&node, storage)
    let term = node.raft.term.rawValue
    for m in sent(rd) where m.type == .requestVote {
        try! node.step(msg(.voteResponse, m.to.rawValue, node.raft.id.rawValue, term: term))
    }
    precondition(node.raft.role == .leader || voters.count == 1, "did not become leader")
}

/// Runs `body` and returns the `RaftError` it threw, or nil.
func raftError(_ body: () throws(RaftError) -> Void) -> RaftError? {
    do { try body() } catch { return error }
    return nil
}
