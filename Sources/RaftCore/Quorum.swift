/// Outcome of counting votes.
public enum VoteResult: Sendable, Hashable {
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
        precondition(matched.filter { $0 >= result }.count >= size(voters.count), "quorum index not held by a majority")
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
