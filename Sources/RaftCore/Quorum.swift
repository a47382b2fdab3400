/// Outcome of counting votes.
enum VoteResult: Sendable, Hashable {
    /// More than half the voters are still to answer.
    case pending
    /// A majority granted.
    case won
    /// A majority refused (or can no longer grant).
    case lost
}

/// Majority arithmetic over a voter list. Pure functions; ids are taken in the order given.
enum Quorum {
    /// Votes needed from `voterCount` voters.
    static func size(_ voterCount: Int) -> Int { voterCount / 2 + 1 }

    /// The largest index acknowledged by a majority. Voters without a known match count as zero.
    /// With no voters it returns `LogIndex(UInt64.max)` (the empty set agrees on everything),
    /// which callers must clamp.
    static func committedIndex(voters: [NodeID], match: (NodeID) -> LogIndex?) -> LogIndex {
        if voters.isEmpty { return LogIndex(UInt64.max) }
        var matched = voters.map { match($0) ?? .zero }
        matched.sort(by: >)
        let result = matched[size(voters.count) - 1]
        // Counted in place (this runs on every acknowledgement the leader receives).
        var holding = 0
        for index in matched where index >= result { holding += 1 }
        precondition(holding >= size(voters.count), "quorum index not held by a majority")
        return result
    }

    /// Whether a majority of `voters` granted, refused, or neither yet.
    static func voteResult(voters: [NodeID], votes: [NodeID: Bool]) -> VoteResult {
        if voters.isEmpty { return .won }
        var granted = 0
        var missing = 0
        for id in voters {
            switch votes[id] {
            case .some(true): granted += 1
            case .some(false): break
            case .none: missing += 1
            }
        }
        let q = size(voters.count)
        if granted >= q { return .won }
        if granted + missing >= q { return .pending }
        return .lost
    }
}

extension Quorum {
    /// The committed index under `membership`: in a joint configuration the smaller of the two
    /// majorities' indices, so an entry commits only with a majority of each voter set.
    static func committedIndex(_ membership: Membership, match: (NodeID) -> LogIndex?) -> LogIndex {
        let incoming = committedIndex(voters: membership.voters, match: match)
        guard membership.isJoint else { return incoming }
        let outgoing = committedIndex(voters: membership.outgoingVoters, match: match)
        let result = min(incoming, outgoing)
        precondition(result <= incoming && result <= outgoing, "joint index above a majority's")
        return result
    }

    /// The election result under `membership`: a joint configuration needs both majorities.
    static func voteResult(_ membership: Membership, votes: [NodeID: Bool]) -> VoteResult {
        let incoming = voteResult(voters: membership.voters, votes: votes)
        guard membership.isJoint else { return incoming }
        let outgoing = voteResult(voters: membership.outgoingVoters, votes: votes)
        if incoming == .lost || outgoing == .lost { return .lost }
        if incoming == .won && outgoing == .won { return .won }
        return .pending
    }
}
