/// Everything the core asks of its caller after some inputs. Handle it in this order:
/// 1. persist `snapshot`, `entries` and `hardState` (sync if `mustSync`);
/// 2. send `messagesAfterPersist` (and `messages`, which may go even before step 1);
/// 3. apply `committedEntries` to the state machine (and serve `readStates` once applied);
/// 4. call `RawNode.advance(_:)` with this Ready.
public struct Ready: Sendable {
    /// Leader and role, when they changed since the last Ready.
    public var softState: SoftState?
    /// Term, vote and commit to persist, when they changed.
    public var hardState: HardState?
    /// Entries to append to storage (they may overwrite a conflicting stored suffix).
    public var entries: [Entry]
    /// A snapshot received from the leader, to install and persist before the entries.
    public var snapshot: Snapshot?
    /// Whether `entries`/`hardState` must be synced to disk before step 2 (term, vote or entries changed).
    public var mustSync: Bool
    /// Messages that may be sent at once, in parallel with persisting.
    public var messages: [Message]
    /// Messages that may leave only after step 1 is durable (append and vote acknowledgements).
    public var messagesAfterPersist: [Message]
    /// Committed entries to apply, in order.
    public var committedEntries: [Entry]
    /// Answered read requests: serve each once the applied index reaches its `index`.
    public var readStates: [ReadState]

    /// Whether the Ready asks for nothing.
    public var isEmpty: Bool {
        softState == nil && hardState == nil && entries.isEmpty && snapshot == nil && messages.isEmpty
            && messagesAfterPersist.isEmpty && committedEntries.isEmpty && readStates.isEmpty
    }
}

/// A follower's replication state as the leader sees it.
public struct FollowerProgress: Hashable, Sendable {
    /// Highest index known replicated.
    public var match: LogIndex
    /// Next index to send.
    public var next: LogIndex
    /// Probe, replicate or snapshot.
    public var state: ProgressState
    /// Append messages in flight.
    public var inflightMsgs: Int
    /// Whether sending is paused (window full, probe outstanding, or snapshot in flight).
    public var isPaused: Bool
    /// Whether the node is a learner.
    public var isLearner: Bool
}

/// A read-only view of a node's state for monitoring and tests.
public struct RaftStatus: Sendable {
    /// This node.
    public var id: NodeID
    /// Current term, vote and commit.
    public var hardState: HardState
    /// Current leader and role.
    public var softState: SoftState
    /// Highest index applied.
    public var applied: LogIndex
    /// Last index in the log (persisted or not).
    public var lastIndex: LogIndex
    /// The configuration currently in effect.
    public var membership: Membership
    /// Per-member progress, sorted by id (leader only; empty otherwise).
    public var progress: [(NodeID, FollowerProgress)]
    /// Target of a leadership transfer in progress.
    public var leadTransferee: NodeID?
}
