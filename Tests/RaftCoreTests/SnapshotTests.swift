import Testing
@testable import RaftCore

/// Must-have 5: compaction by the caller, snapshot delivery, installation, resumption.
@Suite struct SnapshotTests {
    func laggingClusterWithCompaction() throws -> TestCluster {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        c.isolate(nid(3))
        for i in 0..<5 { try c[1].node.propose(bytes("v\(i)")) }
        c.stabilize()
        let applied = c[1].node.compactableIndex
        c[1].storage.createSnapshot(at: applied, membership: c[1].membership, data: bytes("state@\(applied)"))
        c[1].storage.compact(upTo: applied)
        c.heal()
        return c
    }

    @Test func laggingFollowerReceivesSnapshotAndResumes() throws {
        let c = try laggingClusterWithCompaction()
        c[1].node.tick()
        c.stabilize()
        #expect(try c[3].storage.snapshot().data == bytes("state@6"))
        #expect(c[3].raft.log.committed == LogIndex(6))
        try c[1].node.propose(bytes("after"))
        c.stabilize()
        #expect(c[3].applied.last?.data == bytes("after"))
        #expect(c[1].raft.tracker[nid(3)]!.state == .replicate)
    }

    @Test func snapshotStateIsLeftOnFailureReport() throws {
        let c = try laggingClusterWithCompaction()
        c[1].node.tick()
        for _ in 0..<10 where !c.queue.contains(where: { $0.type == .snapshot }) {
            c.deliver()
            for id in c.sortedIDs { c.processReady(id) }
        }
        let snapMsgs = c.queue.filter { $0.type == .snapshot }
        #expect(snapMsgs.count == 1)
        #expect(c[1].raft.tracker[nid(3)]!.state == .snapshot)
        c.queue.removeAll()
        c[1].node.reportSnapshot(to: nid(3), succeeded: false)
        #expect(c[1].raft.tracker[nid(3)]!.state == .probe)
        c[1].node.tick()
        c.stabilize()
        #expect(c[3].raft.log.committed == c[1].raft.log.committed)
    }

    @Test func lostSnapshotIsRetriedAfterBoundedTicks() throws {
        let c = try laggingClusterWithCompaction()
        c[1].node.tick()
        for _ in 0..<4 {
            c.processReady(nid(1))
            c.processReady(nid(3))
            c.queue.removeAll { $0.type == .snapshot }
            c.deliver()
        }
        #expect(c[1].raft.tracker[nid(3)]!.state == .snapshot)
        // Heartbeats get through, snapshots do not: the leader gives up on the lost one and resends.
        for _ in 0..<(2 * c[1].raft.config.electionTimeoutTicks + 1) {
            c[1].node.tick()
            for id in c.sortedIDs { c.processReady(id) }
            c.queue.removeAll { $0.type == .snapshot }
            c.deliver()
        }
        #expect(c[1].node.coverage[.snapshotRetried] >= 1)
        #expect(c[1].raft.role == .leader)
        // Now let the resent snapshot through.
        for _ in 0..<(2 * c[1].raft.config.electionTimeoutTicks + 1) {
            c[1].node.tick()
            c.stabilize()
        }
        #expect(c[3].raft.log.committed == c[1].raft.log.committed)
    }

    @Test func followerIgnoresSnapshotOlderThanCommit() throws {
        var (f, fs) = makeNode(2, voters: [1, 2, 3], terms: [1, 1, 1], term: 1, commit: 3)
        var m = msg(.snapshot, 1, 2, term: 1)
        m.snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(2), term: Term(1), membership: Membership(voters: ids(1, 2, 3))))
        try f.step(m)
        let rd = drain(&f, fs)
        #expect(rd.snapshot == nil)
        #expect(sent(rd).first?.index == LogIndex(3))
    }

    @Test func followerWithMatchingEntryFastForwardsInsteadOfRestoring() throws {
        var (f, fs) = makeNode(2, voters: [1, 2, 3], terms: [1, 1, 1, 1], term: 1, commit: 1)
        var m = msg(.snapshot, 1, 2, term: 1)
        m.snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(3), term: Term(1), membership: Membership(voters: ids(1, 2, 3))))
        try f.step(m)
        let rd = drain(&f, fs)
        #expect(rd.snapshot == nil)
        #expect(f.raft.log.committed == LogIndex(3))
        #expect(f.raft.log.lastIndex == LogIndex(4))
    }

    @Test func snapshotCarriesMembership() throws {
        var (f, fs) = makeNode(4, voters: [1, 2, 3])
        var m = msg(.snapshot, 1, 4, term: 2)
        let members = Membership(voters: ids(1, 2, 3, 4))
        m.snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(10), term: Term(2), membership: members), data: [9])
        try f.step(m)
        let rd = drain(&f, fs)
        #expect(rd.snapshot?.data == [9])
        #expect(f.status.membership == members)
        #expect(f.raft.log.applied == LogIndex(10))
        #expect(try fs.firstIndex() == LogIndex(11))
    }

    @Test func restartWithAppliedBeyondDurableCommitCatchesUp() {
        // The commit-only hard state write was lost in a crash; the applied index was not.
        let (n, _) = makeNode(1, voters: [1, 2, 3], terms: [1, 1, 1], term: 1, commit: 1) { $0.appliedIndex = LogIndex(3) }
        #expect(n.raft.log.committed == LogIndex(3))
        #expect(n.raft.log.applied == LogIndex(3))
    }

    @Test func memoryStorageCompactionAndErrors() throws {
        let s = MemoryRaftLogStorage(membership: Membership(voters: ids(1)))
        s.append((1...10).map { ent(1, UInt64($0)) })
        s.createSnapshot(at: LogIndex(5), membership: Membership(voters: ids(1)), data: [1])
        s.compact(upTo: LogIndex(5))
        #expect(try s.firstIndex() == LogIndex(6))
        #expect(try s.term(at: LogIndex(5)) == Term(1))
        #expect(throws: StorageError.compacted) { try s.term(at: LogIndex(4)) }
        #expect(throws: StorageError.compacted) { try s.entries(LogIndex(5)..<LogIndex(7), maxBytes: .max) }
        #expect(throws: StorageError.unavailable) { try s.entries(LogIndex(6)..<LogIndex(12), maxBytes: .max) }
        #expect(try s.entries(LogIndex(6)..<LogIndex(11), maxBytes: 0).count == 1)
    }
}
