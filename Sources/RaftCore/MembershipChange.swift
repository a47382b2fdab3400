/// A single-server configuration change (§4.1 of the Raft dissertation). One may be pending at a time;
/// it takes effect on every node when its entry is applied.
public struct MembershipChange: Hashable, Sendable, CustomStringConvertible {
    /// What to do to `node`.
    public enum Kind: UInt8, Sendable {
        /// Add `node` as a voter, or promote it from learner.
        case addVoter = 0
        /// Add `node` as a learner, or demote it from voter.
        case addLearner = 1
        /// Remove `node` entirely.
        case removeNode = 2
    }

    /// What to do.
    public var kind: Kind
    /// The node concerned.
    public var node: NodeID

    /// Creates a change.
    public init(_ kind: Kind, node: NodeID) {
        self.kind = kind
        self.node = node
    }

    public var description: String {
        switch kind {
        case .addVoter: "add-voter \(node)"
        case .addLearner: "add-learner \(node)"
        case .removeNode: "remove \(node)"
        }
    }

    /// Encoded form carried in a `.membershipChange` entry: kind byte then big-endian node id.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = [kind.rawValue]
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: node.rawValue >> UInt64(shift))) }
        return bytes
    }

    /// Decodes `encoded`; nil on malformed input (never traps).
    public init?(encoded bytes: [UInt8]) {
        guard bytes.count == 9, let kind = Kind(rawValue: bytes[0]) else { return nil }
        var raw: UInt64 = 0
        for b in bytes[1...] { raw = raw << 8 | UInt64(b) }
        guard raw != 0 else { return nil }
        self.init(kind, node: NodeID(raw))
    }
}

extension Membership {
    /// The configuration after `change`, or a reason it is invalid.
    /// A change that would leave no voters is refused.
    public func applying(_ change: MembershipChange) -> Result<Membership, MembershipChangeError> {
        var voters = self.voters.filter { $0 != change.node }
        var learners = self.learners.filter { $0 != change.node }
        switch change.kind {
        case .addVoter: voters.append(change.node)
        case .addLearner: learners.append(change.node)
        case .removeNode: break
        }
        if voters.isEmpty { return .failure(MembershipChangeError(reason: "change would leave no voters")) }
        let result = Membership(voters: voters, learners: learners)
        precondition(result.allNodes.count <= allNodes.count + 1, "single-server change touched several nodes")
        return .success(result)
    }
}

/// Why a membership change cannot be applied.
public struct MembershipChangeError: Error, Hashable, Sendable {
    /// Human-readable reason.
    public var reason: String
}
