import KeyraftNode
import RaftCore

/// What a node's disk holds: hard state, the latest snapshot and the log after it.
///
/// Invariant: `log[0]` is a sentinel with the index and term of the last compacted entry;
/// every entry carries the checksum it was written with.
struct DiskImage: Equatable {
    var hardState = HardState()
    var snapshot: Snapshot
    var log: [Entry]
    var checksums: [UInt64]

    init(membership: Membership) {
        snapshot = Snapshot(metadata: SnapshotMetadata(membership: membership))
        log = [Entry(term: .zero, index: .zero)]
        checksums = [0]
    }

    var offset: LogIndex { log[0].index }
    var lastIndex: LogIndex { offset + UInt64(log.count - 1) }

    func position(_ index: LogIndex) -> Int { Int(index.rawValue - offset.rawValue) }

    mutating func append(_ entries: [Entry]) {
        guard let first = entries.first else { return }
        precondition(first.index <= lastIndex + 1, "gap in appended entries")
        precondition(first.index > offset, "append before the snapshot")
        log.removeSubrange(position(first.index)...)
        checksums.removeSubrange(position(first.index)...)
        log.append(contentsOf: entries)
        checksums.append(contentsOf: entries.map(checksum))
        assert(log.count == checksums.count && lastIndex == entries[entries.count - 1].index)
    }

    mutating func install(_ snapshot: Snapshot) {
        precondition(snapshot.metadata.index >= self.snapshot.metadata.index, "snapshot out of date")
        self.snapshot = snapshot
        log = [Entry(term: snapshot.metadata.term, index: snapshot.metadata.index)]
        checksums = [0]
    }

    /// Drops entries from `index` on (a crash losing an unsynced tail).
    mutating func truncate(from index: LogIndex) {
        precondition(index > offset && index <= lastIndex)
        log.removeSubrange(position(index)...)
        checksums.removeSubrange(position(index)...)
    }

    mutating func compact(upTo index: LogIndex) {
        guard index > offset else { return }
        precondition(index <= lastIndex && index <= snapshot.metadata.index, "compacting what no snapshot covers")
        let sentinel = Entry(term: log[position(index)].term, index: index)
        log.removeSubrange(1...position(index))
        checksums.removeSubrange(1...position(index))
        log[0] = sentinel
        checksums[0] = 0
    }

    /// The index of the first entry whose checksum does not match, if any.
    func firstCorruptEntry() -> LogIndex? {
        for i in 1..<log.count where checksum(log[i]) != checksums[i] { return log[i].index }
        return nil
    }
}

