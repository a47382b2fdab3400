import KMS
import KMSWire

/// Keyraft's own operations, on the same endpoint as KMS: `X-Amz-Target: KeyraftAdmin.<Name>`.
/// They need the caller's identity permission `keyraft:<Name>` (or `keyraft:*`).
public enum AdminOperation: String, Sendable, CaseIterable {
    case getNodeStatus = "GetNodeStatus"
    /// `{"NodeId": n}`: add a node as a learner (it catches up, by snapshot if needed).
    case addLearner = "AddLearner"
    /// `{"NodeId": n}`: make a caught-up learner a voter.
    case promoteLearner = "PromoteLearner"
    /// `{"NodeId": n}`: remove a node; refused when the remaining voters that are up would
    /// not be a majority, or when it is the leader (transfer leadership first).
    case removeNode = "RemoveNode"
    /// `{"NodeId": n}`: hand leadership to a voter.
    case transferLeader = "TransferLeader"
    /// `{}`: snapshot the applied state now and compact the log.
    case snapshot = "Snapshot"
    /// `{"Share": "keyraft-share-1-…"}`: one Shamir share of the root key for this node.
    case unseal = "Unseal"
    /// `{}` on the leader: the KMS state at its applied index, for `keyraft backup create`
    /// (key material in it stays wrapped under the root key).
    case getBackupSnapshot = "GetBackupSnapshot"

    public static let targetPrefix = "KeyraftAdmin."
    public var action: String { "keyraft:" + rawValue }

    /// The operation an `X-Amz-Target` names, or nil.
    public static func named(_ target: String) -> AdminOperation? { AdminOperation(target: target) }

    init?(target: String?) {
        guard let target, target.hasPrefix(Self.targetPrefix) else { return nil }
        self.init(rawValue: String(target.dropFirst(Self.targetPrefix.count)))
    }
}

/// An authenticated, decoded call for the node.
public enum APICall: Sendable {
    case kms(KMSOperation, DecodedKMSRequest)
    /// The body is the request's JSON, read by the operation.
    case admin(AdminOperation, [UInt8])
}

/// What the node answers; encoded to JSON on the connection's event loop.
public enum APIResult: Sendable {
    case write(KMSWriteResponse)
    case read(KMSReadResponse)
    /// A body already encoded (admin answers).
    case json([UInt8])
    /// A body encoded on the connection's event loop (large answers, kept off the node's loop).
    case encodeLater(@Sendable () -> [UInt8])
}

/// Runs calls against the node. `respond` is called exactly once, from any thread.
public protocol APIDispatcher: Sendable {
    func dispatch(_ call: APICall, principal: Principal, requestID: String,
                  respond: @escaping @Sendable (Result<APIResult, AWSErrorBody>) -> Void)
}
