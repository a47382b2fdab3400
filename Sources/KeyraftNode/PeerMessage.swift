import KMS
import RaftCore

/// Everything nodes say to each other.
public enum PeerMessage: Equatable, Sendable {
    case raft(Message)
    /// A follower hands a client's write to the leader.
    case forward(ForwardedWrite)
    /// The leader could not propose a forwarded write (validation, permission, not leader).
    case forwardFailed(origin: RequestOrigin, error: KMSError)
}

/// Identifies a client request across the cluster: the node that holds the client,
/// that node's incarnation (drawn at start, so a restarted node never mistakes an old
/// entry for a new request) and a sequence number.
public struct RequestOrigin: Hashable, Sendable {
    public let node: NodeID
    public let incarnation: UInt64
    public let sequence: UInt64

    public init(node: NodeID, incarnation: UInt64, sequence: UInt64) {
        self.node = node
        self.incarnation = incarnation
        self.sequence = sequence
    }
}

public struct ForwardedWrite: Equatable, Sendable {
    public let origin: RequestOrigin
    public let request: KMSWriteRequest
    public let principal: Principal
}

/// The data of a normal log entry: who asked for it, and the KMS command.
///
/// `version: u8 (1), originNode: u64, incarnation: u64, sequence: u64, command bytes`.
/// Origin node 0 means the leader's own scheduler.
struct EntryEnvelope: Equatable {
    static let version: UInt8 = 1
    static let headerBytes = 25
    let origin: RequestOrigin?
    let command: KMSCommand

    func encoded() -> [UInt8] {
        var out: [UInt8] = [EntryEnvelope.version]
        out.reserveCapacity(64)
        for value in [origin?.node.rawValue ?? 0, origin?.incarnation ?? 0, origin?.sequence ?? 0] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        out.append(contentsOf: command.encoded())
        return out
    }

    /// Decodes an entry. A malformed committed entry means corrupted storage: the caller halts.
    init(decoding bytes: [UInt8]) throws(KMSDecodingError) {
        guard bytes.count > EntryEnvelope.headerBytes else { throw .truncated(offset: bytes.count) }
        guard bytes[0] == EntryEnvelope.version else { throw .unknownVersion(bytes[0]) }
        func u64(_ at: Int) -> UInt64 { bytes[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        let node = u64(1)
        origin = node == 0 ? nil : RequestOrigin(node: NodeID(node), incarnation: u64(9), sequence: u64(17))
        command = try KMSCommand(decoding: Array(bytes[EntryEnvelope.headerBytes...]))
    }

    init(origin: RequestOrigin?, command: KMSCommand) {
        self.origin = origin
        self.command = command
    }
}
