/// The node's view of the whole log: the persisted part (read through `RaftLogStorage`) plus the
/// unstable tail.
/// Invariants: `applied <= committed <= lastIndex`; `committed` never decreases.
struct RaftLog {
    let storage: any RaftLogStorage
    var unstable: Unstable
    /// Highest index known to be committed.
    var committed: LogIndex
    /// Highest index the application has applied.
    var applied: LogIndex
    /// Highest index handed out to the application for applying (awaiting `advance`).
    var applying: LogIndex
    /// Where the last `maybeAppend` started writing over or after existing entries (nil if it
    /// appended nothing); at or below the previous last index it replaced a conflicting suffix.
    private(set) var lastConflictIndex: LogIndex?

    init(storage: any RaftLogStorage) {
        self.storage = storage
        let first = RaftLog.must { () throws(StorageError) in try storage.firstIndex() }
        let last = RaftLog.must { () throws(StorageError) in try storage.lastIndex() }
        self.unstable = Unstable(offset: last + 1)
        self.committed = first - 1
        self.applied = first - 1
        self.applying = first - 1
    }

    /// Runs a storage read whose failure (other than compaction, handled by callers) is fatal.
    static func must<T>(_ body: () throws(StorageError) -> T) -> T {
        do { return try body() } catch { preconditionFailure("unrecoverable storage error: \(error)") }
    }

    var firstIndex: LogIndex {
        if let i = unstable.maybeFirstIndex() { return i }
        return RaftLog.must { () throws(StorageError) in try storage.firstIndex() }
    }

    var lastIndex: LogIndex {
        if let i = unstable.maybeLastIndex() { return i }
        return RaftLog.must { () throws(StorageError) in try storage.lastIndex() }
    }

    var lastTerm: Term {
        guard let t = try? term(at: lastIndex) else { preconditionFailure("term of last index unavailable") }
        return t
    }

    /// Term at `index`; throws `.compacted` before the first index and `.unavailable` past the last.
    func term(at index: LogIndex) throws(StorageError) -> Term {
        let dummy = firstIndex - 1
        if index < dummy { throw .compacted }
        if index > lastIndex { throw .unavailable }
        if let t = unstable.maybeTerm(index) { return t }
        return try storage.term(at: index)
    }

    /// Term at `index`, or zero when unknown (compacted or beyond the log).
    func zeroTermOnError(_ index: LogIndex) -> Term { (try? term(at: index)) ?? .zero }

    func matchTerm(_ index: LogIndex, _ term: Term) -> Bool {
        guard let t = try? self.term(at: index) else { return false }
        return t == term
    }

    /// Election restriction (§5.4.1): a candidate's log is at least as up to date as ours.
    func isUpToDate(lastIndex candidateIndex: LogIndex, term candidateTerm: Term) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    /// Appends entries from a leader after (`index`, `logTerm`) if that entry matches; returns
    /// the index of the last new entry, or nil on mismatch. Truncates only on a term conflict.
    mutating func maybeAppend(index: LogIndex, logTerm: Term, entries: [Entry], canariesOn: Bool = false) -> LogIndex? {
        lastConflictIndex = nil
        guard matchTerm(index, logTerm) else { return nil }
        let lastNew = index + UInt64(entries.count)
        if let conflict = findConflict(entries) {
            lastConflictIndex = conflict
            // With a canary on, a wrongly committed entry may conflict: refuse rather than trap,
            // so the simulator sees the divergence it caused.
            if canariesOn && conflict <= committed { return nil }
            precondition(conflict > committed, "conflict \(conflict) with committed entry \(committed)")
            let start = LogIndex.distance(index + 1, conflict)
            append(Array(entries[start...]))
        }
        return lastNew
    }

    /// The first entry whose index exists with a different term, or the first new one past the end.
    func findConflict(_ entries: [Entry]) -> LogIndex? {
        for e in entries where !matchTerm(e.index, e.term) {
            return e.index
        }
        return nil
    }

