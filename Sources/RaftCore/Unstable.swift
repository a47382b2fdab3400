/// The tail of the log not yet persisted: entries (and possibly an incoming snapshot) that the
/// next `Ready` hands to the application to write.
/// Invariant: if `snapshot` is set, `offset == snapshot.index + 1`; `entries[i].index == offset + i`.
struct Unstable {
    /// A snapshot received from the leader and not yet persisted.
    var snapshot: Snapshot?
    /// Entries not yet persisted.
    var entries: [Entry] = []
    /// Index of `entries[0]` (or where it would go).
    var offset: LogIndex

    init(offset: LogIndex) { self.offset = offset }

    /// First index, known only when a snapshot is pending.
    func maybeFirstIndex() -> LogIndex? { snapshot.map { $0.metadata.index + 1 } }

    /// Last index, known when entries or a snapshot are pending.
    func maybeLastIndex() -> LogIndex? {
        if !entries.isEmpty { return offset + UInt64(entries.count - 1) }
        return snapshot.map { $0.metadata.index }
    }

    /// Term at `index`, when the unstable part knows it.
    func maybeTerm(_ index: LogIndex) -> Term? {
        if index < offset {
            guard let snap = snapshot, snap.metadata.index == index else { return nil }
            return snap.metadata.term
        }
        guard let last = maybeLastIndex(), index <= last, !entries.isEmpty else { return nil }
        return entries[LogIndex.distance(offset, index)].term
    }

    /// The application persisted entries up to (`index`, `term`); drop them from the tail.
    /// Ignored when the entry at `index` has been replaced since (different term).
    mutating func stableTo(index: LogIndex, term: Term) {
        guard let t = maybeTerm(index), t == term, index >= offset else { return }
        entries.removeFirst(LogIndex.distance(offset, index) + 1)
        offset = index + 1
        precondition(entries.isEmpty || entries[0].index == offset, "unstable offset drifted")
    }

    /// The application persisted the pending snapshot at `index`.
    mutating func stableSnapshotTo(index: LogIndex) {
        if let snap = snapshot, snap.metadata.index == index { snapshot = nil }
    }

    /// Replaces everything with an incoming snapshot.
    mutating func restore(_ snap: Snapshot) {
        precondition(!snap.isEmpty, "restoring an empty snapshot")
        offset = snap.metadata.index + 1
        entries = []
        snapshot = snap
    }

    /// Appends `newEntries`, truncating whatever they overwrite.
    mutating func truncateAndAppend(_ newEntries: [Entry]) {
        guard let first = newEntries.first else { return }
        let after = first.index
        if after == offset + UInt64(entries.count) {
            entries.append(contentsOf: newEntries)
        } else if after <= offset {
            // Replaces the whole unstable tail (and possibly part of the stable log).
            offset = after
            entries = newEntries
        } else {
            entries = Array(entries[..<LogIndex.distance(offset, after)]) + newEntries
        }
        precondition(entries[0].index == offset, "unstable entries not contiguous")
    }

    /// Entries in `lo..<hi`, which must lie inside the unstable tail.
    func slice(_ lo: LogIndex, _ hi: LogIndex) -> [Entry] {
        precondition(lo >= offset && lo <= hi, "unstable slice out of bounds")
        precondition(LogIndex.distance(offset, hi) <= entries.count, "unstable slice beyond the tail")
        return Array(entries[LogIndex.distance(offset, lo)..<LogIndex.distance(offset, hi)])
    }
}
