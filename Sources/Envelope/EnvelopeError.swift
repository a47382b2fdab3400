import KeyraftCrypto

/// Why a message could not be written or read.
///
/// Descriptions carry sizes, field names, sequence numbers and context key names only:
/// never key material, plaintext or context values.
public enum EnvelopeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input does not start with the envelope magic.
    case notAnEnvelope
    /// A version this code does not read.
    case unsupportedVersion(UInt8)
    /// An algorithm suite this code does not know.
    case unsupportedAlgorithm(UInt8)
    /// A header field is out of range or malformed; names the field.
    case malformedHeader(String)
    /// An argument to the encryptor is out of range; names it.
    case invalidArgument(String)
    /// A pair the reader requires is missing from the header's context or differs.
    case contextMismatch(key: String)
    /// The key commitment does not match: the wrong data key, or an altered message id
    /// or commitment.
    case dataKeyMismatch
    /// The header tag does not verify: a header field was altered.
    case headerAuthenticationFailed
    /// A frame's type or length is not allowed where it stands.
    case malformedFrame(sequence: UInt32, reason: String)
    /// A frame arrived out of its place: reordered, duplicated or dropped frames.
    case frameOutOfOrder(expected: UInt32, found: UInt32)
    /// A frame's tag does not verify: altered bytes, or a frame from another message.
    case frameAuthenticationFailed(sequence: UInt32)
    /// The input ended before the final frame.
    case truncated
    /// Bytes follow the final frame.
    case trailingData
    /// The message would need more than `EnvelopeFormat.sequenceMax` frames.
    case messageTooLarge
    /// More plaintext than the encryptor was told to expect (a cached data key was charged
    /// for the declared size only).
    case plaintextExceedsDeclaredSize(declared: Int64)
    /// Input kept arriving while the reader waited for the data key.
    case dataKeyNotSupplied
    /// libcrypto failed for a reason other than authentication.
    case crypto(CryptoError)

    public var description: String {
        switch self {
        case .notAnEnvelope: return "not a Keyraft envelope message (bad magic)"
        case let .unsupportedVersion(version): return "unsupported envelope version \(version)"
        case let .unsupportedAlgorithm(id): return "unsupported envelope algorithm \(id)"
        case let .malformedHeader(field): return "malformed envelope header: \(field)"
        case let .invalidArgument(what): return "invalid envelope argument: \(what)"
        case let .contextMismatch(key): return "encryption context mismatch at key '\(key)'"
        case .dataKeyMismatch: return "the data key does not match the message's key commitment"
        case let .plaintextExceedsDeclaredSize(declared):
            return "more plaintext than the \(declared) bytes declared when the message was started"
        case .headerAuthenticationFailed: return "the envelope header failed authentication"
        case let .malformedFrame(sequence, reason): return "malformed frame \(sequence): \(reason)"
        case let .frameOutOfOrder(expected, found): return "frame out of order: expected \(expected), found \(found)"
        case let .frameAuthenticationFailed(sequence): return "frame \(sequence) failed authentication"
        case .truncated: return "the message is truncated: it ended before the final frame"
        case .trailingData: return "bytes follow the final frame"
        case .messageTooLarge: return "the message needs more frames than the format allows"
        case .dataKeyNotSupplied: return "input buffered past the bound while waiting for the data key"
        case let .crypto(error): return "cryptography failed: \(error)"
        }
    }
}
