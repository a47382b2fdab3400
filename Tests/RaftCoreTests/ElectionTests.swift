import Testing
@testable import RaftCore

/// Must-have 1: leader election with randomized timeouts, pre-vote and check-quorum.
@Suite struct ElectionTests {
    @Test func randomizedTimeoutsStayInRangeAndDiffer() {
        var seen = Set<Int>()
        for seed: UInt64 in 1...20 {
            var config = RaftConfig(id: nid(1))
            config.electionTimeoutTicks = 10
            let storage = MemoryRaftLogStorage(membership: Membership(voters: ids(1, 2, 3)))
            var n = RawNode(config: config, storage: storage, random: SplitMix64(seed: seed))
            for _ in 0..<5 {
                let t = n.raft.randomizedElectionTimeoutTicks
                #expect(t >= 10 && t < 20)
                seen.insert(t)
                n.raft.resetRandomizedElectionTimeout()
            }
        }
        #expect(seen.count > 3)
    }

    @Test func sameSeedGivesSameTimeouts() {
        func timeouts(_ seed: UInt64) -> [Int] {
            let storage = MemoryRaftLogStorage(membership: Membership(voters: ids(1, 2, 3)))
            var n = RawNode(config: RaftConfig(id: nid(1)), storage: storage, random: SplitMix64(seed: seed))
            return (0..<10).map { _ in
                n.raft.resetRandomizedElectionTimeout()
                return n.raft.randomizedElectionTimeoutTicks
            }
        }
        #expect(timeouts(42) == timeouts(42))
    }

    @Test func preVoteDoesNotIncrementTermWhenItFails() {
        var (n, s) = makeNode(1, voters: [1, 2, 3], term: 4) { $0.preVote = true }
        n.campaign()
        #expect(n.raft.role == .preCandidate)
        #expect(n.raft.term == Term(4))
        let out = sent(drain(&n, s))
        #expect(out.allSatisfy { $0.type == .requestPreVote && $0.term == Term(5) })
        for _ in 0..<30 { n.tick() }
        #expect(n.raft.term == Term(4)) // Cut off: no term inflation however long it waits.
    }

    @Test func preVoteWinnerThenRunsRealElection() throws {
        var (n, _) = makeNode(1, voters: [1, 2, 3], term: 1) { $0.preVote = true }
        n.campaign()
        try n.step(msg(.preVoteResponse, 2, 1, term: 2))
        #expect(n.raft.role == .candidate)
        #expect(n.raft.term == Term(2))
        try n.step(msg(.voteResponse, 2, 1, term: 2))
        #expect(n.raft.role == .leader)
    }

    @Test func preVoteGrantDoesNotChangeVotersState() throws {
        var (n, s) = makeNode(2, voters: [1, 2, 3], term: 1) { $0.preVote = true }
        try n.step(msg(.requestPreVote, 1, 2, term: 2))
        #expect(n.raft.term == Term(1))
        #expect(n.raft.vote == nil)
        let out = sent(drain(&n, s))
        #expect(out.count == 1 && out[0].type == .preVoteResponse && !out[0].reject && out[0].term == Term(2))
    }

    @Test func checkQuorumLeaderStepsDownWithoutQuorumContact() {
        let c = TestCluster(voters: ids(1, 2, 3)) { $0.checkQuorum = true; $0.electionJitterDisabled = true }
        c.elect(1)
        c.isolate(nid(1))
        for _ in 0..<(2 * c[1].raft.config.electionTimeoutTicks) {
            c[1].node.tick()
            c.stabilize()
        }
        #expect(c[1].raft.role == .follower)
    }

    @Test func checkQuorumLeaderStaysWithQuorumContact() {
        let c = TestCluster(voters: ids(1, 2, 3)) { $0.checkQuorum = true; $0.electionJitterDisabled = true }
        c.elect(1)
        c.isolate(nid(3))
        for _ in 0..<(5 * c[1].raft.config.electionTimeoutTicks) {
            c[1].node.tick()
            c.stabilize()
        }
        #expect(c[1].raft.role == .leader)
    }

    @Test func followerWithLiveLeaderIgnoresVoteRequests() throws {
        var (n, s) = makeNode(2, voters: [1, 2, 3]) { $0.checkQuorum = true }
        try n.step(msg(.heartbeat, 1, 2, term: 1))
        drain(&n, s)
        try n.step(msg(.requestVote, 3, 2, term: 2, logTerm: 5, index: 5))
        #expect(n.raft.term == Term(1))
        #expect(n.raft.lead == NodeID(1))
        #expect(sent(drain(&n, s)).isEmpty)
        // Once the lease expires the vote is considered.
        for _ in 0..<n.raft.config.electionTimeoutTicks { n.tick() }
        try n.step(msg(.requestVote, 3, 2, term: 3, logTerm: 5, index: 5))
        #expect(n.raft.vote == NodeID(3))
    }

    @Test func newLeaderAppendsEmptyEntry() {
        var (n, s) = makeNode(1, voters: [1, 2, 3], terms: [1, 1], term: 1)
        makeLeader(&n, s, voters: [1, 2, 3])
        let last = n.raft.log.lastIndex
        #expect(last == LogIndex(3))
        let e = try! n.raft.log.slice(last, last + 1, maxBytes: .max)[0]
        #expect(e.term == Term(2) && e.data.isEmpty && e.kind == .normal)
    }

    @Test func learnerNeverCampaigns() {
        var (n, _) = makeNode(4, voters: [1, 2, 3], learners: [4])
        for _ in 0..<100 { n.tick() }
        #expect(n.raft.role == .follower)
        n.campaign()
        #expect(n.raft.role == .follower)
    }

    @Test func electionsConvergeUnderRandomTimeouts() {
        for seed: UInt64 in 1...20 {
            let c = TestCluster(voters: ids(1, 2, 3, 4, 5), seed: seed) { $0.preVote = true; $0.checkQuorum = true }
            c.tickAll(60)
            #expect(c.leaders.count == 1, "seed \(seed)")
        }
    }
}
