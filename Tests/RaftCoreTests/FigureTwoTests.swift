import Testing
@testable import RaftCore

/// One test per rule of Figure 2 of the Raft paper ("Rules for Servers" and the two RPC receivers).
@Suite struct FigureTwoTests {
    // MARK: Rules for all servers

    @Test func allServers_applyCommittedEntriesInOrder() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        for s in ["a", "b", "c"] { try c[1].node.propose(bytes(s)) }
        c.stabilize()
        for id in c.sortedIDs {
            let applied = c.nodes[id]!.applied
            #expect(applied.map(\.index.rawValue) == [1, 2, 3, 4])
            #expect(applied.dropFirst().map(\.data) == [bytes("a"), bytes("b"), bytes("c")])
            #expect(c.nodes[id]!.raft.log.applied == c.nodes[id]!.raft.log.committed)
        }
    }

    @Test func allServers_adoptHigherTermAndBecomeFollower() throws {
        var (n, s) = makeNode(1, voters: [1, 2, 3])
        makeLeader(&n, s, voters: [1, 2, 3])
        #expect(n.raft.role == .leader)
        try n.step(msg(.appendResponse, 2, 1, term: 5, index: 0))
        #expect(n.raft.term == Term(5))
        #expect(n.raft.role == .follower)
        #expect(n.raft.vote == nil)
    }

    // MARK: Followers

    @Test func followers_respondToCandidatesAndLeaders() throws {
        var (n, s) = makeNode(2, voters: [1, 2, 3])
        try n.step(msg(.requestVote, 1, 2, term: 1))
        try n.step(msg(.append, 1, 2, term: 1, entries: [ent(1, 1)]))
        let out = sent(drain(&n, s))
        #expect(out.map(\.type) == [.voteResponse, .appendResponse])
        #expect(out.allSatisfy { !$0.reject })
    }

    @Test func followers_becomeCandidateAfterElectionTimeoutWithoutLeader() {
        var (n, _) = makeNode(1, voters: [1, 2, 3])
        for _ in 0..<(n.raft.config.electionTimeoutTicks - 1) { n.tick() }
        #expect(n.raft.role == .follower)
        n.tick()
        #expect(n.raft.role == .candidate)
    }

    @Test func followers_leaderContactOrGrantedVoteResetsElectionTimer() throws {
        var (n, _) = makeNode(2, voters: [1, 2, 3])
        let timeout = n.raft.config.electionTimeoutTicks
        for _ in 0..<(timeout - 1) { n.tick() }
        try n.step(msg(.heartbeat, 1, 2, term: 1))
        for _ in 0..<(timeout - 1) { n.tick() }
        #expect(n.raft.role == .follower)
        try n.step(msg(.requestVote, 3, 2, term: 2))
        for _ in 0..<(timeout - 1) { n.tick() }
        #expect(n.raft.role == .follower)
        n.tick()
        #expect(n.raft.role == .candidate)
    }

    // MARK: Candidates

    @Test func candidates_incrementTermVoteForSelfAndRequestVotes() {
        var (n, s) = makeNode(1, voters: [1, 2, 3], terms: [1], term: 1)
        n.campaign()
        #expect(n.raft.term == Term(2))
        #expect(n.raft.vote == NodeID(1))
        #expect(n.raft.electionElapsedTicks == 0)
        let votes = sent(drain(&n, s)).filter { $0.type == .requestVote }
        #expect(votes.map(\.to) == ids(2, 3))
        #expect(votes.allSatisfy { $0.term == Term(2) && $0.index == LogIndex(1) && $0.logTerm == Term(1) })
    }

    @Test func candidates_becomeLeaderWithVotesFromMajority() throws {
        var (n, _) = makeNode(1, voters: [1, 2, 3, 4, 5])
        n.campaign()
        try n.step(msg(.voteResponse, 2, 1, term: 1))
        #expect(n.raft.role == .candidate)
        try n.step(msg(.voteResponse, 3, 1, term: 1, reject: true))
        #expect(n.raft.role == .candidate)
        try n.step(msg(.voteResponse, 4, 1, term: 1))
        #expect(n.raft.role == .leader)
    }

    @Test func candidates_becomeFollowerOnAppendFromNewLeader() throws {
        var (n, _) = makeNode(1, voters: [1, 2, 3])
        n.campaign()
        try n.step(msg(.append, 2, 1, term: 1))
        #expect(n.raft.role == .follower)
        #expect(n.raft.lead == NodeID(2))
    }

    @Test func candidates_startNewElectionOnTimeout() {
        var (n, _) = makeNode(1, voters: [1, 2, 3])
        n.campaign()
        #expect(n.raft.term == Term(1))
        for _ in 0..<n.raft.config.electionTimeoutTicks { n.tick() }
        #expect(n.raft.role == .candidate)
        #expect(n.raft.term == Term(2))
    }

    // MARK: Leaders

    @Test func leaders_sendInitialEmptyAppendAndHeartbeatWhenIdle() {
        var (n, s) = makeNode(1, voters: [1, 2, 3])
        makeLeader(&n, s, voters: [1, 2, 3])
        let rd = drain(&n, s)
        let apps = sent(rd).filter { $0.type == .append }
        #expect(apps.count == 2)
        #expect(apps.allSatisfy { $0.entries.count == 1 && $0.entries[0].data.isEmpty })
        n.tick()
        let beats = sent(drain(&n, s)).filter { $0.type == .heartbeat }
        #expect(beats.map(\.to) == ids(2, 3))
    }

    @Test func leaders_appendClientCommandToLocalLog() throws {
        var (n, s) = makeNode(1, voters: [1, 2, 3])
        makeLeader(&n, s, voters: [1, 2, 3])
        try n.propose(bytes("cmd"))
        #expect(n.raft.log.lastIndex == LogIndex(2))
        let rd = drain(&n, s)
        #expect(rd.entries.last?.data == bytes("cmd"))
        #expect(rd.committedEntries.isEmpty) // Answered only after commit and apply.
    }

    @Test func leaders_sendEntriesFromNextIndexAndAdvanceOnSuccess() throws {
        var (n, s) = makeNode(1, voters: [1, 2, 3])
        makeLeader(&n, s, voters: [1, 2, 3])
        drain(&n, s)
        try n.step(msg(.appendResponse, 2, 1, term: 1, index: 1))
        #expect(n.raft.tracker[nid(2)]!.match == LogIndex(1))
        #expect(n.raft.tracker[nid(2)]!.next == LogIndex(2))
        try n.propose(bytes("x"))
        let toTwo = sent(drain(&n, s)).filter { $0.to == nid(2) && $0.type == .append }
        #expect(toTwo.last?.index == LogIndex(1))
        #expect(toTwo.last?.entries.map(\.index) == [LogIndex(2)])
    }

    @Test func leaders_decrementNextIndexOnInconsistencyAndRetry() throws {
        var (n, s) = makeNode(1, voters: [1, 2, 3], terms: [1, 1, 1], term: 1)
        makeLeader(&n, s, voters: [1, 2, 3])
        drain(&n, s)
        // The follower rejects the probe at 3 and hints at index 1 as its last entry.
        try n.step(msg(.appendResponse, 2, 1, term: 2, logTerm: 1, index: 3, reject: true, hint: 1))
        #expect(n.raft.tracker[nid(2)]!.next == LogIndex(2))
        let retry = sent(drain(&n, s)).filter { $0.to == nid(2) }
        #expect(retry.first?.index == LogIndex(1))
    }

    @Test func leaders_commitCurrentTermEntryOnMajorityMatch() throws {
        var (n, s) = makeNode(1, voters: [1, 2, 3, 4, 5])
        makeLeader(&n, s, voters: [1, 2, 3, 4, 5])
        drain(&n, s)
        try n.step(msg(.appendResponse, 2, 1, term: 1, index: 1))
        #expect(n.raft.log.committed == LogIndex(0))
        try n.step(msg(.appendResponse, 3, 1, term: 1, index: 1))
        #expect(n.raft.log.committed == LogIndex(1))
    }

    // MARK: AppendEntries receiver

    @Test func appendEntries_replyFalseIfTermBelowCurrentTerm() throws {
        var (n, s) = makeNode(2, voters: [1, 2, 3], term: 3) { $0.checkQuorum = true }
        try n.step(msg(.append, 1, 2, term: 2, entries: [ent(2, 1)]))
        #expect(n.raft.log.lastIndex == LogIndex(0))
        let out = sent(drain(&n, s))
        // Answered with our newer term so the stale leader steps down.
        #expect(out.count == 1 && out[0].type == .appendResponse && out[0].term == Term(3))
    }

    @Test func appendEntries_replyFalseIfPrevLogEntryDoesNotMatch() throws {
        var (n, s) = makeNode(2, voters: [1, 2, 3], terms: [1, 1], term: 2)
        try n.step(msg(.append, 1, 2, term: 2, logTerm: 2, index: 2, entries: [ent(2, 3)]))
        #expect(n.raft.log.lastIndex == LogIndex(2))
        let out = sent(drain(&n, s))
        #expect(out.first?.reject == true)
    }

    @Test func appendEntries_deleteConflictingEntryAndAllThatFollow() throws {
        var (n, s) = makeNode(2, voters: [1, 2, 3], terms: [1, 1, 1, 1], term: 2)
        try n.step(msg(.append, 1, 2, term: 3, logTerm: 1, index: 1, entries: [ent(1, 2), ent(3, 3)]))
        #expect(n.raft.log.lastIndex == LogIndex(3))
        #expect(try n.raft.log.term(at: LogIndex(3)) == Term(3))
        drain(&n, s)
        #expect(try s.lastIndex() == LogIndex(3))
    }

    @Test func appendEntries_doNotTruncateWithoutConflict() throws {
        var (n, _) = makeNode(2, voters: [1, 2, 3], terms: [1, 1, 1, 1], term: 1)
        // A delayed, shorter append must not cut entries 3 and 4.
        try n.step(msg(.append, 1, 2, term: 1, logTerm: 1, index: 0, entries: [ent(1, 1), ent(1, 2)]))
        #expect(n.raft.log.lastIndex == LogIndex(4))
    }

    @Test func appendEntries_appendNewEntriesNotInLog() throws {
        var (n, _) = makeNode(2, voters: [1, 2, 3], terms: [1], term: 1)
        try n.step(msg(.append, 1, 2, term: 1, logTerm: 1, index: 1, entries: [ent(1, 2), ent(1, 3)]))
        #expect(n.raft.log.lastIndex == LogIndex(3))
    }

    @Test func appendEntries_commitIsMinOfLeaderCommitAndLastNewEntry() throws {
        // Entries 3 and 4 (term 1) are stale; the leader's append covers only up to 2.
        var (n, _) = makeNode(2, voters: [1, 2, 3], terms: [1, 1, 1, 1], term: 2)
        try n.step(msg(.append, 1, 2, term: 2, logTerm: 1, index: 1, entries: [ent(1, 2)], commit: 4))
        #expect(n.raft.log.committed == LogIndex(2))
    }

    // MARK: RequestVote receiver

    @Test func requestVote_replyFalseIfTermBelowCurrentTerm() throws {
        var (n, s) = makeNode(2, voters: [1, 2, 3], term: 3)
        try n.step(msg(.requestVote, 1, 2, term: 2))
        #expect(n.raft.vote == nil)
        #expect(sent(drain(&n, s)).allSatisfy { $0.type != .voteResponse || $0.reject })
    }

    @Test func requestVote_grantIfNotVotedForAnotherAndLogUpToDate() throws {
        var (n, s) = makeNode(3, voters: [1, 2, 3], terms: [1], term: 1)
        try n.step(msg(.requestVote, 1, 3, term: 2, logTerm: 1, index: 1))
        try n.step(msg(.requestVote, 1, 3, term: 2, logTerm: 1, index: 1)) // The same candidate again.
        try n.step(msg(.requestVote, 2, 3, term: 2, logTerm: 1, index: 1)) // Another: refused.
        let out = sent(drain(&n, s)).filter { $0.type == .voteResponse }
        #expect(out.map(\.reject) == [false, false, true])
        #expect(n.raft.vote == NodeID(1))
    }

    // MARK: Persistent state

    @Test func persistentState_isDurableBeforeResponding() throws {
        var (n, _) = makeNode(2, voters: [1, 2, 3])
        try n.step(msg(.requestVote, 1, 2, term: 1))
        try n.step(msg(.append, 1, 2, term: 1, entries: [ent(1, 1)]))
        let rd = n.ready()
        #expect(rd.hardState?.vote == NodeID(1))
        #expect(rd.mustSync)
        #expect(rd.messages.isEmpty)
        #expect(rd.messagesAfterPersist.map(\.type) == [.voteResponse, .appendResponse])
    }
}

