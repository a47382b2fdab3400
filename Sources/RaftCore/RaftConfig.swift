/// Deliberately wrong behaviours the simulator switches on to prove it catches bugs.
/// With none enabled (the default) the core is correct. Each canary is one marked branch.
@_spi(Canaries)
public enum RaftCanary: String, Hashable, Sendable, CaseIterable {
    /// A leader commits an entry of an earlier term by counting replicas (violates §5.4.2).
    case commitPreviousTerm = "commit-previous-term"
    /// A node grants a second vote in a term it already voted in.
    case doubleVote = "double-vote"
    /// A follower sets commit = leader commit, without the min with the last new entry.
    case followerOvercommit = "follower-overcommit"
    /// Append and vote responses leave in `messages` instead of `messagesAfterPersist`.
    case ackBeforeSync = "ack-before-sync"
}

/// Configuration of one Raft node. Defaults suit a 3–7 node cluster ticking every ~100 ms.
public struct RaftConfig: Sendable {
    /// This node's id.
    public var id: NodeID
    /// Ticks without leader contact before a follower campaigns; the real timeout is
    /// randomised in [electionTimeoutTicks, 2 × electionTimeoutTicks).
    public var electionTimeoutTicks: Int = 10
    /// Ticks between leader heartbeats. Must be below `electionTimeoutTicks`.
    public var heartbeatTimeoutTicks: Int = 1
    /// Run a pre-vote round before incrementing the term (§9.6 of the dissertation).
    public var preVote: Bool = true
    /// Leader steps down without recent contact from a quorum; followers with a live leader ignore votes.
    public var checkQuorum: Bool = true
    /// Upper bound on the entry bytes in one append message (at least one entry is always sent).
    public var maxSizePerMsgBytes: Int = 1 << 20
    /// Upper bound on append messages in flight to one follower in replicate state.
    public var maxInflightMsgs: Int = 256
    /// Upper bound on entry bytes in flight to one follower (0 = no byte bound beyond messages).
    public var maxInflightBytes: Int = 0
    /// Upper bound on bytes of proposed-but-uncommitted entries at the leader.
    public var maxUncommittedEntriesBytes: Int = 64 << 20
    /// Upper bound on committed entry bytes handed out in one Ready (at least one entry).
    public var maxCommittedSizePerReadyBytes: Int = 4 << 20
    /// Upper bound on ReadIndex requests waiting at a leader or follower.
    public var maxPendingReadIndexRequests: Int = 4096
    /// Check whole-state invariants after every input (O(log tail + members)); tests and the
    /// simulator turn this on, production may leave it off. Cheap checks are always on.
    public var verifyInvariants: Bool = false
    /// Index already applied by the state machine when the node restarts.
    public var appliedIndex: LogIndex = .zero
    /// Deliberate bugs for the simulator. Empty in production.
    @_spi(Canaries) public var canaries: [RaftCanary] = []
    /// Tests only: use exactly `electionTimeoutTicks` so scripted traces do not depend on jitter.
    var electionJitterDisabled = false

    /// Creates a configuration with defaults for everything but the id.
    public init(id: NodeID) { self.id = id }

    /// Traps when the configuration cannot work.
    func validate() {
        precondition(heartbeatTimeoutTicks > 0, "heartbeatTimeoutTicks must be positive")
        precondition(electionTimeoutTicks > heartbeatTimeoutTicks, "election timeout must exceed heartbeat")
        precondition(maxSizePerMsgBytes > 0 && maxInflightMsgs > 0, "message bounds must be positive")
        precondition(maxInflightBytes >= 0 && maxUncommittedEntriesBytes > 0, "byte caps must be positive")
        precondition(maxPendingReadIndexRequests > 0 && maxCommittedSizePerReadyBytes > 0, "bounds must be positive")
    }

    /// Whether a canary is switched on.
    func has(_ canary: RaftCanary) -> Bool { canaries.contains(canary) }
}
