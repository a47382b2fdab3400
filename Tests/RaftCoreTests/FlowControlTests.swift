import Testing
@testable import RaftCore

/// Must-have 3: progress states, bounded pipelining, message size and uncommitted-bytes cap.
@Suite struct FlowControlTests {
    @Test func inflightsBoundMessagesAndBytes() {
        var inf = Inflights(maxCount: 3, maxBytes: 100)
        inf.add(index: LogIndex(1), bytes: 10)
        inf.add(index: LogIndex(2), bytes: 10)
        #expect(!inf.isFull)
        inf.add(index: LogIndex(3), bytes: 10)
        #expect(inf.isFull)
        inf.freeLE(LogIndex(2))
        #expect(inf.count == 1 && inf.bytes == 10 && !inf.isFull)
        inf.add(index: LogIndex(4), bytes: 95)
        #expect(inf.isFull) // 105 bytes ≥ 100.
        inf.freeLE(LogIndex(10))
        #expect(inf.count == 0 && inf.bytes == 0)
    }

    @Test func inflightsRingStaysBoundedOverManyRounds() {
        var inf = Inflights(maxCount: 4, maxBytes: 0)
        for i in 1...10_000 {
            inf.add(index: LogIndex(UInt64(i)), bytes: 1)
            if inf.isFull { inf.freeLE(LogIndex(UInt64(i))) }
        }
        #expect(inf.count <= 4)
    }

    @Test func progressMovesProbeReplicateSnapshot() {
        var p = Progress(next: LogIndex(5), maxInflightMsgs: 2, maxInflightBytes: 0, isLearner: false)
        #expect(p.state == .probe && !p.isPaused)
        p.sentEntries(lastIndex: LogIndex(5), entryCount: 1, bytes: 10)
        #expect(p.isPaused) // One probe at a time.
        let updated = p.maybeUpdate(LogIndex(5))
        #expect(updated)
        p.becomeReplicate()
        #expect(p.next == LogIndex(6) && !p.isPaused)
        p.sentEntries(lastIndex: LogIndex(6), entryCount: 1, bytes: 10)
        p.sentEntries(lastIndex: LogIndex(7), entryCount: 1, bytes: 10)
        #expect(p.isPaused && p.next == LogIndex(8))
        p.becomeSnapshot(LogIndex(20))
        #expect(p.isPaused)
        p.becomeProbe()
        #expect(p.next == LogIndex(21) && p.state == .probe)
    }

    @Test func replicateStatePipelinesUpToMaxInflightMsgs() throws {
        var (l, ls) = makeNode(1, voters: [1, 2]) { $0.maxInflightMsgs = 3 }
        makeLeader(&l, ls, voters: [1, 2])
        drain(&l, ls)
        try l.step(msg(.appendResponse, 2, 1, term: 1, index: 1))
        drain(&l, ls)
        for i in 0..<10 { try l.propose(bytes("p\(i)")) }
        let apps = sent(drain(&l, ls)).filter { $0.type == .append && !$0.entries.isEmpty }
        #expect(apps.count == 3)
        #expect(l.status.progress.first { $0.0 == nid(2) }!.1.isPaused)

        // One acknowledgement frees the window; the rest goes out in one bounded batch.
        try l.step(msg(.appendResponse, 2, 1, term: 1, index: apps[2].entries.last!.index.rawValue))
        let more = sent(drain(&l, ls)).filter { $0.type == .append && !$0.entries.isEmpty }
        #expect(more.flatMap(\.entries).count == 7)
    }

    @Test func heartbeatAnswerWithFullWindowFallsBackToProbe() throws {
        var (l, ls) = makeNode(1, voters: [1, 2]) { $0.maxInflightMsgs = 2 }
        makeLeader(&l, ls, voters: [1, 2])
        drain(&l, ls)
        try l.step(msg(.appendResponse, 2, 1, term: 1, index: 1))
        drain(&l, ls)
        for i in 0..<4 { try l.propose(bytes("p\(i)")) }
        drain(&l, ls)
        #expect(l.raft.tracker[nid(2)]!.isPaused)
        // The appends may all have been lost: the heartbeat answer resets to probing.
        try l.step(msg(.heartbeatResponse, 2, 1, term: 1))
        #expect(l.coverage[.inflightWindowFull] == 1)
        #expect(l.raft.tracker[nid(2)]!.state == .probe)
        let probe = sent(drain(&l, ls)).filter { $0.type == .append }
        #expect(probe.first?.index == LogIndex(1))
    }

