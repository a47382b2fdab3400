/// The kinds of message peers exchange. Raw values are the wire encoding.
public enum MessageType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Leader → follower: entries after (`index`, `logTerm`), with the leader's `commit`.
    case append = 1
    /// Follower → leader: accepted up to `index`, or `reject` with a hint.
    case appendResponse = 2
    /// Candidate → all: vote for me; (`index`, `logTerm`) is my last entry.
    case requestVote = 3
    /// Voter → candidate: granted unless `reject`.
    case voteResponse = 4
    /// Pre-candidate → all: would you vote for me in `term`? (no state changes).
    case requestPreVote = 5
    /// Voter → pre-candidate.
    case preVoteResponse = 6
    /// Leader → follower: I am alive; advance commit to `commit`. `context` carries ReadIndex ids.
    case heartbeat = 7
    /// Follower → leader.
    case heartbeatResponse = 8
    /// Leader → follower: install `snapshot`.
    case snapshot = 9
    /// Leader → transfer target: campaign now, ignoring your election timer.
    case timeoutNow = 10
    /// Follower → leader: confirm leadership and tell me your commit index (`context` identifies the request).
    case readIndex = 11
    /// Leader → follower: the confirmed read index is `index`.
    case readIndexResponse = 12
    /// Any → leader: transfer leadership to `from` (a follower's own request, forwarded).
    case transferLeader = 13

    public var description: String {
        switch self {
        case .append: "MsgApp"
        case .appendResponse: "MsgAppResp"
        case .requestVote: "MsgVote"
        case .voteResponse: "MsgVoteResp"
        case .requestPreVote: "MsgPreVote"
        case .preVoteResponse: "MsgPreVoteResp"
        case .heartbeat: "MsgHeartbeat"
        case .heartbeatResponse: "MsgHeartbeatResp"
        case .snapshot: "MsgSnap"
        case .timeoutNow: "MsgTimeoutNow"
        case .readIndex: "MsgReadIndex"
        case .readIndexResponse: "MsgReadIndexResp"
        case .transferLeader: "MsgTransferLeader"
        }
    }

    /// Whether this is a (pre-)vote request.
    var isVoteRequest: Bool { self == .requestVote || self == .requestPreVote }

    /// Whether this is a response that must leave only after the sender's state is durable.
    var needsPersistBeforeSend: Bool { self == .appendResponse || self == .voteResponse }
}

/// One message between peers. Fields not used by a type are zero / empty.
public struct Message: Hashable, Sendable, CustomStringConvertible {
    /// What the message means.
    public var type: MessageType
    /// Sender.
    public var from: NodeID
    /// Recipient.
    public var to: NodeID
    /// Sender's term (for pre-votes: the term the sender would campaign in).
    public var term: Term
    /// Term of the entry at `index` (append), or of the candidate's last entry (votes), or a rejection hint's term.
    public var logTerm: Term
    /// Log position this message refers to.
    public var index: LogIndex
    /// Entries carried by an append.
    public var entries: [Entry]
    /// The leader's commit index.
    public var commit: LogIndex
    /// Whether a response refuses the request.
    public var reject: Bool
    /// For a rejected append: the index the follower suggests probing next.
    public var rejectHint: LogIndex
    /// Snapshot carried by a `.snapshot` message.
    public var snapshot: Snapshot?
    /// Opaque context (ReadIndex request ids; "transfer" marker on forced votes).
    public var context: [UInt8]

    /// Creates a message.
    public init(
        type: MessageType, from: NodeID, to: NodeID, term: Term = .zero,
        logTerm: Term = .zero, index: LogIndex = .zero, entries: [Entry] = [],
        commit: LogIndex = .zero, reject: Bool = false, rejectHint: LogIndex = .zero,
        snapshot: Snapshot? = nil, context: [UInt8] = []
    ) {
        self.type = type
        self.from = from
        self.to = to
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.reject = reject
        self.rejectHint = rejectHint
        self.snapshot = snapshot
        self.context = context
    }

    public var description: String {
        var s = "\(from)->\(to) \(type) Term:\(term) Log:\(logTerm)/\(index)"
        if commit != .zero { s += " Commit:\(commit)" }
        if reject { s += " Rejected (Hint: \(rejectHint))" }
        if !entries.isEmpty { s += " Entries:[" + entries.map(\.description).joined(separator: ", ") + "]" }
        if let snap = snapshot { s += " Snapshot: \(snap.metadata)" }
        if !context.isEmpty { s += " Context:\(String(decoding: context, as: UTF8.self))" }
        return s
    }
}

/// Context marking a vote request that follows a leadership transfer (bypasses the leader lease).
let transferCampaignContext: [UInt8] = Array("transfer".utf8)
