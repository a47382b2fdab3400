import Testing
@testable import RaftCore

/// Must-have 6: single-server membership changes with learners.
@Suite struct MembershipTests {
    @Test func addVoterTakesEffectWhenApplied() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        c.addNode(nid(4), membership: Membership(voters: ids(1, 2, 3)))
        try c[1].node.proposeMembershipChange(MembershipChange(.addVoter, node: nid(4)))
        #expect(c[1].raft.tracker.membership.voters == ids(1, 2, 3)) // Not yet: appended only.
        c.stabilize()
        for id in c.sortedIDs { #expect(c.nodes[id]!.raft.tracker.membership.voters == ids(1, 2, 3, 4)) }
        // The quorum is now 3 of 4.
        c.isolate(nid(3))
        c.isolate(nid(4))
        try c[1].node.propose(bytes("x"))
        c.stabilize()
        #expect(c[1].raft.log.committed < c[1].raft.log.lastIndex)
    }

    @Test func onlyOnePendingChangeAtATime() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        try c[1].node.proposeMembershipChange(MembershipChange(.addLearner, node: nid(4)))
        let err = raftError { () throws(RaftError) in
            try c[1].node.proposeMembershipChange(MembershipChange(.addLearner, node: nid(5)))
        }
        #expect(err != nil)
        c.stabilize()
        try c[1].node.proposeMembershipChange(MembershipChange(.addLearner, node: nid(5)))
    }

    @Test func newLeaderWaitsForUnappliedChangesBeforeAnother() {
        var (l, ls) = makeNode(1, voters: [1, 2, 3], terms: [1, 1], term: 1, commit: 0)
        makeLeader(&l, ls, voters: [1, 2, 3])
        let err = raftError { () throws(RaftError) in try l.proposeMembershipChange(MembershipChange(.addLearner, node: nid(4))) }
        #expect(err != nil)
    }

    @Test func newLeaderCommitsInItsTermBeforeChangingMembership() throws {
        var (l, ls) = makeNode(1, voters: [1, 2, 3], terms: [1], term: 1, commit: 1) { $0.appliedIndex = LogIndex(1) }
        makeLeader(&l, ls, voters: [1, 2, 3])
        drain(&l, ls)
        let early = raftError { () throws(RaftError) in try l.proposeMembershipChange(MembershipChange(.addLearner, node: nid(4))) }
        #expect(early != nil)
        try l.step(msg(.appendResponse, 2, 1, term: 2, index: 2))
        drain(&l, ls)
        try l.proposeMembershipChange(MembershipChange(.addLearner, node: nid(4)))
    }

    @Test func removeVoterAndLeaderStepsDownWhenRemoved() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        try c[1].node.proposeMembershipChange(MembershipChange(.removeNode, node: nid(1)))
        c.stabilize()
        #expect(c[1].raft.role == .follower)
        #expect(c[2].raft.tracker.membership.voters == ids(2, 3))
        c.tickAll(40)
        #expect(c.leaders.count == 1 && c.leaders[0] != nid(1))
    }

    @Test func removedLeaderHandsOffToMostUpToDateVoter() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        try c[1].node.proposeMembershipChange(MembershipChange(.removeNode, node: nid(1)))
        c.stabilize()
        #expect(c[1].node.coverage[.transferTimeoutNow] == 1)
        #expect(c[1].node.coverage[.removedLeaderSteppedDown] == 1)
        #expect(c.leaders == [nid(2)]) // Equally up to date: the lowest id wins the tie.
        #expect(c[2].raft.tracker.membership == Membership(voters: ids(2, 3)))
    }

    @Test func removedLeaderStepsDownWhenHandOffCannotFinish() throws {
        let c = TestCluster(voters: ids(1, 2, 3)) { $0.electionJitterDisabled = true; $0.checkQuorum = false }
        c.elect(1)
        try c[1].node.proposeMembershipChange(MembershipChange(.removeNode, node: nid(1)))
        // Replicate and commit the change while a later entry stays on 1 alone, so no voter is
        // caught up when the hand-off starts; then cut 1 off.
        c.processReady(nid(1))
        c.deliver()
        c.processReady(nid(2))
        c.processReady(nid(3))
        try c[1].node.propose(bytes("late"))
        c.processReady(nid(1))
        c.queue.removeAll { $0.from == nid(1) }
        c.deliver(to: nid(1))
        c.processReady(nid(1)) // Commits and applies the removal: the hand-off starts.
        c.isolate(nid(1))
        c.queue.removeAll()
        #expect(c[1].raft.role == .leader && c[1].raft.leadTransferee != nil)
        let err = raftError { () throws(RaftError) in try c[1].node.propose([1]) }
        #expect(err != nil)
        for _ in 0..<c[1].raft.config.electionTimeoutTicks { c[1].node.tick() }
        #expect(c[1].raft.role == .follower)
    }

    @Test func learnerReceivesLogButDoesNotCountForQuorum() throws {
        let c = TestCluster(voters: ids(1, 2, 3), learners: ids(4))
        c.elect(1)
        c.isolate(nid(2))
        c.isolate(nid(3))
        try c[1].node.propose(bytes("x"))
        c.stabilize()
        #expect(c[4].raft.log.lastIndex == LogIndex(2))
        #expect(c[1].raft.log.committed == LogIndex(1))
    }

    @Test func learnerPromotedOnlyWhenCaughtUp() throws {
        let c = TestCluster(voters: ids(1, 2, 3), learners: ids(4))
        c.elect(1)
        c.isolate(nid(4))
        try c[1].node.propose(bytes("x"))
        c.stabilize()
        let refused = raftError { () throws(RaftError) in
            try c[1].node.proposeMembershipChange(MembershipChange(.addVoter, node: nid(4)))
        }
        #expect(refused != nil)
        c.heal()
        c[1].node.tick()
        c.stabilize()
        try c[1].node.proposeMembershipChange(MembershipChange(.addVoter, node: nid(4)))
        c.stabilize()
        #expect(c[4].raft.tracker.membership.isVoter(nid(4)))
        #expect(c[4].raft.isPromotable)
    }

    @Test func removingLastVoterIsRefused() {
        var (l, ls) = makeNode(1, voters: [1])
        l.campaign()
        drain(&l, ls)
        drain(&l, ls)
        let err = raftError { () throws(RaftError) in try l.proposeMembershipChange(MembershipChange(.removeNode, node: nid(1))) }
        #expect(err != nil)
    }

    @Test func membershipChangeEncodingRoundTripsAndRejectsGarbage() {
        let ch = MembershipChange(.addLearner, node: nid(77))
        #expect(MembershipChange(encoded: ch.encoded) == ch)
        #expect(MembershipChange(encoded: [9, 0, 0, 0, 0, 0, 0, 0, 1]) == nil)
        #expect(MembershipChange(encoded: [0, 0, 0, 0, 0, 0, 0, 0, 0]) == nil)
        #expect(MembershipChange(encoded: [0]) == nil)
    }
}

