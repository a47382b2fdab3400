/// Errors from the cryptographic core.
///
/// Messages carry sizes and operation names only: never key material, plaintext,
/// nonces or tags. Tests assert this for every case.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An AEAD tag or key-wrap integrity check failed: wrong key, wrong AAD, or tampered input.
    case authenticationFailed
    /// A key of the wrong length was supplied.
    case invalidKeyLength(expectedBytes: Int, actualBytes: Int)
    /// A nonce of the wrong length was supplied.
    case invalidNonceLength(expectedBytes: Int, actualBytes: Int)
    /// A tag of the wrong length was supplied.
    case invalidTagLength(expectedBytes: Int, actualBytes: Int)
    /// An input length is outside what the operation accepts.
    case invalidInputLength(operation: String, bytes: Int)
    /// The entropy source could not produce bytes. Nothing that needs randomness may proceed.
    case entropyUnavailable
    /// libcrypto reported a failure that is not an authentication failure.
    case libraryFailure(operation: String)

    public var description: String {
        switch self {
        case .authenticationFailed:
            return "authentication failed: the key, the additional data or the input does not match"
        case let .invalidKeyLength(expected, actual):
            return "invalid key length: expected \(expected) bytes, got \(actual)"
        case let .invalidNonceLength(expected, actual):
            return "invalid nonce length: expected \(expected) bytes, got \(actual)"
        case let .invalidTagLength(expected, actual):
            return "invalid tag length: expected \(expected) bytes, got \(actual)"
        case let .invalidInputLength(operation, bytes):
            return "invalid input length for \(operation): \(bytes) bytes"
        case .entropyUnavailable:
            return "entropy source unavailable"
        case let .libraryFailure(operation):
            return "libcrypto failure in \(operation)"
        }
    }
}
