/// What a node recovers from storage on start.
public struct RaftInitialState: Hashable, Sendable {
    /// Last persisted hard state.
    public var hardState: HardState
    /// Configuration as of the applied index the node resumes from.
    public var membership: Membership

    /// Creates an initial state.
    public init(hardState: HardState, membership: Membership) {
        self.hardState = hardState
        self.membership = membership
    }
}

/// Read side of the durable log, implemented by the application (RocksDB, simulated disk, memory).
/// The core only reads; the application writes what each `Ready` asks it to persist.
/// Entries are contiguous between `firstIndex()` and `lastIndex()`; the entry just before
/// `firstIndex()` is covered by `snapshot()` and its term stays available through `term(at:)`.
public protocol RaftLogStorage: AnyObject {
    /// The hard state and membership to resume from.
    func initialState() throws(StorageError) -> RaftInitialState
    /// Entries in `range`, stopping once `maxBytes` is exceeded but always returning at least one.
    func entries(_ range: Range<LogIndex>, maxBytes: Int) throws(StorageError) -> [Entry]
    /// Term of the entry at `index`; valid for `firstIndex() - 1 ... lastIndex()`.
    func term(at index: LogIndex) throws(StorageError) -> Term
    /// First index still held as an entry (snapshot index + 1).
    func firstIndex() throws(StorageError) -> LogIndex
    /// Last index held (the snapshot index when no entries follow it).
    func lastIndex() throws(StorageError) -> LogIndex
    /// The most recent snapshot.
    func snapshot() throws(StorageError) -> Snapshot
}

/// An in-memory `RaftLogStorage` for tests and the simulator.
/// Invariant: `log[0]` is a sentinel carrying the snapshot's index and term.
public final class MemoryRaftLogStorage: RaftLogStorage {
    private var hardState: HardState
    private var membership: Membership
    private var currentSnapshot: Snapshot
    private var log: [Entry]

    /// Creates an empty storage with the given initial membership (bootstrap).
    public init(membership: Membership = Membership()) {
        self.hardState = HardState()
        self.membership = membership
        self.currentSnapshot = Snapshot(metadata: SnapshotMetadata(membership: membership))
        self.log = [Entry(term: .zero, index: .zero)]
    }

    /// The hard state and membership last recorded with `setHardState` / `setMembership`.
    public func initialState() throws(StorageError) -> RaftInitialState {
        RaftInitialState(hardState: hardState, membership: membership)
    }

    /// Entries in `range`; `.compacted` / `.unavailable` outside the held log.
    public func entries(_ range: Range<LogIndex>, maxBytes: Int) throws(StorageError) -> [Entry] {
        let offset = log[0].index
        if range.lowerBound <= offset { throw .compacted }
        if range.upperBound > lastIndexValue + 1 { throw .unavailable }
        let lo = LogIndex.distance(offset, range.lowerBound)
        let hi = LogIndex.distance(offset, range.upperBound)
        return limitSize(Array(log[lo..<hi]), maxBytes: maxBytes)
    }

    /// Term at `index`, including the snapshot's index.
    public func term(at index: LogIndex) throws(StorageError) -> Term {
        let offset = log[0].index
        if index < offset { throw .compacted }
        if index > lastIndexValue { throw .unavailable }
        return log[LogIndex.distance(offset, index)].term
    }

    /// Snapshot index + 1.
    public func firstIndex() throws(StorageError) -> LogIndex { log[0].index + 1 }

    /// Index of the last entry (or the snapshot's index).
    public func lastIndex() throws(StorageError) -> LogIndex { lastIndexValue }

    /// The latest snapshot created or applied.
    public func snapshot() throws(StorageError) -> Snapshot { currentSnapshot }

    private var lastIndexValue: LogIndex { log[0].index + UInt64(log.count - 1) }

    /// Persists the hard state.
    public func setHardState(_ state: HardState) {
        precondition(state.term >= hardState.term, "hard state term went backwards")
        hardState = state
    }

    /// Records the membership the application reached by applying entries.
    public func setMembership(_ membership: Membership) { self.membership = membership }

    /// Appends entries, truncating any conflicting suffix. Entries must be contiguous with the log.
    public func append(_ entries: [Entry]) {
        guard let first = entries.first else { return }
        let offset = log[0].index
        precondition(first.index <= lastIndexValue + 1, "gap in appended entries")
        precondition(first.index > offset, "append before the snapshot")
        log.removeSubrange(LogIndex.distance(offset, first.index)...)
        log.append(contentsOf: entries)
        precondition(lastIndexValue == entries[entries.count - 1].index, "append did not land contiguously")
    }

    /// Installs a snapshot received from the leader, discarding the whole log.
    public func applySnapshot(_ snapshot: Snapshot) {
        precondition(snapshot.metadata.index >= currentSnapshot.metadata.index, "snapshot out of date")
        currentSnapshot = snapshot
        membership = snapshot.metadata.membership
        log = [Entry(term: snapshot.metadata.term, index: snapshot.metadata.index)]
    }

    /// Records a snapshot of application state at `index` (≤ applied). Does not discard entries.
    public func createSnapshot(at index: LogIndex, membership: Membership, data: [UInt8]) {
        precondition(index > currentSnapshot.metadata.index, "snapshot must move forward")
        precondition(index <= lastIndexValue, "snapshot beyond the log")
        let term = log[LogIndex.distance(log[0].index, index)].term
        currentSnapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, membership: membership), data: data)
    }

    /// Discards entries up to and including `index`; the application calls this after a snapshot covers them.
    public func compact(upTo index: LogIndex) {
        let offset = log[0].index
        guard index > offset else { return }
        precondition(index <= lastIndexValue, "compacting beyond the log")
        precondition(index <= currentSnapshot.metadata.index, "compacting entries no snapshot covers")
        let sentinel = Entry(term: log[LogIndex.distance(offset, index)].term, index: index)
        log.removeSubrange(1...LogIndex.distance(offset, index))
        log[0] = sentinel
    }
}

/// Keeps a prefix of `entries` whose total `sizeBytes` stays within `maxBytes`; always at least one.
func limitSize(_ entries: [Entry], maxBytes: Int) -> [Entry] {
    guard !entries.isEmpty else { return entries }
    var total = entries[0].sizeBytes
    var count = 1
    while count < entries.count {
        total += entries[count].sizeBytes
        if total > maxBytes { break }
        count += 1
    }
    return count == entries.count ? entries : Array(entries[..<count])
}