/// Must-have 7 and 8: leadership transfer; proposals on non-leaders.
@Suite struct TransferAndProposalTests {
    @Test func transferToUpToDateFollowerSendsTimeoutNow() throws {
        let c = TestCluster(voters: ids(1, 2, 3)) { $0.checkQuorum = true; $0.preVote = true }
        c.elect(1)
        try c[1].node.transferLeadership(to: nid(2))
        #expect(c[1].raft.msgs.contains { $0.type == .timeoutNow && $0.to == nid(2) })
        c.stabilize()
        #expect(c.leaders == [nid(2)])
    }

    @Test func transferToLaggingFollowerCatchesItUpFirst() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        c.isolate(nid(3))
        try c[1].node.propose(bytes("x"))
        c.stabilize()
        try c[1].node.transferLeadership(to: nid(3))
        #expect(!c[1].raft.msgs.contains { $0.type == .timeoutNow })
        let err = raftError { () throws(RaftError) in try c[1].node.propose(bytes("y")) }
        #expect(err == .proposalDropped(reason: .leadershipTransferInProgress))
        c.heal()
        c[1].node.tick()
        c.stabilize()
        #expect(c.leaders == [nid(3)])
        #expect(c[3].applied.contains { $0.data == bytes("x") })
    }

    @Test func transferIsAbandonedAfterElectionTimeout() throws {
        let c = TestCluster(voters: ids(1, 2, 3)) { $0.electionJitterDisabled = true }
        c.elect(1)
        c.isolate(nid(3))
        try c[1].node.transferLeadership(to: nid(3))
        #expect(c[1].raft.leadTransferee == nid(3))
        for _ in 0..<c[1].raft.config.electionTimeoutTicks { c[1].node.tick() }
        #expect(c[1].raft.leadTransferee == nil)
        try c[1].node.propose(bytes("ok again"))
    }

    @Test func transferToLearnerIsRefused() {
        let c = TestCluster(voters: ids(1, 2, 3), learners: ids(4))
        c.elect(1)
        let err = raftError { () throws(RaftError) in try c[1].node.transferLeadership(to: nid(4)) }
        #expect(err != nil)
    }

    @Test func proposalOnFollowerNamesKnownLeader() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        let before = raftError { () throws(RaftError) in try c[2].node.propose([1]) }
        #expect(before == .notLeader(knownLeader: nil))
        c.elect(1)
        let after = raftError { () throws(RaftError) in try c[2].node.propose([1]) }
        #expect(after == .notLeader(knownLeader: nid(1)))
        #expect(c[2].raft.msgs.isEmpty) // Not forwarded.
    }

    @Test func proposalOnCandidateIsRefused() {
        var (n, _) = makeNode(1, voters: [1, 2, 3])
        n.campaign()
        let err = raftError { () throws(RaftError) in try n.propose([1]) }
        #expect(err == .notLeader(knownLeader: nil))
    }
}