/// FNV-1a over an entry's index, term, kind and data.
func checksum(_ entry: Entry) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ byte: UInt8) {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    for value in [entry.index.rawValue, entry.term.rawValue] {
        for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
    mix(entry.kind.rawValue)
    for byte in entry.data { mix(byte) }
    return hash
}

/// A simulated disk. Writes land in `live` (what the process sees, like the page cache);
/// only a sync makes them durable, and a crash keeps only what was synced.
///
/// To avoid copying the log on every write, durability is tracked as a watermark rather
/// than a second image: entries and snapshots are synced with every write that carries
/// them (the node asks for a sync whenever it persists entries), so what a crash can lose
/// is the unsynced hard state and, on a torn write, the tail of the batch being written.
final class SimDisk: NodeStorage {
    private(set) var live: DiskImage
    /// The hard state as of the last sync.
    private var durableHardState = HardState()
    /// Entries from this index on were written without a sync (lost on a crash).
    private var unsyncedFrom: LogIndex?
    /// Set by the fault injector: the next synced write is torn and the process dies.
    var crashDuringNextSync = false
    /// The last index the node's latest append response claimed to hold; a truncation
    /// withdraws the claim beyond it.
    private var acknowledgedIndex = LogIndex.zero
    private let random: SimRandom

    init(membership: Membership, random: SimRandom) {
        live = DiskImage(membership: membership)
        self.random = random
    }

    // MARK: Crash and restart

    /// The node told the leader it holds entries up to `index`.
    func acknowledged(_ index: LogIndex) { acknowledgedIndex = index }

    /// The process died: everything not synced is gone. Returns a description of the
    /// broken promise if an acknowledged entry did not survive.
    @discardableResult
    func crash() -> String? {
        defer { acknowledgedIndex = .zero }
        if let from = unsyncedFrom, from <= live.lastIndex, from > live.offset { live.truncate(from: from) }
        unsyncedFrom = nil
        live.hardState = durableHardState
        // A hard state may not point past the log that survived.
        if live.hardState.commit > live.lastIndex { live.hardState.commit = live.lastIndex }
        guard acknowledgedIndex > live.lastIndex else { return nil }
        return "acknowledged index \(acknowledgedIndex) but only \(live.lastIndex) survived its crash"
    }

    /// Checks every record before a restart. Corrupted data is refused, never used.
    func verifyForRestart() -> String? {
        if let index = live.firstCorruptEntry() { return "log entry \(index) failed its checksum" }
        return nil
    }

    /// Fault: flip one bit of one durable entry (a bad sector).
    func corruptRandomEntry() -> LogIndex? {
        guard live.log.count > 1 else { return nil }
        let position = 1 + Int(random.below(UInt64(live.log.count - 1)))
        var entry = live.log[position]
        if entry.data.isEmpty {
            entry.term = Term(entry.term.rawValue ^ 1)
        } else {
            let bit = Int(random.below(UInt64(entry.data.count * 8)))
            entry.data[bit / 8] ^= 1 << UInt8(bit % 8)
        }
        live.log[position] = entry
        return entry.index
    }

    // MARK: NodeStorage

    func persist(hardState: HardState?, entries: [Entry], snapshot: Snapshot?, sync: Bool) throws(StorageError) {
        if let snapshot { live.install(snapshot) }
        if let first = entries.first, first.index <= live.lastIndex {
            acknowledgedIndex = min(acknowledgedIndex, first.index - 1)  // a truncation withdraws the claim
        }
        if sync, crashDuringNextSync {
            crashDuringNextSync = false
            // A torn write: a random prefix of the new entries reached the platter, the
            // hard state did not, and the process dies.
            let kept = Int(random.below(UInt64(entries.count + 1)))
            live.append(Array(entries.prefix(kept)))
            throw .ioFailure("simulated crash during fsync")
        }
        if !sync, let first = entries.first, unsyncedFrom.map({ first.index < $0 }) ?? true {
            unsyncedFrom = first.index
        }
        live.append(entries)
        if let hardState { live.hardState = hardState }
        if sync {
            durableHardState = live.hardState
            unsyncedFrom = nil
        }
    }

    func saveSnapshot(_ snapshot: Snapshot, compactUpTo: LogIndex) throws(StorageError) {
        precondition(snapshot.metadata.index <= live.lastIndex, "snapshot beyond the log")
        live.snapshot = snapshot
        live.compact(upTo: min(compactUpTo, snapshot.metadata.index))
        durableHardState = live.hardState
        unsyncedFrom = nil
    }

    func initialState() throws(StorageError) -> RaftInitialState {
        RaftInitialState(hardState: live.hardState, membership: live.snapshot.metadata.membership)
    }

    func entries(_ range: Range<LogIndex>, maxBytes: Int) throws(StorageError) -> [Entry] {
        if range.lowerBound <= live.offset { throw .compacted }
        if range.upperBound > live.lastIndex + 1 { throw .unavailable }
        var result: [Entry] = []
        var bytes = 0
        for position in live.position(range.lowerBound)..<live.position(range.upperBound) {
            let entry = live.log[position]
            bytes += entry.sizeBytes
            if !result.isEmpty, bytes > maxBytes { break }
            result.append(entry)
        }
        return result
    }

    func term(at index: LogIndex) throws(StorageError) -> Term {
        if index < live.offset { throw .compacted }
        if index > live.lastIndex { throw .unavailable }
        return live.log[live.position(index)].term
    }

    func firstIndex() throws(StorageError) -> LogIndex { live.offset + 1 }
    func lastIndex() throws(StorageError) -> LogIndex { live.lastIndex }
    func snapshot() throws(StorageError) -> Snapshot { live.snapshot }
}
