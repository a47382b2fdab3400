/// A Raft term: a logical clock that increases with every election.
public struct Term: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The raw value carried on the wire and on disk.
    public var rawValue: UInt64

    /// Creates a term from its raw value.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// Term zero: the term before any election (and of the empty log's sentinel).
    public static let zero = Term(0)

    /// The term that follows this one.
    public var next: Term {
        precondition(rawValue < UInt64.max, "term overflow")
        return Term(rawValue + 1)
    }

    public static func < (lhs: Term, rhs: Term) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "\(rawValue)" }
}

/// A position in the replicated log. Index 0 is the empty-log sentinel; real entries start at 1.
public struct LogIndex: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The raw value carried on the wire and on disk.
    public var rawValue: UInt64

    /// Creates an index from its raw value.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The sentinel index before the first entry.
    public static let zero = LogIndex(0)

    /// Adds a count of entries.
    public static func + (lhs: LogIndex, rhs: UInt64) -> LogIndex { LogIndex(lhs.rawValue + rhs) }

    /// Subtracts a count of entries; traps below zero.
    public static func - (lhs: LogIndex, rhs: UInt64) -> LogIndex {
        precondition(lhs.rawValue >= rhs, "log index underflow")
        return LogIndex(lhs.rawValue - rhs)
    }

    /// The number of entries in `lo..<hi`.
    static func distance(_ lo: LogIndex, _ hi: LogIndex) -> Int {
        precondition(lo <= hi, "inverted index range")
        return Int(hi.rawValue - lo.rawValue)
    }

    public static func < (lhs: LogIndex, rhs: LogIndex) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "\(rawValue)" }
}

/// The identity of a cluster member. Zero is reserved (it means "none" on the wire).
public struct NodeID: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The raw value carried on the wire and on disk; never zero.
    public var rawValue: UInt64

    /// Creates a node id; traps on zero, which is reserved.
    public init(_ rawValue: UInt64) {
        precondition(rawValue != 0, "NodeID 0 is reserved for 'none'")
        self.rawValue = rawValue
    }

    /// Creates a node id from untrusted input (configuration, the wire); nil for zero.
    public init?(validating rawValue: UInt64) {
        guard rawValue != 0 else { return nil }
        self.rawValue = rawValue
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "\(rawValue)" }
}

/// The role a node plays in its current term.
public enum RaftRole: UInt8, Sendable, CustomStringConvertible {
    case follower = 0
    case preCandidate = 1
    case candidate = 2
    case leader = 3

    public var description: String {
        switch self {
        case .follower: "follower"
        case .preCandidate: "pre-candidate"
        case .candidate: "candidate"
        case .leader: "leader"
        }
    }
}

/// The state that must be durable before the node answers anyone (Figure 2, "persistent state").
public struct HardState: Hashable, Sendable, CustomStringConvertible {
    /// Latest term this node has seen.
    public var term: Term
    /// The candidate voted for in `term`, if any.
    public var vote: NodeID?
    /// Highest index known committed (persisted so restarts re-apply less).
    public var commit: LogIndex

    /// Creates a hard state.
    public init(term: Term = .zero, vote: NodeID? = nil, commit: LogIndex = .zero) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }

    public var description: String {
        "term=\(term) vote=\(vote.map { "\($0)" } ?? "none") commit=\(commit)"
    }
}

/// Volatile state worth reporting to the caller when it changes.
public struct SoftState: Hashable, Sendable, CustomStringConvertible {
    /// The leader this node believes in, if any.
    public var leader: NodeID?
    /// This node's role.
    public var role: RaftRole

    /// Creates a soft state.
    public init(leader: NodeID?, role: RaftRole) {
        self.leader = leader
        self.role = role
    }

    public var description: String { "leader=\(leader.map { "\($0)" } ?? "none") role=\(role)" }
}

/// What an entry carries.
public enum EntryKind: UInt8, Sendable, CustomStringConvertible {
    /// Opaque application data (empty for a new leader's first entry).
    case normal = 0
    /// An encoded `MembershipChange`.
    case membershipChange = 1

    public var description: String { self == .normal ? "normal" : "membership" }
}

/// One log entry.
public struct Entry: Hashable, Sendable, CustomStringConvertible {
    /// Term of the leader that created the entry.
    public var term: Term
    /// Position of the entry in the log.
    public var index: LogIndex
    /// How `data` is to be read.
    public var kind: EntryKind
    /// Opaque payload (or an encoded `MembershipChange`).
    public var data: [UInt8]

