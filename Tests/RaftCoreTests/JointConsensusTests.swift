import Testing
@testable import RaftCore

/// Joint consensus: several membership changes at once, decided by both majorities.
@Suite struct JointConsensusTests {
    static let joint = Membership(voters: ids(1, 4, 5), outgoingVoters: ids(1, 2, 3))

    @Test func jointCommitNeedsBothMajorities() {
        var match: [NodeID: LogIndex] = [nid(1): LogIndex(5), nid(2): LogIndex(5), nid(3): LogIndex(5)]
        #expect(Quorum.committedIndex(Self.joint) { match[$0] } == .zero) // Old majority only.
        match[nid(4)] = LogIndex(4)
        #expect(Quorum.committedIndex(Self.joint) { match[$0] } == LogIndex(4))
    }

    @Test func jointElectionNeedsBothMajorities() {
        var votes: [NodeID: Bool] = [nid(1): true, nid(2): true, nid(3): true]
        #expect(Quorum.voteResult(Self.joint, votes: votes) == .pending)
        votes[nid(4)] = false
        votes[nid(5)] = false
        #expect(Quorum.voteResult(Self.joint, votes: votes) == .lost)
        votes[nid(5)] = true
        #expect(Quorum.voteResult(Self.joint, votes: votes) == .won)
    }

    @Test func jointQuorumMatchesNaiveOracle() {
        var rng = SplitMix64(seed: 31)
        func naive(_ ms: [UInt64]) -> UInt64 {
            (Set(ms + [0]).sorted(by: >).first { n in ms.filter { $0 >= n }.count * 2 > ms.count }) ?? 0
        }
        for _ in 0..<10_000 {
            let pool = (1...9).map { NodeID(UInt64($0)) }
            let incoming = pool.filter { _ in rng.next() % 2 == 0 }
            let outgoing = pool.filter { _ in rng.next() % 2 == 0 }
            guard !incoming.isEmpty, !outgoing.isEmpty else { continue }
            var match: [NodeID: LogIndex] = [:]
            for id in pool { match[id] = LogIndex(rng.next() % 10) }
            let m = Membership(voters: incoming, outgoingVoters: outgoing)
            let expected = min(naive(incoming.map { match[$0]!.rawValue }), naive(outgoing.map { match[$0]!.rawValue }))
            #expect(Quorum.committedIndex(m) { match[$0] }.rawValue == expected)
        }
    }

    @Test func transitionsApplyAndRefuseDeterministically() throws {
        let base = Membership(voters: ids(1, 2, 3), learners: ids(6))
        let entered = try base.applying(.enterJoint([MembershipChange(.addVoter, node: nid(4)),
                                                     MembershipChange(.removeNode, node: nid(1))])).get()
        #expect(entered.voters == ids(2, 3, 4) && entered.outgoingVoters == ids(1, 2, 3) && entered.isJoint)
        #expect(entered.isVoter(nid(1)) && entered.allVoters == ids(1, 2, 3, 4))
        let single: Result<Membership, MembershipChangeError> = entered.applying(MembershipChange(.addLearner, node: nid(7)))
        #expect((try? single.get()) == nil) // No single change during a joint one.
        let left = try entered.applying(.leaveJoint).get()
        #expect(left == Membership(voters: ids(2, 3, 4), learners: ids(6)))
        let demote = base.applying(.enterJoint([MembershipChange(.addLearner, node: nid(2))]))
        #expect((try? demote.get()) == nil)
        #expect((try? base.applying(.leaveJoint).get()) == nil)
    }

    @Test func transitionEncodingRoundTripsAndRefusesGarbage() {
        let cases: [MembershipTransition] = [
            .single(MembershipChange(.addVoter, node: nid(9))), .leaveJoint,
            .enterJoint([MembershipChange(.addVoter, node: nid(4)), MembershipChange(.removeNode, node: nid(1))]),
        ]
        for t in cases { #expect(MembershipTransition(encoded: t.encoded) == t) }
        #expect(MembershipTransition(encoded: []) == nil)
        #expect(MembershipTransition(encoded: [0x10, 2] + MembershipChange(.addVoter, node: nid(4)).encoded) == nil)
        #expect(MembershipTransition(encoded: [0x11, 0]) == nil)
        #expect(MembershipTransition(encoded: [0x10, 0]) == nil)
    }

    @Test func replaceLeaderAtomicallyThenLeaveJointAutomatically() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        c.addNode(nid(4), membership: Membership(voters: ids(1, 2, 3)))
        try c[1].node.proposeJointMembershipChange([MembershipChange(.addVoter, node: nid(4)),
                                                    MembershipChange(.removeNode, node: nid(1))])
        c.stabilize()
        for id in ids(2, 3, 4) {
            #expect(c.nodes[id]!.raft.tracker.membership == Membership(voters: ids(2, 3, 4)))
        }
        #expect(c[1].raft.role == .follower) // Led through the joint phase, then stepped down.
        c.tickAll(40)
        #expect(c.leaders.count == 1 && c.leaders[0] != nid(1))
        let leader = c.leaders[0].rawValue
        try c[leader].node.propose(bytes("after"))
        c.stabilize()
        #expect(c[4].applied.last?.data == bytes("after"))
    }

