import Testing
@testable import RaftCore

/// Must-have 2: log replication safety rules and fast backtracking.
@Suite struct ReplicationTests {
    @Test func fastBacktrackingSkipsConflictingTermInOneRoundTrip() throws {
        // Follower: terms [1, 1, 1, 1, 1, 1] (stale). Leader: [1, 4, 4, 4, 4, 4] in term 5.
        var (f, fs) = makeNode(2, voters: [1, 2, 3], terms: [1, 1, 1, 1, 1, 1], term: 5)
        try f.step(msg(.append, 1, 2, term: 5, logTerm: 4, index: 6))
        let reject = try #require(sent(drain(&f, fs)).first)
        #expect(reject.reject)
        #expect(reject.rejectHint == LogIndex(6) && reject.logTerm == Term(1))
        var (l, ls) = makeNode(1, voters: [1, 2, 3], terms: [1, 4, 4, 4, 4, 4], term: 4)
        makeLeader(&l, ls, voters: [1, 2, 3])
        drain(&l, ls)
        try l.step(Message(type: .appendResponse, from: nid(2), to: nid(1), term: l.raft.term, logTerm: reject.logTerm,
                           index: LogIndex(6), reject: true, rejectHint: reject.rejectHint))
        // The leader's last index with term ≤ 1 is 1: it probes right after it.
        #expect(l.raft.tracker[nid(2)]!.next == LogIndex(2))
    }

    @Test func followerHintUsesLastIndexWhenShorter() throws {
        var (f, fs) = makeNode(2, voters: [1, 2, 3], terms: [1, 1], term: 3)
        try f.step(msg(.append, 1, 2, term: 3, logTerm: 3, index: 10))
        let r = try #require(sent(drain(&f, fs)).first)
        #expect(r.reject && r.rejectHint == LogIndex(2))
    }

    @Test func leaderNeverTruncatesItsOwnLog() throws {
        var (l, ls) = makeNode(1, voters: [1, 2, 3], terms: [1, 1], term: 1)
        makeLeader(&l, ls, voters: [1, 2, 3])
        let last = l.raft.log.lastIndex
        // An append claiming the same term from someone else is ignored by a leader.
        try l.step(msg(.append, 2, 1, term: l.raft.term.rawValue, logTerm: 1, index: 1, entries: [ent(2, 2, "evil")]))
        #expect(l.raft.log.lastIndex == last)
        #expect(l.raft.role == .leader)
    }

    @Test func staleAppendBelowCommitIsAnsweredWithCommit() throws {
        var (f, fs) = makeNode(2, voters: [1, 2, 3], terms: [1, 1, 1], term: 1, commit: 3)
        try f.step(msg(.append, 1, 2, term: 1, logTerm: 1, index: 1, entries: [ent(1, 2)]))
        let r = try #require(sent(drain(&f, fs)).first)
        #expect(!r.reject && r.index == LogIndex(3))
    }

    @Test func commitNeverExceedsLastIndexAndAppliedNeverExceedsCommit() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        for i in 0..<20 {
            try c[1].node.propose(bytes("e\(i)"))
            if i % 3 == 0 { c.stabilize() }
            for id in c.sortedIDs {
                let r = c.nodes[id]!.raft
                #expect(r.log.committed <= r.log.lastIndex)
                #expect(r.log.applied <= r.log.committed)
            }
        }
        c.stabilize()
        #expect(Set(c.sortedIDs.map { c.nodes[$0]!.applied.count }) == [21])
    }
}
