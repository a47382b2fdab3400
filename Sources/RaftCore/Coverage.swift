/// Rare paths the core marks when it takes them, so a simulator run can report which it
/// reached (FoundationDB-style coverage). Counting is deterministic and cheap.
public enum RaftCoverageMark: String, Hashable, Sendable, CaseIterable, Comparable {
    /// A follower truncated a conflicting suffix of its log.
    case conflictTruncated = "conflict-truncated"
    /// A leader skipped a whole conflicting term using a rejection hint.
    case fastBacktrack = "fast-backtrack"
    /// A leader sent a snapshot because the entries were compacted.
    case snapshotSent = "snapshot-sent"
    /// A follower installed a snapshot.
    case snapshotInstalled = "snapshot-installed"
    /// A snapshot went unanswered and is being retried.
    case snapshotRetried = "snapshot-retried"
    /// A leader's replication window was full when a heartbeat answer arrived.
    case inflightWindowFull = "inflight-window-full"
    /// A proposal was refused by the uncommitted-bytes cap.
    case uncommittedCapHit = "uncommitted-cap-hit"
    /// A leader stepped down for lack of a quorum (check-quorum).
    case checkQuorumStepDown = "check-quorum-step-down"
    /// A (pre-)vote request was ignored because a leader was recently heard from.
    case voteIgnoredByLease = "vote-ignored-by-lease"
    /// A pre-campaign was lost (no term was spent).
    case preVoteLost = "pre-vote-lost"
    /// A read request waited for the leader's first commit in its term.
    case readIndexPostponed = "read-index-postponed"
    /// A leadership transfer ended with MsgTimeoutNow.
    case transferTimeoutNow = "transfer-timeout-now"
    /// A leadership transfer was abandoned after an election timeout.
    case transferAbandoned = "transfer-abandoned"
    /// A joint configuration was entered.
    case jointEntered = "joint-entered"
    /// A joint configuration was left.
    case jointLeft = "joint-left"
    /// A leader stepped down because a change removed it.
    case removedLeaderSteppedDown = "removed-leader-stepped-down"
    /// A node held back from campaigning because of a membership change in its log.
    case campaignHeldBackByMembership = "campaign-held-back-by-membership"

    public static func < (lhs: RaftCoverageMark, rhs: RaftCoverageMark) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Counts of coverage marks, reported in name order.
public struct RaftCoverage: Hashable, Sendable {
    private(set) var counts: [RaftCoverageMark: Int] = [:]

    /// How often `mark` was reached.
    public subscript(_ mark: RaftCoverageMark) -> Int { counts[mark] ?? 0 }

    /// The marks reached at least once, sorted by name.
    public var reached: [RaftCoverageMark] { RaftCoverageMark.allCases.filter { self[$0] > 0 }.sorted() }

    mutating func record(_ mark: RaftCoverageMark) {
        counts[mark, default: 0] += 1
        precondition(counts[mark]! > 0, "coverage counter overflow")
    }
}
