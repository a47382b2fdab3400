import KMS
import RaftCore

/// Why bytes from a peer are not a `PeerMessage`. Carries no message content.
public enum PeerMessageCodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended inside a field.
    case truncated(offset: Int)
    /// The leading version byte is not one this build reads.
    case unsupportedVersion(UInt8)
    /// The case tag is not one this build knows.
    case unknownTag(UInt8)
    /// A field holds a value that is not allowed (e.g. origin node 0).
    case invalidValue(field: String)
    /// A length prefix exceeds its maximum.
    case lengthExceeded(field: String, length: Int, maxLength: Int)
    /// Bytes remain after the message.
    case trailingBytes(count: Int)
    /// The embedded Raft message does not decode.
    case raft(RaftCodecError)
    /// An embedded KMS request, principal or error does not decode.
    case kms(field: String, KMSDecodingError)

    public var description: String {
        switch self {
        case let .truncated(offset): return "peer message truncated at byte \(offset)"
        case let .unsupportedVersion(version): return "unsupported peer message version \(version)"
        case let .unknownTag(tag): return "unknown peer message tag \(tag)"
        case let .invalidValue(field): return "invalid peer message field \(field)"
        case let .lengthExceeded(field, length, maxLength):
            return "peer message field \(field) declares \(length) bytes, over its limit of \(maxLength)"
        case let .trailingBytes(count): return "\(count) trailing bytes after the peer message"
        case let .raft(error): return "invalid raft message: \(error)"
        case let .kms(field, error): return "invalid \(field): \(error)"
        }
    }
}

/// The binary form of `PeerMessage` that the peer transport puts in its frames.
///
/// Layout: `version: u8 | tag: u8 | body`, big-endian:
/// - `raft` (1): the rest of the input is `RaftCodec.encode(message)`.
/// - `forward` (2): origin (`node: u64` never 0, `incarnation: u64`, `sequence: u64`), then
///   `request: u32 length + KMSWriteRequest.encoded()`, `principal: u32 length + Principal.encoded()`.
/// - `forwardFailed` (3): origin, then `error: u32 length + KMSError.encoded()`.
///
/// Embedded KMS encodings carry their own version bytes. Decoding is strict (unknown
/// version or tag, truncation, over-long lengths and trailing bytes throw) and never traps,
/// so every message has exactly one encoding.
public enum PeerMessageCodec {
    /// Format version written first in every message.
    public static let version: UInt8 = 1
    /// Upper bound on one embedded KMS encoding (request, principal or error). A request
    /// comes from an API body of at most 64 KiB, so this is far above any real one.
    public static let kmsPartBytesMax = 4 << 20

    enum Tag: UInt8 {
        case raft = 1, forward = 2, forwardFailed = 3
    }

    /// Encodes a message. Traps only if an embedded part exceeds its limit, which no
    /// message built from a valid API request can do.
    public static func encode(_ message: PeerMessage) -> [UInt8] {
        var out: [UInt8] = [version]
        switch message {
        case let .raft(raft):
            out.append(Tag.raft.rawValue)
            out.append(contentsOf: RaftCodec.encode(raft))
        case let .forward(write):
            out.append(Tag.forward.rawValue)
            appendOrigin(write.origin, to: &out)
            appendPart(write.request.encoded(), to: &out)
            appendPart(write.principal.encoded(), to: &out)
        case let .forwardFailed(origin, error):
            out.append(Tag.forwardFailed.rawValue)
            appendOrigin(origin, to: &out)
            appendPart(error.encoded(), to: &out)
        }
        return out
    }

    /// Decodes a message from an untrusted peer.
    public static func decode(_ bytes: [UInt8]) throws(PeerMessageCodecError) -> PeerMessage {
        var r = PeerMessageReader(bytes)
        let v = try r.u8()
        guard v == version else { throw .unsupportedVersion(v) }
        let rawTag = try r.u8()
        guard let tag = Tag(rawValue: rawTag) else { throw .unknownTag(rawTag) }
        switch tag {
        case .raft:
            do {
                return .raft(try RaftCodec.decodeMessage(r.rest()))
            } catch {
                throw .raft(error)
            }
        case .forward:
            let origin = try r.origin()
            let requestBytes = try r.part("request")
            let principalBytes = try r.part("principal")
            try r.finish()
            let request: KMSWriteRequest
            do { request = try KMSWriteRequest(decoding: requestBytes) } catch { throw .kms(field: "request", error) }
            let principal: Principal
            do { principal = try Principal(decoding: principalBytes) } catch { throw .kms(field: "principal", error) }
            return .forward(ForwardedWrite(origin: origin, request: request, principal: principal))
        case .forwardFailed:
            let origin = try r.origin()
            let errorBytes = try r.part("error")
            try r.finish()
            let error: KMSError
            do { error = try KMSError(decoding: errorBytes) } catch { throw .kms(field: "error", error) }
            return .forwardFailed(origin: origin, error: error)
        }
    }

    private static func appendOrigin(_ origin: RequestOrigin, to out: inout [UInt8]) {
        appendUInt64(origin.node.rawValue, to: &out)
        appendUInt64(origin.incarnation, to: &out)
        appendUInt64(origin.sequence, to: &out)
    }

    private static func appendPart(_ part: [UInt8], to out: inout [UInt8]) {
        precondition(part.count <= kmsPartBytesMax, "a forwarded part exceeds the peer encoding's limit")
        let count = UInt32(part.count)
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: count >> UInt32(shift))) }
        out.append(contentsOf: part)
    }

    private static func appendUInt64(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
}

/// Bounds-checked big-endian reads; every failure throws, nothing traps.
private struct PeerMessageReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private var remaining: Int { bytes.count - offset }

    mutating func u8() throws(PeerMessageCodecError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() throws(PeerMessageCodecError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(offset: offset) }
        defer { offset += 4 }
        return bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64() throws(PeerMessageCodecError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(offset: offset) }
        defer { offset += 8 }
        return bytes[offset..<(offset + 8)].reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func origin() throws(PeerMessageCodecError) -> RequestOrigin {
        guard let node = NodeID(validating: try u64()) else { throw .invalidValue(field: "origin.node") }
        return RequestOrigin(node: node, incarnation: try u64(), sequence: try u64())
    }

    /// A length-prefixed embedded encoding.
    mutating func part(_ field: String) throws(PeerMessageCodecError) -> [UInt8] {
        let count = Int(try u32())
        let max = PeerMessageCodec.kmsPartBytesMax
        guard count <= max else { throw .lengthExceeded(field: field, length: count, maxLength: max) }
        guard remaining >= count else { throw .truncated(offset: offset) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Everything left; the embedded decoder checks its own end.
    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }

    func finish() throws(PeerMessageCodecError) {
        guard remaining == 0 else { throw .trailingBytes(count: remaining) }
    }
}
