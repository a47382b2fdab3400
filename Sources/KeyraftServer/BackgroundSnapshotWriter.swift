import Glibc
import KMS
import KeyraftNode
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RaftCore
import Storage

/// A server node's periodic snapshots, off its event loop: a serial queue serialises the
/// state (a copy the node handed over) and stages its chunks in the store
/// (`RocksDBNodeStorage.stageSnapshotData`, safe off the loop); the commit (snapshot
/// metadata and log compaction, one synced batch) runs back on the node's loop as one of
/// its events. One at a time: the node never hands over a second before the first is done.
/// The thread runs at a lower CPU priority (nice 10) than the event loops: on a busy host,
/// serialising must not take the CPU the loop needs for heartbeats (at 400,000 keys on 2
/// shared cores, three nodes serialising back to back kept the machine saturated).
///
/// At 1,000,000 keys a snapshot takes seconds to serialise; on the loop that stopped ticks
/// and heartbeats long enough for elections (docs/BENCHMARKS.md, "Scale").
final class BackgroundSnapshotWriter: SnapshotWriter, @unchecked Sendable {
    // @unchecked: off the loop, `storage` is only used through `stageSnapshotData`, which
    // touches RocksDB alone; everything else runs on the node's loop.
    private let storage: RocksDBNodeStorage
    /// One dedicated thread, so that its priority can be lowered without touching a shared pool's.
    private let thread = NIOThreadPool(numberOfThreads: 1)
    /// Set by `drain`: a snapshot serialised after it is not staged (the node has stopped).
    private let stopping = NIOLockedValueBox(false)
    private let logger: Logger
    /// Runs a closure on the node's loop as one of its events.
    var runOnLoop: (@Sendable (@escaping @Sendable () -> Void) -> Void)?
    /// On the loop: the node has stopped, so nothing more is committed.
    var isStopped: (() -> Bool)?

    init(storage: RocksDBNodeStorage, logger: Logger) {
        self.storage = storage
        self.logger = logger
        thread.start()
    }

    /// Nice 10 for the calling thread only: on Linux the nice value is per thread, and
    /// `who` 0 names the caller (the loops keep theirs).
    private static func lowerPriority() {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
    }

    func write(_ state: KMSState, metadata: SnapshotMetadata, compactUpTo: LogIndex,
               done: @escaping (Result<Bool, StorageError>) -> Void) {
        guard let runOnLoop else { preconditionFailure("the snapshot writer is not connected to a loop") }
        let done = UncheckedSendable(done)
        let logger = self.logger
        thread.submit { workState in
            // Cancelled only when the process stops (`drain`): the node is halted by then.
            guard case .active = workState else { return }
            Self.lowerPriority()
            let started = NIODeadline.now()
            let data = state.snapshot()
            let serialised = NIODeadline.now()
            // Stopping: its commit would be skipped anyway, and the store is about to close.
            if self.stopping.withLockedValue({ $0 }) { return }
            let staged = Result<UInt32, StorageError> { () throws(StorageError) in
                try self.storage.stageSnapshotData(data, index: metadata.index)
            }
            let bytes = data.count
            let stagedAt = NIODeadline.now()
            runOnLoop {
                let onLoop = NIODeadline.now()
                if self.isStopped?() ?? false {
                    // The staged chunks stay until the next open removes them.
                    done.value(.success(false))
                    return
                }
                let result: Result<Bool, StorageError>
                switch staged {
                case let .success(chunkCount):
                    result = Result { () throws(StorageError) in
                        try self.storage.commitStagedSnapshot(metadata, dataBytes: bytes, chunkCount: chunkCount,
                                                         compactUpTo: compactUpTo)
                    }
                case let .failure(error):
                    result = .failure(error)
                }
                logger.info("snapshot written", metadata: [
                    "index": "\(metadata.index.rawValue)", "bytes": "\(bytes)",
                    "serialiseMs": "\((serialised - started).nanoseconds / 1_000_000)",
                    "stageMs": "\((stagedAt - serialised).nanoseconds / 1_000_000)",
                    // Waiting for the node's loop (the events queued before), then the commit on it.
                    "waitMs": "\((onLoop - stagedAt).nanoseconds / 1_000_000)",
                    "commitMs": "\((NIODeadline.now() - onLoop).nanoseconds / 1_000_000)",
                    "committed": "\((try? result.get()) ?? false)",
                ])
                done.value(result)
            }
        }
    }

    /// Waits until a snapshot being serialised or staged is done and stops the thread
    /// (before the store closes); one still serialising is not staged.
    func drain() {
        stopping.withLockedValue { $0 = true }
        try? thread.syncShutdownGracefully()
    }
}
