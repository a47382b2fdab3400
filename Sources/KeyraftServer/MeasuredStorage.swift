import KeyraftNode
import CoreMetrics
import Metrics
import NIOCore
import RaftCore

/// Forwards to the node's storage and times each synced write (the fsync latency metric).
final class MeasuredStorage: NodeStorage {
    private let inner: any NodeStorage
    private let fsyncLatency: Metrics.Timer

    init(_ inner: any NodeStorage, fsyncLatency: Metrics.Timer) {
        self.inner = inner
        self.fsyncLatency = fsyncLatency
    }

    func persist(hardState: HardState?, entries: [Entry], snapshot: Snapshot?, sync: Bool) throws(StorageError) {
        let started = NIODeadline.now()
        try inner.persist(hardState: hardState, entries: entries, snapshot: snapshot, sync: sync)
        if sync { fsyncLatency.recordNanoseconds((NIODeadline.now() - started).nanoseconds) }
    }

    func saveSnapshot(_ snapshot: Snapshot, compactUpTo: LogIndex) throws(StorageError) {
        try inner.saveSnapshot(snapshot, compactUpTo: compactUpTo)
    }

    func initialState() throws(StorageError) -> RaftInitialState { try inner.initialState() }
    func entries(_ range: Range<LogIndex>, maxBytes: Int) throws(StorageError) -> [Entry] {
        try inner.entries(range, maxBytes: maxBytes)
    }
    func term(at index: LogIndex) throws(StorageError) -> Term { try inner.term(at: index) }
    func firstIndex() throws(StorageError) -> LogIndex { try inner.firstIndex() }
    func lastIndex() throws(StorageError) -> LogIndex { try inner.lastIndex() }
    func snapshot() throws(StorageError) -> Snapshot { try inner.snapshot() }
}