    /// Creates an entry.
    public init(term: Term, index: LogIndex, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Bytes counted against message and batch limits: payload plus a fixed header.
    public var sizeBytes: Int { data.count + Entry.headerBytes }

    /// Fixed per-entry overhead counted by `sizeBytes`.
    public static let headerBytes = 24

    public var description: String {
        let payload = kind == .normal ? String(decoding: data, as: UTF8.self) : "conf"
        return "\(term)/\(index) \(kind == .normal ? "" : "[conf] ")\(payload)"
    }
}

/// The cluster configuration: voters and learners, each sorted by id. During a joint change
/// (joint consensus, §6 of the Raft paper) `outgoingVoters` holds the previous voters and every
/// decision needs a majority of both voter sets.
public struct Membership: Hashable, Sendable, CustomStringConvertible {
    /// Voting members (the incoming set during a joint change), sorted ascending.
    /// Invariant: disjoint from `learners`.
    public private(set) var voters: [NodeID]
    /// The previous voters while a joint change is in progress; empty otherwise.
    /// Invariant: disjoint from `learners`.
    public private(set) var outgoingVoters: [NodeID]
    /// Non-voting members that receive the log, sorted ascending.
    public private(set) var learners: [NodeID]

    /// Creates a membership; sorts and de-duplicates; traps if a node is both voter and learner.
    public init(voters: [NodeID] = [], learners: [NodeID] = [], outgoingVoters: [NodeID] = []) {
        self.voters = Array(Set(voters)).sorted()
        self.learners = Array(Set(learners)).sorted()
        self.outgoingVoters = Array(Set(outgoingVoters)).sorted()
        precondition(Set(self.voters).isDisjoint(with: self.learners), "a node cannot be voter and learner")
        precondition(Set(self.outgoingVoters).isDisjoint(with: self.learners), "an outgoing voter cannot be a learner")
    }

    /// Whether a joint change is in progress.
    public var isJoint: Bool { !outgoingVoters.isEmpty }

    /// Every node that votes in either voter set, sorted ascending.
    public var allVoters: [NodeID] {
        // Hot: called for every broadcast. Outside a joint configuration it is `voters`.
        guard !outgoingVoters.isEmpty else { return voters }
        var merged = voters
        for id in outgoingVoters where !voters.contains(id) { merged.append(id) }
        return merged.sorted()
    }

    /// Every member: voters of either set (ascending), then learners (ascending).
    public var allNodes: [NodeID] { allVoters + learners }

    /// Whether `id` votes (in the incoming or the outgoing set).
    public func isVoter(_ id: NodeID) -> Bool { voters.contains(id) || outgoingVoters.contains(id) }

    /// Whether `id` is a learner.
    public func isLearner(_ id: NodeID) -> Bool { learners.contains(id) }

    public var description: String {
        let joint = isJoint ? " outgoing=\(outgoingVoters.map(\.rawValue))" : ""
        return "voters=\(voters.map(\.rawValue))\(joint) learners=\(learners.map(\.rawValue))"
    }
}

/// Metadata of a snapshot: the log position it replaces and the configuration at that point.
public struct SnapshotMetadata: Hashable, Sendable, CustomStringConvertible {
    /// Last index covered by the snapshot.
    public var index: LogIndex
    /// Term of the entry at `index`.
    public var term: Term
    /// Configuration as of `index`.
    public var membership: Membership

    /// Creates snapshot metadata.
    public init(index: LogIndex = .zero, term: Term = .zero, membership: Membership = Membership()) {
        self.index = index
        self.term = term
        self.membership = membership
    }

    public var description: String { "index=\(index) term=\(term) \(membership)" }
}

/// A snapshot: metadata plus application state that the core never interprets.
public struct Snapshot: Hashable, Sendable {
    /// Where the snapshot sits in the log.
    public var metadata: SnapshotMetadata
    /// Opaque application state.
    public var data: [UInt8]

    /// Creates a snapshot.
    public init(metadata: SnapshotMetadata = SnapshotMetadata(), data: [UInt8] = []) {
        self.metadata = metadata
        self.data = data
    }

    /// Whether this is the empty snapshot (index zero).
    public var isEmpty: Bool { metadata.index == .zero }
}

/// An answered read request: reads may be served once the state machine has applied `index`.
public struct ReadState: Hashable, Sendable {
    /// The commit index the leader confirmed while it was still leader.
    public var index: LogIndex
    /// The caller's request context, returned unchanged.
    public var requestContext: [UInt8]

    /// Creates a read state.
    public init(index: LogIndex, requestContext: [UInt8]) {
        self.index = index
        self.requestContext = requestContext
    }
}
