/// Why the core refused a request. Refusals never change state.
public enum RaftError: Error, Hashable, Sendable {
    /// Proposals go to the leader; this node is not it. `knownLeader` is where to forward.
    case notLeader(knownLeader: NodeID?)
    /// The proposal was refused: `reason` says why (uncommitted-bytes cap, transfer in progress, ...).
    case proposalDropped(reason: ProposalDropReason)
    /// A membership change is already pending (one at a time) or is invalid.
    case membershipChangeRefused(reason: String)
    /// A message addressed to someone else, or from a node not in the configuration where that matters.
    case invalidMessage(reason: String)
    /// The transfer target is unknown, a learner, or this node itself.
    case transferRefused(reason: String)
    /// The leader's bounded read queue is full, the context duplicates a pending request, or it
    /// exceeds `RaftCodec.maxContextBytes`.
    case readIndexDropped
}

/// Why a proposal was dropped.
public enum ProposalDropReason: Hashable, Sendable {
    /// Accepting it would push uncommitted proposal bytes beyond `maxUncommittedEntriesBytes`.
    case uncommittedBytesCapExceeded(limitBytes: Int)
    /// A leadership transfer is in progress.
    case leadershipTransferInProgress
    /// The leader is no longer a member of the configuration.
    case leaderRemoved
    /// The entry would exceed what the codec carries (`RaftCodec.maxEntryDataBytes`).
    case entryTooLarge(limitBytes: Int)
}

/// Errors a `RaftLogStorage` implementation reports.
public enum StorageError: Error, Hashable, Sendable {
    /// The requested index lies before the first available entry (compacted into a snapshot).
    case compacted
    /// The requested index lies beyond the last entry.
    case unavailable
    /// A snapshot is being built; ask again later.
    case snapshotTemporarilyUnavailable
    /// Stored data failed its checksum or does not decode; the node must stop.
    case corrupted(String)
    /// The device failed a read, write or sync; the node must stop.
    case ioFailure(String)
}

extension RaftError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notLeader(let leader): "notLeader(knownLeader: \(leader.map(\.description) ?? "none"))"
        case .proposalDropped(let reason): "proposalDropped(\(reason))"
        case .membershipChangeRefused(let reason): "membershipChangeRefused(\(reason))"
        case .invalidMessage(let reason): "invalidMessage(\(reason))"
        case .transferRefused(let reason): "transferRefused(\(reason))"
        case .readIndexDropped: "readIndexDropped"
        }
    }
}

extension ProposalDropReason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .uncommittedBytesCapExceeded(let limit): "uncommitted bytes cap \(limit) exceeded"
        case .leadershipTransferInProgress: "leadership transfer in progress"
        case .leaderRemoved: "leader removed from the configuration"
        case .entryTooLarge(let limit): "entry larger than \(limit) bytes"
        }
    }
}
