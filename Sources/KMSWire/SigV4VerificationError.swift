/// Why a request failed SigV4 verification.
///
/// Each case maps to an AWS error name (`awsErrorName`) and an AWS-like `message`.
/// Messages never contain the secret key or the expected signature, and never echo the
/// client's `Authorization` header.
public enum SigV4VerificationError: Error, Sendable, Hashable {
    /// No `Authorization` header. → `MissingAuthenticationToken`
    case missingAuthorization
    /// The `Authorization` header is malformed, repeated, or lacks a part. → `IncompleteSignature`
    case malformedAuthorization(String)
    /// No `X-Amz-Date` header (`Date` is not accepted). → `IncompleteSignature`
    case missingDateHeader
    /// `X-Amz-Date` is not one `YYYYMMDDTHHMMSSZ` value. → `IncompleteSignature`
    case malformedDateHeader
    /// A header that must be signed (always `host`) is not in SignedHeaders. → `IncompleteSignature`
    case requiredHeaderNotSigned(String)
    /// A header named in SignedHeaders is not in the request. → `IncompleteSignature`
    case signedHeaderMissing(String)
    /// The request is over a `SigV4Limits` bound. → `IncompleteSignature`
    case limitExceeded(String)
    /// The credential scope names another region, service, date or terminator. → `InvalidSignatureException`
    case scopeMismatch(String)
    /// The request time is more than the allowed skew before now. → `InvalidSignatureException`
    case signatureExpired(requestTime: String, earliest: String, now: String, skew: String)
    /// The request time is more than the allowed skew after now. → `InvalidSignatureException`
    case signatureNotYetCurrent(requestTime: String, latest: String, now: String, skew: String)
    /// `X-Amz-Content-Sha256` is present and is not the SHA-256 of the body. → `InvalidSignatureException`
    case payloadHashMismatch
    /// The signature does not match. → `InvalidSignatureException`
    case signatureMismatch
    /// The credential store does not know the access key (or rejects its session token).
    /// → `UnrecognizedClientException`
    case unrecognizedAccessKey

    /// The AWS error name sent in `__type`.
    public var awsErrorName: AWSErrorName {
        switch self {
        case .missingAuthorization:
            return .missingAuthenticationToken
        case .malformedAuthorization, .missingDateHeader, .malformedDateHeader, .requiredHeaderNotSigned,
             .signedHeaderMissing, .limitExceeded:
            return .incompleteSignature
        case .scopeMismatch, .signatureExpired, .signatureNotYetCurrent, .payloadHashMismatch, .signatureMismatch:
            return .invalidSignature
        case .unrecognizedAccessKey:
            return .unrecognizedClient
        }
    }

    /// The message sent with the error.
    public var message: String {
        switch self {
        case .missingAuthorization:
            return "Missing Authentication Token"
        case .malformedAuthorization(let reason), .scopeMismatch(let reason), .limitExceeded(let reason):
            return reason
        case .missingDateHeader:
            return "Authorization header requires existence of a 'X-Amz-Date' header."
        case .malformedDateHeader:
            return "X-Amz-Date must be a single timestamp of the form YYYYMMDD'T'HHMMSS'Z'."
        case .requiredHeaderNotSigned(let name):
            return "'\(name)' must be a 'SignedHeader' in the AWS Authorization."
        case .signedHeaderMissing(let name):
            return "The signed header '\(name)' is not present in the request."
        case let .signatureExpired(requestTime, earliest, now, skew):
            return "Signature expired: \(requestTime) is now earlier than \(earliest) (\(now) - \(skew).)"
        case let .signatureNotYetCurrent(requestTime, latest, now, skew):
            return "Signature not yet current: \(requestTime) is still later than \(latest) (\(now) + \(skew).)"
        case .payloadHashMismatch:
            return "The provided 'x-amz-content-sha256' header does not match what was computed."
        case .signatureMismatch:
            return "The request signature we calculated does not match the signature you provided. "
                + "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        case .unrecognizedAccessKey:
            return "The security token included in the request is invalid."
        }
    }

    /// The wire error.
    public var errorBody: AWSErrorBody { AWSErrorBody(awsErrorName, message) }
}
