import Testing
@testable import RaftCore

/// Must-have 4: ReadIndex on the leader and through a follower.
@Suite struct ReadIndexTests {
    @Test func leaderPostponesReadUntilFirstCommitInTerm() throws {
        var (l, ls) = makeNode(1, voters: [1, 2, 3], terms: [1, 1], term: 1, commit: 1)
        makeLeader(&l, ls, voters: [1, 2, 3])
        try l.readIndex(context: bytes("r"))
        var rd = drain(&l, ls)
        #expect(rd.readStates.isEmpty)
        #expect(!sent(rd).contains { $0.type == .heartbeat })
        try l.step(msg(.appendResponse, 2, 1, term: 2, index: 3))
        rd = drain(&l, ls)
        #expect(l.raft.log.committed == LogIndex(3))
        let beats = sent(rd).filter { $0.type == .heartbeat }
        #expect(beats.count == 2 && beats.allSatisfy { $0.context == bytes("r") })
        try l.step(msg(.heartbeatResponse, 3, 1, term: 2, context: bytes("r")))
        rd = drain(&l, ls)
        #expect(rd.readStates == [ReadState(index: LogIndex(3), requestContext: bytes("r"))])
    }

    @Test func readNeedsQuorumOfHeartbeatAcks() throws {
        var (l, ls) = makeNode(1, voters: [1, 2, 3, 4, 5])
        makeLeader(&l, ls, voters: [1, 2, 3, 4, 5])
        drain(&l, ls)
        for p: UInt64 in [2, 3] { try l.step(msg(.appendResponse, p, 1, term: 1, index: 1)) }
        drain(&l, ls)
        try l.readIndex(context: bytes("q"))
        drain(&l, ls)
        try l.step(msg(.heartbeatResponse, 2, 1, term: 1, context: bytes("q")))
        #expect(drain(&l, ls).readStates.isEmpty)
        try l.step(msg(.heartbeatResponse, 4, 1, term: 1, context: bytes("q")))
        #expect(drain(&l, ls).readStates.count == 1)
    }

    @Test func singleVoterAnswersImmediately() throws {
        var (l, ls) = makeNode(1, voters: [1])
        l.campaign()
        drain(&l, ls)
        drain(&l, ls)
        try l.readIndex(context: bytes("solo"))
        #expect(drain(&l, ls).readStates.map(\.index) == [LogIndex(1)])
    }

    @Test func followerReadIsAnsweredByLeader() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        try c[1].node.propose(bytes("w"))
        c.stabilize()
        try c[3].node.readIndex(context: bytes("f"))
        c.stabilize()
        #expect(c[3].appliedReads == [ReadState(index: LogIndex(2), requestContext: bytes("f"))])
    }

    @Test func readWithoutKnownLeaderIsRefused() {
        var (n, _) = makeNode(2, voters: [1, 2, 3])
        let err = raftError { () throws(RaftError) in try n.readIndex(context: [1]) }
        #expect(err == .notLeader(knownLeader: nil))
    }

    @Test func pendingReadsAreBounded() throws {
        var (l, ls) = makeNode(1, voters: [1, 2, 3]) { $0.maxPendingReadIndexRequests = 4 }
        makeLeader(&l, ls, voters: [1, 2, 3])
        for i in 0..<4 { try l.readIndex(context: bytes("r\(i)")) }
        let err = raftError { () throws(RaftError) in try l.readIndex(context: bytes("r4")) }
        #expect(err == .readIndexDropped)
        #expect(l.raft.pendingReads.count == 4)
    }
}