/// §5.4 of the Raft paper: the election restriction and committing entries from previous terms.
@Suite struct SectionFiveFourTests {
    @Test func electionRestriction_voterRefusesCandidateWithLessUpToDateLog() throws {
        // Our log: terms [1, 2]. A candidate with last term 1 (longer) or last term 2 (shorter) loses.
        var (n, s) = makeNode(3, voters: [1, 2, 3], terms: [1, 2], term: 2)
        try n.step(msg(.requestVote, 1, 3, term: 3, logTerm: 1, index: 5))
        try n.step(msg(.requestVote, 2, 3, term: 4, logTerm: 2, index: 1))
        var out = sent(drain(&n, s)).filter { $0.type == .voteResponse }
        #expect(out.map(\.reject) == [true, true])
        // Same last term and at least as long: granted; a later last term always wins.
        try n.step(msg(.requestVote, 1, 3, term: 5, logTerm: 2, index: 2))
        try n.step(msg(.requestVote, 2, 3, term: 6, logTerm: 3, index: 1))
        out = sent(drain(&n, s)).filter { $0.type == .voteResponse }
        #expect(out.map(\.reject) == [false, false])
    }

    @Test func electionRestriction_leaderHoldsAllCommittedEntries() throws {
        // Node 3 misses a committed entry and cannot be elected while 1 and 2 hold it.
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        c.isolate(nid(3))
        try c[1].node.propose(bytes("committed"))
        c.stabilize()
        c.heal()
        c[3].node.campaign()
        c[3].node.campaign()
        c.stabilize()
        #expect(c[3].raft.role != .leader)
        c.elect(2)
        #expect(c.leaders == [nid(2)])
        #expect(c[2].applied.contains { $0.data == bytes("committed") })
    }