    @Test func nodeWithItsRemovalInItsLogDoesNotCampaign() throws {
        let c = TestCluster(voters: ids(1, 2, 3)) { $0.electionJitterDisabled = true }
        c.elect(1)
        c.isolate(nid(2))
        c.isolate(nid(3))
        try c[1].node.proposeMembershipChange(MembershipChange(.removeNode, node: nid(3)))
        c.processReady(nid(1))
        c.heal()
        c.deliver(to: nid(3), filter: { $0.type == .append })
        c.processReady(nid(3))
        c.queue.removeAll()
        // Node 3 holds its (uncommitted, unapplied) removal and must not start an election.
        for _ in 0..<(3 * c[3].raft.config.electionTimeoutTicks) { c[3].node.tick() }
        #expect(c[3].raft.role == .follower)
        #expect(c[3].raft.term == Term(1))
        #expect(c[3].node.coverage[.campaignHeldBackByMembership] >= 1)
    }

    /// Node 1 applied the joint configuration {1,3}+{1,2} and holds, unapplied, the entry
    /// leaving it (its commit never arrived: the removed leader 2 stepped down). Counting the
    /// election in the log's configuration {1,3}, it wins with 3's vote alone — 2, holding
    /// entries 1 lacks, would refuse its vote.
    @Test func electionCountsInTheLogsConfiguration() throws {
        let joint = Membership(voters: ids(1, 3), outgoingVoters: ids(1, 2))
        let storage = MemoryRaftLogStorage(membership: joint)
        let enter = MembershipTransition.enterJoint([MembershipChange(.addVoter, node: nid(3)),
                                                     MembershipChange(.removeNode, node: nid(2))])
        storage.append([ent(1, 1), Entry(term: Term(1), index: LogIndex(2), kind: .membershipChange, data: enter.encoded),
                        Entry(term: Term(1), index: LogIndex(3), kind: .membershipChange, data: MembershipTransition.leaveJoint.encoded)])
        storage.setHardState(HardState(term: Term(1), vote: nid(2), commit: LogIndex(2)))
        var config = RaftConfig(id: nid(1))
        config.preVote = false
        config.verifyInvariants = true
        config.appliedIndex = LogIndex(2)
        var n = RawNode(config: config, storage: storage, random: SplitMix64(seed: 1))
        #expect(n.raft.electionMembership() == Membership(voters: ids(1, 3)))
        n.campaign()
        let rd = drain(&n, storage)
        #expect(sent(rd).filter { $0.type == .requestVote }.map(\.to) == ids(3))
        try n.step(msg(.voteResponse, 3, 1, term: 2))
        #expect(n.raft.role == .leader)
    }

    @Test func jointChangeNeedsCaughtUpLearnersAndOneAtATime() throws {
        let c = TestCluster(voters: ids(1, 2, 3), learners: ids(4))
        c.elect(1)
        c.isolate(nid(4))
        try c[1].node.propose(bytes("x"))
        c.stabilize()
        let refused = raftError { () throws(RaftError) in
            try c[1].node.proposeJointMembershipChange([MembershipChange(.addVoter, node: nid(4))])
        }
        #expect(refused != nil)
        c.heal()
        c[1].node.tick()
        c.stabilize()
        try c[1].node.proposeJointMembershipChange([MembershipChange(.addVoter, node: nid(4)),
                                                    MembershipChange(.removeNode, node: nid(3))])
        let second = raftError { () throws(RaftError) in
            try c[1].node.proposeMembershipChange(MembershipChange(.addLearner, node: nid(5)))
        }
        #expect(second != nil)
        c.stabilize()
        #expect(c[1].raft.tracker.membership == Membership(voters: ids(1, 2, 4)))
    }
}
