import Glibc
import RaftCore
import Storage

// The child process of StorageTests' crash test. It appends entries to the store at
// argv[1] in synced batches of 1–3 (snapshotting and compacting every 64 entries) and
// prints the last acknowledged index after each batch returns, until it is SIGKILLed.
// Payloads are a function of the index (`payload` below; the test keeps a copy) so the
// parent can check every acknowledged entry byte for byte.

/// Upper bound on batches written in one run: the parent kills the helper long before.
let batchesMax = 200_000
let snapshotEveryEntries: UInt64 = 64
let entriesKeptAfterSnapshot: UInt64 = 8

func payload(_ index: LogIndex) -> [UInt8] {
    (0..<64).map { UInt8(truncatingIfNeeded: index.rawValue &* 31 &+ UInt64($0)) }
}

func snapshotData(_ index: LogIndex) -> [UInt8] {
    (0..<300).map { UInt8(truncatingIfNeeded: index.rawValue &* 7 &+ UInt64($0) / 3) }
}

/// Writes `line` to a file descriptor in one unbuffered write, so an acknowledgement is out
/// before the next batch starts.
func emit(_ line: String, to descriptor: Int32) {
    let bytes = Array((line + "\n").utf8)
    let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    precondition(written == bytes.count, "short write of an acknowledgement")
}

guard CommandLine.arguments.count == 2 else {
    emit("usage: storage-crash-helper <data folder>", to: 2)
    exit(2)
}
let membership = Membership(voters: [NodeID(1)])
do {
    let storage = try RocksDBNodeStorage(path: CommandLine.arguments[1], bootstrap: membership, snapshotChunkBytes: 128)
    var next = try storage.lastIndex() + 1
    var lastSnapshot = try storage.snapshot().metadata.index
    for _ in 0..<batchesMax {
        let count = 1 + next.rawValue % 3
        let entries = (0..<count).map { Entry(term: Term(1), index: next + $0, data: payload(next + $0)) }
        let last = entries[entries.count - 1].index
        try storage.persist(hardState: HardState(term: Term(1), vote: NodeID(1), commit: last), entries: entries,
                            snapshot: nil, sync: true)
        emit("\(last.rawValue)", to: 1)
        if last.rawValue >= lastSnapshot.rawValue + snapshotEveryEntries {
            let snapshot = Snapshot(metadata: SnapshotMetadata(index: last, term: Term(1), membership: membership),
                                    data: snapshotData(last))
            try storage.saveSnapshot(snapshot, compactUpTo: last - entriesKeptAfterSnapshot)
            lastSnapshot = last
        }
        next = last + 1
    }
} catch {
    emit("storage-crash-helper: \(error)", to: 2)
    exit(1)
}