    /// §5.4.3: Leader Completeness and State Machine Safety, checked after every step of
    /// randomized runs (every new leader holds every committed entry; no two nodes commit or
    /// apply different entries at one index).
    @Test func safetyArgument_leaderCompletenessAndStateMachineSafety() {
        var committed = 0
        for seed: UInt64 in 900...909 {
            var run = SafetyRun(seed: seed)
            for _ in 0..<1500 { run.step() }
            #expect(run.violations.isEmpty, "seed \(seed): \(run.violations.prefix(2))")
            committed += run.committedAt.count
        }
        #expect(committed > 50) // The runs did commit: the checks had something to check.
    }

    @Test func committingPreviousTermEntries_figure8ScheduleLosesNothingCommitted() throws {
        let env = InteractionEnv()
        _ = runScript(try #require(readTextFile("\(InteractionTests.testdataDir)/figure8.txt")), env: env)
        let c = try #require(env.cluster)
        var seen: [LogIndex: Entry] = [:]
        for id in c.sortedIDs {
            for e in c.nodes[id]!.applied {
                #expect(seen[e.index] == nil || seen[e.index] == e, "node \(id) applied \(e)")
                seen[e.index] = e
            }
        }
        #expect(!c[1].applied.contains { $0.data == bytes("a") })
    }

    @Test func committingPreviousTermEntries_notByCountingReplicas() throws {
        // Leader of term 3 with an uncommitted term-1 entry at index 2 (Figure 8 (c)).
        var (n, s) = makeNode(1, voters: [1, 2, 3, 4, 5], terms: [1, 1], term: 2, commit: 1)
        makeLeader(&n, s, voters: [1, 2, 3, 4, 5])
        drain(&n, s)
        #expect(n.raft.term == Term(3))
        for peer: UInt64 in [2, 3] { try n.step(msg(.appendResponse, peer, 1, term: 3, index: 2)) }
        #expect(n.raft.log.committed == LogIndex(1)) // Index 2 is on 3 of 5, but from term 1.
        for peer: UInt64 in [2, 3] { try n.step(msg(.appendResponse, peer, 1, term: 3, index: 3)) }
        #expect(n.raft.log.committed == LogIndex(3)) // Committed indirectly with the term-3 entry.
    }
}
