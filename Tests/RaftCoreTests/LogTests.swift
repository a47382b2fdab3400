import Testing
@testable import RaftCore

/// The log, its unstable tail and in-memory storage.
@Suite struct LogTests {
    @Test func unstableTruncateAndAppendCases() {
        var u = Unstable(offset: LogIndex(5))
        u.truncateAndAppend([ent(1, 5), ent(1, 6), ent(1, 7)])
        #expect(u.maybeLastIndex() == LogIndex(7))
        u.truncateAndAppend([ent(2, 7)]) // Replace the last one.
        #expect(u.entries.map(\.term) == [Term(1), Term(1), Term(2)])
        u.truncateAndAppend([ent(3, 4)]) // Before the tail: replaces it all.
        #expect(u.offset == LogIndex(4) && u.entries.count == 1)
        u.truncateAndAppend([ent(3, 5)]) // Plain append.
        #expect(u.maybeLastIndex() == LogIndex(5))
    }

    @Test func unstableStableToIgnoresReplacedEntries() {
        var u = Unstable(offset: LogIndex(1))
        u.truncateAndAppend([ent(1, 1), ent(1, 2)])
        u.stableTo(index: LogIndex(2), term: Term(2)) // Wrong term: ignored.
        #expect(u.entries.count == 2)
        u.stableTo(index: LogIndex(1), term: Term(1))
        #expect(u.offset == LogIndex(2) && u.entries.count == 1)
    }

    @Test func unstableRestoreSnapshot() {
        var u = Unstable(offset: LogIndex(3))
        u.truncateAndAppend([ent(1, 3)])
        let snap = Snapshot(metadata: SnapshotMetadata(index: LogIndex(10), term: Term(4)))
        u.restore(snap)
        #expect(u.maybeFirstIndex() == LogIndex(11) && u.maybeLastIndex() == LogIndex(10))
        #expect(u.maybeTerm(LogIndex(10)) == Term(4) && u.maybeTerm(LogIndex(9)) == nil)
        u.stableSnapshotTo(index: LogIndex(10))
        #expect(u.snapshot == nil)
    }

    @Test func logSlicesAcrossStorageAndUnstable() throws {
        let s = MemoryRaftLogStorage(membership: Membership(voters: ids(1)))
        s.append([ent(1, 1, "a"), ent(1, 2, "b")])
        var log = RaftLog(storage: s)
        log.append([ent(2, 3, "c"), ent(2, 4, "d")])
        #expect(try log.slice(LogIndex(1), LogIndex(5), maxBytes: .max).map(\.data) == ["a", "b", "c", "d"].map(bytes))
        #expect(try log.slice(LogIndex(2), LogIndex(4), maxBytes: .max).map(\.index) == [LogIndex(2), LogIndex(3)])
        #expect(try log.slice(LogIndex(1), LogIndex(5), maxBytes: 1).count == 1)
        #expect(log.lastTerm == Term(2))
    }

    @Test func findConflictByTermWalksBackToLowerTerm() {
        let s = MemoryRaftLogStorage(membership: Membership(voters: ids(1)))
        s.append([ent(1, 1), ent(1, 2), ent(3, 3), ent(3, 4), ent(5, 5)])
        let log = RaftLog(storage: s)
        #expect(log.findConflictByTerm(index: LogIndex(5), term: Term(4)) == (LogIndex(4), Term(3)))
        #expect(log.findConflictByTerm(index: LogIndex(5), term: Term(2)) == (LogIndex(2), Term(1)))
        #expect(log.findConflictByTerm(index: LogIndex(5), term: Term(0)) == (LogIndex(0), Term(0)))
    }

    @Test func isUpToDateComparesTermThenIndex() {
        let s = MemoryRaftLogStorage(membership: Membership(voters: ids(1)))
        s.append([ent(1, 1), ent(2, 2)])
        let log = RaftLog(storage: s)
        #expect(log.isUpToDate(lastIndex: LogIndex(1), term: Term(3)))
        #expect(log.isUpToDate(lastIndex: LogIndex(2), term: Term(2)))
        #expect(!log.isUpToDate(lastIndex: LogIndex(1), term: Term(2)))
        #expect(!log.isUpToDate(lastIndex: LogIndex(9), term: Term(1)))
    }

    @Test func maybeCommitRequiresTermMatch() {
        let s = MemoryRaftLogStorage(membership: Membership(voters: ids(1)))
        s.append([ent(1, 1), ent(2, 2)])
        var log = RaftLog(storage: s)
        var moved = log.maybeCommit(index: LogIndex(2), term: Term(1))
        #expect(!moved)
        moved = log.maybeCommit(index: LogIndex(2), term: Term(2))
        #expect(moved && log.committed == LogIndex(2))
        moved = log.maybeCommit(index: LogIndex(1), term: Term(1))
        #expect(!moved && log.committed == LogIndex(2)) // Never backwards.
    }

    @Test func committedEntriesAreBoundedPerReady() {
        let s = MemoryRaftLogStorage(membership: Membership(voters: ids(1)))
        s.append((1...10).map { ent(1, UInt64($0), "0123456789") })
        var log = RaftLog(storage: s)
        log.commitTo(LogIndex(10))
        let batch = log.nextCommittedEntries(maxBytes: 3 * (Entry.headerBytes + 10))
        #expect(batch.count == 3)
    }

    @Test func entryDescriptionsAndNewtypesArePrintable() {
        #expect("\(Term(3))" == "3" && "\(LogIndex(4))" == "4" && "\(NodeID(5))" == "5")
        #expect(LogIndex(4) + 2 == LogIndex(6) && LogIndex(4) - 1 == LogIndex(3))
        #expect(Term(1) < Term(2) && Term(1).next == Term(2))
        #expect(Membership(voters: ids(3, 1, 2, 1)).voters == ids(1, 2, 3))
    }
}
