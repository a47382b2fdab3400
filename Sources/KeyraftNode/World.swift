import KMS
@_spi(Canaries) import RaftCore

/// What the node needs from the world. The production runtime implements these with
/// RocksDB, NIO and the system clock; the simulator with its own disk, network and
/// virtual time. The node cannot tell them apart.

/// The node's clocks.
///
/// `nowMs` is wall time (ms since the Unix epoch): it stamps commands on the leader (key
/// creation, rotation and deletion dates) and may be stepped by NTP or an operator.
/// `monotonicMs` never goes backwards and only advances at roughly the real rate (bounded
/// drift): the read lease is timed with it, so a wall-clock step can never stretch a lease
/// past `maxStalenessMs`. Two nodes' clocks never need to agree.
public protocol NodeClock: AnyObject {
    var nowMs: Int64 { get }
    var monotonicMs: Int64 { get }
}

/// Sends messages to peers. Delivery is best-effort: messages may be lost, delayed or
/// reordered; Raft and the request timeouts cope with that.
public protocol PeerNetwork: AnyObject {
    func send(_ message: PeerMessage, to peer: NodeID)
}

/// Durable storage of the Raft log, hard state and snapshots.
///
/// `persist` returns once the data is durable when `sync` is true; a throw means the
/// process cannot continue safely (the node halts). Reads come through `RaftLogStorage`.
public protocol NodeStorage: RaftLogStorage {
    func persist(hardState: HardState?, entries: [Entry], snapshot: Snapshot?, sync: Bool) throws(StorageError)
    /// Records a snapshot the node made of its own applied state, then drops log entries
    /// up to `compactUpTo` (never beyond the snapshot).
    func saveSnapshot(_ snapshot: Snapshot, compactUpTo: LogIndex) throws(StorageError)
}

/// Writes the node's periodic snapshots off its thread: serialising a large state takes
/// seconds (about 4 s per million keys), longer than an election timeout. The server sets
/// one; without one (the simulator, tests) the node serialises and saves inline.
public protocol SnapshotWriter: AnyObject {
    /// Serialises `state` and stores it as the snapshot `metadata` describes, dropping log
    /// entries up to `compactUpTo` (never beyond the snapshot). Then calls `done` on the
    /// node's thread between its events, with true when it became the node's snapshot,
    /// false when an installed or newer snapshot took its place meanwhile, or the error
    /// (the node halts).
    func write(_ state: KMSState, metadata: SnapshotMetadata, compactUpTo: LogIndex,
               done: @escaping (Result<Bool, StorageError>) -> Void)
}

/// Deliberately wrong behaviours of the driver and the state machine that the simulator
/// switches on to prove its checkers catch them. Never set in the server.
@_spi(Canaries) public enum NodeCanary: String, Hashable, Sendable, CaseIterable {
    /// Serve reads after the lease ran out.
    case leaseIgnoresStaleness = "lease-ignores-staleness"
    /// Apply commands with the local clock instead of the leader's timestamp.
    case applyReadsLocalClock = "apply-reads-local-clock"
    /// A rotation replaces the older versions instead of adding one.
    case rotationDropsOldVersion = "rotation-drops-old-version"
}

/// How reads and cryptographic calls are made safe on any node.
public enum ReadConsistency: Equatable, Sendable {
    /// Serve locally while the read lease holds (at most `maxStalenessMs` old).
    case lease(maxStalenessMs: Int64)
    /// One batched ReadIndex round trip per request.
    case linearizable
}

public struct NodeConfig: Sendable {
    public var id: NodeID
    /// How often the runtime calls `tick()`. The node converts tick counts to time with it
    /// where it compares them with its clock (leader confirmation).
    public var tickMs: Int64 = 100
    public var electionTimeoutTicks = 10
    public var heartbeatTimeoutTicks = 1
    /// Raft flow control: largest append message, appends in flight per follower.
    public var maxSizePerMsgBytes = 1 << 20
    public var maxInflightMsgs = 256
    public var readConsistency = ReadConsistency.lease(maxStalenessMs: 5_000)
    /// How often the lease is refreshed with a ReadIndex round trip.
    public var leaseRefreshTicks = 5
    /// A client request not answered within this many ticks fails with a retryable error.
    public var requestTimeoutTicks = 50
    public var pendingRequestsMax = 4_096
    /// Forwarded writes the leader remembers to drop duplicates (see `recentForwards`).
    public var forwardedWritesRememberedMax = 65_536
    public var snapshotEveryEntries = 1_000
    public var entriesKeptAfterSnapshot = 100
    public var schedulerIntervalTicks = 10
    public var maintenancePerRoundMax = 16
    /// Checks the Raft core's whole state after every input (expensive; on in the simulator
    /// and tests, off in the server where the cheap preconditions remain).
    public var verifyInvariants = false
    @_spi(Canaries) public var canaries: [NodeCanary] = []
    @_spi(Canaries) public var raftCanaries: [RaftCanary] = []

    /// The voters of a new cluster come from its storage's bootstrap configuration
    /// (e.g. `RocksDBNodeStorage(path:bootstrap:)`), not from here.
    public init(id: NodeID) {
        self.id = id
    }
}

/// A client request as the node sees it.
public enum NodeRequest: Equatable, Sendable {
    case write(KMSWriteRequest)
    case read(KMSReadRequest)
}

public enum NodeResponse: Equatable, Sendable {
    case write(KMSWriteResponse)
    case read(KMSReadResponse)
}

public typealias NodeCompletion = (Result<NodeResponse, KMSError>) -> Void