    @Test func maxSizePerMsgLimitsEntriesPerAppend() throws {
        var (l, ls) = makeNode(1, voters: [1, 2]) { $0.maxSizePerMsgBytes = 2 * (Entry.headerBytes + 4) }
        makeLeader(&l, ls, voters: [1, 2])
        drain(&l, ls)
        try l.step(msg(.appendResponse, 2, 1, term: 1, index: 1))
        drain(&l, ls)
        l.raft.msgs.removeAll()
        // Append five entries without sending, then let one probe go out.
        for i in 0..<5 { l.raft.appendAsLeader([Entry(term: l.raft.term, index: .zero, data: bytes("abc\(i)"))]) }
        let sentOne = l.raft.maybeSendAppend(to: nid(2), sendIfEmpty: false)
        #expect(sentOne)
        let app = try #require(l.raft.msgs.last)
        #expect(app.entries.count == 2)
    }

    @Test func maxInflightBytesPausesReplication() throws {
        var (l, ls) = makeNode(1, voters: [1, 2]) { $0.maxInflightBytes = 100 }
        makeLeader(&l, ls, voters: [1, 2])
        drain(&l, ls)
        try l.step(msg(.appendResponse, 2, 1, term: 1, index: 1))
        drain(&l, ls)
        for _ in 0..<5 { try l.propose([UInt8](repeating: 1, count: 60)) }
        let apps = sent(drain(&l, ls)).filter { $0.type == .append && !$0.entries.isEmpty }
        #expect(apps.count == 2) // 84 bytes, then 168 ≥ 100: paused.
    }

    @Test func uncommittedBytesCapRefusesProposals() throws {
        var (l, ls) = makeNode(1, voters: [1, 2, 3]) { $0.maxUncommittedEntriesBytes = 100 }
        makeLeader(&l, ls, voters: [1, 2, 3])
        try l.propose([UInt8](repeating: 0, count: 60))
        let err = raftError { () throws(RaftError) in try l.propose([UInt8](repeating: 0, count: 60)) }
        #expect(err == .proposalDropped(reason: .uncommittedBytesCapExceeded(limitBytes: 100)))
        let last = l.raft.log.lastIndex
        #expect(l.raft.uncommittedBytes == 60)
        #expect(last == LogIndex(2)) // The refused proposal left no trace.
    }

    @Test func oversizedSingleProposalIsAdmittedWhenNothingIsUncommitted() throws {
        var (l, ls) = makeNode(1, voters: [1, 2, 3]) { $0.maxUncommittedEntriesBytes = 10 }
        makeLeader(&l, ls, voters: [1, 2, 3])
        try l.propose([UInt8](repeating: 0, count: 50))
        let err = raftError { () throws(RaftError) in try l.propose([1]) }
        #expect(err != nil)
    }

    @Test func unencodableProposalsAndReadContextsAreRefused() {
        var (l, ls) = makeNode(1, voters: [1, 2, 3])
        makeLeader(&l, ls, voters: [1, 2, 3])
        let big = raftError { () throws(RaftError) in try l.propose([UInt8](repeating: 0, count: RaftCodec.maxEntryDataBytes + 1)) }
        #expect(big == .proposalDropped(reason: .entryTooLarge(limitBytes: RaftCodec.maxEntryDataBytes)))
        let ctx = raftError { () throws(RaftError) in try l.readIndex(context: [UInt8](repeating: 1, count: RaftCodec.maxContextBytes + 1)) }
        #expect(ctx == .readIndexDropped)
    }

    @Test func capIsReleasedWhenEntriesApply() throws {
        let c = TestCluster(voters: ids(1, 2, 3)) { $0.maxUncommittedEntriesBytes = 10 }
        c.elect(1)
        try c[1].node.propose(bytes("12345678"))
        c.stabilize()
        #expect(c[1].raft.uncommittedBytes == 0)
        try c[1].node.propose(bytes("12345678"))
    }

    @Test func reportUnreachableFallsBackToProbe() throws {
        var (l, ls) = makeNode(1, voters: [1, 2])
        makeLeader(&l, ls, voters: [1, 2])
        drain(&l, ls)
        try l.step(msg(.appendResponse, 2, 1, term: 1, index: 1))
        #expect(l.raft.tracker[nid(2)]!.state == .replicate)
        l.reportUnreachable(nid(2))
        #expect(l.raft.tracker[nid(2)]!.state == .probe)
    }
}
