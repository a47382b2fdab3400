#if canImport(Glibc)
import Glibc
#endif

/// Errors from issuing, loading and storing certificates.
///
/// Messages carry operation names, paths, `errno` values and libcrypto's own error strings
/// (library and reason, never the error queue's attached data): never key bytes or PEM text.
public enum CertificateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libcrypto reported a failure. `openSSL` holds the drained error queue, oldest first,
    /// as `ERR_error_string_n` renders it (empty when the queue was empty).
    case library(operation: String, openSSL: String)
    /// An argument is outside what the operation accepts (a malformed DNS name, node id 0, ...).
    case invalidArgument(String)
    /// A certificate or key was parsed but is not usable here (wrong key type, not a CA, key
    /// does not match the certificate, more than one common name, ...).
    case unsupported(String)
    /// A file system call failed.
    case fileSystem(operation: String, path: String, errno: Int32)
    /// A file that is never overwritten without being asked already exists.
    case fileExists(path: String)

    public var description: String {
        switch self {
        case let .library(operation, openSSL):
            return openSSL.isEmpty ? "\(operation) failed in libcrypto" : "\(operation) failed in libcrypto: \(openSSL)"
        case let .invalidArgument(reason):
            return "invalid argument: \(reason)"
        case let .unsupported(reason):
            return "unsupported: \(reason)"
        case let .fileSystem(operation, path, code):
            return "\(operation) \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .fileExists(path):
            return "\(path) already exists; refusing to overwrite it"
        }
    }
}