    /// Fast backtracking: the largest index ≤ `index` whose term ≤ `term`, with that term.
    func findConflictByTerm(index: LogIndex, term: Term) -> (LogIndex, Term) {
        var i = index
        while true {
            guard let t = try? self.term(at: i) else { return (i, .zero) }
            if t <= term || i == .zero { return (i, t) }
            i = i - 1
        }
    }

    /// Appends entries to the unstable tail; never rewrites committed entries.
    @discardableResult
    mutating func append(_ entries: [Entry]) -> LogIndex {
        guard let first = entries.first else { return lastIndex }
        precondition(first.index > committed, "append at \(first.index) would rewrite committed \(committed)")
        precondition(first.index <= lastIndex + 1, "append leaves a gap after \(lastIndex)")
        unstable.truncateAndAppend(entries)
        return lastIndex
    }

    /// Entries in `lo..<hi` with a total size bound; throws `.compacted` if `lo` is gone.
    func slice(_ lo: LogIndex, _ hi: LogIndex, maxBytes: Int) throws(StorageError) -> [Entry] {
        precondition(lo <= hi, "inverted slice")
        if lo == hi { return [] }
        if lo < firstIndex { throw .compacted }
        precondition(hi <= lastIndex + 1, "slice beyond the log")
        var result: [Entry] = []
        if lo < unstable.offset {
            let stored = try storage.entries(lo..<min(hi, unstable.offset), maxBytes: maxBytes)
            result = stored
            if stored.count < LogIndex.distance(lo, min(hi, unstable.offset)) { return result }
        }
        if hi > unstable.offset {
            result += unstable.slice(max(lo, unstable.offset), hi)
        }
        return limitSize(result, maxBytes: maxBytes)
    }

    /// Entries from `index` to the end, bounded by `maxBytes`.
    func entries(from index: LogIndex, maxBytes: Int) throws(StorageError) -> [Entry] {
        if index > lastIndex { return [] }
        return try slice(index, lastIndex + 1, maxBytes: maxBytes)
    }

    /// Advances the commit index; never backwards, never past the last entry.
    mutating func commitTo(_ index: LogIndex) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit \(index) beyond last index \(lastIndex)")
        committed = index
    }

    /// Commits `index` only if its entry carries `term` (the leader's current term, §5.4.2).
    mutating func maybeCommit(index: LogIndex, term: Term) -> Bool {
        guard index > committed, zeroTermOnError(index) == term else { return false }
        commitTo(index)
        return true
    }

    /// Whether committed entries are waiting to be handed to the application.
    var hasNextCommittedEntries: Bool {
        committed > applying && firstIndex <= applying + 1
    }

    /// The next batch of committed entries to apply, bounded by `maxBytes`.
    func nextCommittedEntries(maxBytes: Int) -> [Entry] {
        guard hasNextCommittedEntries else { return [] }
        do { return try slice(applying + 1, committed + 1, maxBytes: maxBytes) } catch {
            preconditionFailure("committed entries unavailable: \(error)")
        }
    }

    mutating func acceptApplying(upTo index: LogIndex) {
        precondition(index <= committed && index >= applying, "applying \(index) outside (\(applying), \(committed)]")
        applying = index
    }

    mutating func appliedTo(_ index: LogIndex) {
        precondition(index <= committed, "applied \(index) beyond commit \(committed)")
        precondition(index >= applied, "applied went backwards")
        applied = index
        applying = max(applying, index)
    }

    /// Replaces the log with a snapshot received from the leader.
    mutating func restore(_ snap: Snapshot) {
        precondition(snap.metadata.index > committed, "restoring a snapshot behind commit")
        committed = snap.metadata.index
        unstable.restore(snap)
    }

    /// The snapshot to send: the pending unstable one, or storage's.
    func snapshot() throws(StorageError) -> Snapshot {
        if let s = unstable.snapshot { return s }
        return try storage.snapshot()
    }

    mutating func stableTo(index: LogIndex, term: Term) { unstable.stableTo(index: index, term: term) }
    mutating func stableSnapshotTo(index: LogIndex) { unstable.stableSnapshotTo(index: index) }
}
