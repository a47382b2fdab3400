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
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: node.rawValue >> UInt64(shift)))
        }
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

/// What a `.membershipChange` entry carries: one single-server change, or entering or leaving a
/// joint configuration (joint consensus: several changes at once, decided by both majorities).
public enum MembershipTransition: Hashable, Sendable, CustomStringConvertible {
    /// A single-server change, effective when applied.
    case single(MembershipChange)
    /// Enter a joint configuration: the current voters become the outgoing set and `changes`
    /// produce the incoming set. The leader leaves the joint configuration automatically.
    case enterJoint([MembershipChange])
    /// Leave the joint configuration: only the incoming voters remain.
    case leaveJoint

    static let enterJointTag: UInt8 = 0x10
    static let leaveJointTag: UInt8 = 0x11
    /// Upper bound on changes in one joint transition.
    public static let maxJointChanges = 64

    /// Encoded form: a single change as `MembershipChange.encoded`; enter-joint as a tag, a
    /// count and the changes; leave-joint as a tag.
    public var encoded: [UInt8] {
        switch self {
        case .single(let change):
            return change.encoded
        case .enterJoint(let changes):
            precondition(!changes.isEmpty && changes.count <= Self.maxJointChanges, "joint change count out of range")
            return [Self.enterJointTag, UInt8(changes.count)] + changes.flatMap(\.encoded)
        case .leaveJoint:
            return [Self.leaveJointTag]
        }
    }

    /// Decodes `encoded`; nil on malformed input (never traps).
    public init?(encoded bytes: [UInt8]) {
        guard let tag = bytes.first else { return nil }
        switch tag {
        case Self.leaveJointTag:
            guard bytes.count == 1 else { return nil }
            self = .leaveJoint
        case Self.enterJointTag:
            guard bytes.count >= 2, bytes[1] > 0, Int(bytes[1]) <= Self.maxJointChanges,
                  bytes.count == 2 + 9 * Int(bytes[1]) else { return nil }
            var changes: [MembershipChange] = []
            for i in 0..<Int(bytes[1]) {
                guard let c = MembershipChange(encoded: Array(bytes[(2 + 9 * i)..<(11 + 9 * i)])) else { return nil }
                changes.append(c)
            }
            self = .enterJoint(changes)
        default:
            guard let change = MembershipChange(encoded: bytes) else { return nil }
            self = .single(change)
        }
    }

    public var description: String {
        switch self {
        case .single(let c): "\(c)"
        case .enterJoint(let cs): "enter-joint(" + cs.map(\.description).joined(separator: ", ") + ")"
        case .leaveJoint: "leave-joint"
        }
    }
}

extension Membership {
    /// The configuration after a single-server `change`, or a reason it is invalid.
    /// A change that would leave no voters, or one made during a joint change, is refused.
    public func applying(_ change: MembershipChange) -> Result<Membership, MembershipChangeError> {
        applying(.single(change))
    }

    /// The configuration after `transition`, or a reason it is invalid. Every node applies
    /// the same entries in the same order, so every node refuses the same invalid ones.
    public func applying(_ transition: MembershipTransition) -> Result<Membership, MembershipChangeError> {
        switch transition {
        case .single(let change):
            if isJoint { return .failure(MembershipChangeError(reason: "leave the joint configuration first")) }
            return applyingChanges([change], outgoing: [])
        case .enterJoint(let changes):
            if isJoint { return .failure(MembershipChangeError(reason: "already in a joint configuration")) }
            return applyingChanges(changes, outgoing: voters)
        case .leaveJoint:
            if !isJoint { return .failure(MembershipChangeError(reason: "not in a joint configuration")) }
            return .success(Membership(voters: voters, learners: learners))
        }
    }

    private func applyingChanges(_ changes: [MembershipChange], outgoing: [NodeID]) -> Result<Membership, MembershipChangeError> {
        var voters = self.voters
        var learners = self.learners
        for change in changes {
            voters.removeAll { $0 == change.node }
            learners.removeAll { $0 == change.node }
            switch change.kind {
            case .addVoter: voters.append(change.node)
            case .addLearner: learners.append(change.node)
            case .removeNode: break
            }
        }
        if voters.isEmpty { return .failure(MembershipChangeError(reason: "change would leave no voters")) }
        // Demoting a voter to learner inside a joint change would make it both an outgoing
        // voter and a learner; do that as a single-server change instead.
        if !Set(outgoing).isDisjoint(with: learners) {
            return .failure(MembershipChangeError(reason: "cannot demote a voter to learner in a joint change"))
        }
        let result = Membership(voters: voters, learners: learners, outgoingVoters: outgoing)
        precondition(outgoing.isEmpty || result.isJoint, "joint change lost its outgoing voters")
        return .success(result)
    }
}

/// Why a membership change cannot be applied.
public struct MembershipChangeError: Error, Hashable, Sendable {
    /// Human-readable reason.
    public var reason: String
}
