/// Why a request could not be signed.
public enum SigV4SigningError: Error, Sendable, Hashable {
    /// The request has no `Host` header; SigV4 requires it to be signed.
    case missingHostHeader
    /// The signing date is outside the years 1970...9999.
    case dateOutOfRange
}
