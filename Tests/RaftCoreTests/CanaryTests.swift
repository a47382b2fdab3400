import Testing
@_spi(Canaries) @testable import RaftCore

/// Each canary, switched on, produces exactly the wrong behaviour it names (so the simulator can
/// observe it), and the invariant assertions do not stop it.
@Suite struct CanaryTests {
    @Test func allCanariesAreListedWithSimulatorNames() {
        #expect(RaftCanary.allCases.map(\.rawValue).sorted()
            == ["ack-before-sync", "commit-previous-term", "double-vote", "follower-overcommit"])
        #expect(RaftConfig(id: nid(1)).canaries.isEmpty)
    }

    @Test func doubleVoteGrantsTwoVotesInOneTerm() throws {
        var (n, s) = makeNode(3, voters: [1, 2, 3]) { $0.canaries = [.doubleVote] }
        try n.step(msg(.requestVote, 1, 3, term: 1))
        try n.step(msg(.requestVote, 2, 3, term: 1))
        let grants = sent(drain(&n, s)).filter { $0.type == .voteResponse && !$0.reject }
        #expect(grants.map(\.to) == ids(1, 2))
        let (m, ms) = makeNode(3, voters: [1, 2, 3])
        var correct = m
        try correct.step(msg(.requestVote, 1, 3, term: 1))
        try correct.step(msg(.requestVote, 2, 3, term: 1))
        #expect(sent(drain(&correct, ms)).filter { !$0.reject }.count == 1)
    }

    @Test func commitPreviousTermCommitsOldEntryByCounting() throws {
        var (n, s) = makeNode(1, voters: [1, 2, 3, 4, 5], terms: [1, 1], term: 2, commit: 1) { $0.canaries = [.commitPreviousTerm] }
        makeLeader(&n, s, voters: [1, 2, 3, 4, 5])
        drain(&n, s)
        for peer: UInt64 in [2, 3] { try n.step(msg(.appendResponse, peer, 1, term: 3, index: 2)) }
        #expect(n.raft.log.committed == LogIndex(2)) // The correct core stays at 1 (see §5.4 tests).
    }

    @Test func commitPreviousTermLosesAnAppliedEntryOnTheFigure8Schedule() throws {
        let path = "\(InteractionTests.testdataDir)/figure8_canary.txt"
        let env = InteractionEnv()
        _ = runScript(try #require(readTextFile(path)), env: env)
        let c = try #require(env.cluster)
        let atTwoOnOne = c[1].applied.first { $0.index == LogIndex(2) }
        let atTwoOnFive = c[5].applied.first { $0.index == LogIndex(2) }
        #expect(atTwoOnOne != nil && atTwoOnFive != nil && atTwoOnOne != atTwoOnFive)
    }

    @Test func followerOvercommitCommitsStaleTail() throws {
        var (n, _) = makeNode(2, voters: [1, 2, 3], terms: [1, 1, 1, 1], term: 2) { $0.canaries = [.followerOvercommit] }
        try n.step(msg(.append, 1, 2, term: 2, logTerm: 1, index: 1, entries: [ent(1, 2)], commit: 4))
        #expect(n.raft.log.committed == LogIndex(4)) // Correct: 2.
    }

    @Test func ackBeforeSyncSendsAcknowledgementsImmediately() throws {
        var (n, _) = makeNode(2, voters: [1, 2, 3]) { $0.canaries = [.ackBeforeSync] }
        try n.step(msg(.requestVote, 1, 2, term: 1))
        try n.step(msg(.append, 1, 2, term: 1, entries: [ent(1, 1)]))
        let rd = n.ready()
        #expect(rd.messagesAfterPersist.isEmpty)
        #expect(rd.messages.map(\.type) == [.voteResponse, .appendResponse])
    }

    @Test func followerOvercommitTrustsCommitOnRejectedAppend() throws {
        var (n, _) = makeNode(2, voters: [1, 2, 3], terms: [1, 2, 2], term: 3) { $0.canaries = [.followerOvercommit] }
        try n.step(msg(.append, 1, 2, term: 3, logTerm: 3, index: 3, commit: 3))
        #expect(n.raft.log.committed == LogIndex(3)) // Correct: 0, the log does not match.
    }

    /// The miniature simulator catches these canaries within a few seeds (commit-previous-term
    /// needs the Figure 8 schedule: see testdata/figure8_canary.txt).
    @Test(arguments: [RaftCanary.doubleVote, .ackBeforeSync, .followerOvercommit])
    func canaryIsCaughtByRandomizedRuns(_ canary: RaftCanary) {
        var caughtSeed: UInt64?
        for seed: UInt64 in 1...60 where caughtSeed == nil {
            var run = SafetyRun(seed: seed, canaries: [canary])
            for _ in 0..<2000 { run.step() }
            _ = run.converge()
            if !run.violations.isEmpty { caughtSeed = seed }
        }
        #expect(caughtSeed != nil, "\(canary) not caught in 60 seeds")
    }
}
