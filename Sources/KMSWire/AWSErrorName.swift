/// The AWS error names Keyraft sends in `__type`, with their HTTP status: the one table
/// that maps errors to the wire.
///
/// Status choices (see `httpStatus`): AWS KMS answers client errors with 400, and that is
/// what clients expect; `ThrottlingException` is also 400 in AWS's documented common
/// errors, and SDKs retry it by name, not by status. `KMSInternalException` is 500.
/// `DependencyTimeoutException` is 503 here (AWS documents 500): Keyraft uses it for
/// "no leader yet" or "node sealed", which clients should retry, and every SDK retries 503.
/// `MissingAuthenticationToken` is 400 as the project's wire notes require (AWS's common
/// errors page lists 403; no SDK decides anything on 400 versus 403).
public enum AWSErrorName: String, Sendable, Hashable, CaseIterable {
    // KMS operation errors.
    case notFound = "NotFoundException"
    case disabled = "DisabledException"
    case invalidState = "KMSInvalidStateException"
    case invalidCiphertext = "InvalidCiphertextException"
    case incorrectKey = "IncorrectKeyException"
    case invalidKeyUsage = "InvalidKeyUsageException"
    case alreadyExists = "AlreadyExistsException"
    case invalidAliasName = "InvalidAliasNameException"
    case invalidArn = "InvalidArnException"
    case invalidMarker = "InvalidMarkerException"
    case malformedPolicyDocument = "MalformedPolicyDocumentException"
    case limitExceeded = "LimitExceededException"
    case validation = "ValidationException"
    case accessDenied = "AccessDeniedException"
    case unsupportedOperation = "UnsupportedOperationException"
    case conflict = "ConflictException"
    case throttling = "ThrottlingException"
    case dependencyTimeout = "DependencyTimeoutException"
    case internalError = "KMSInternalException"
    // Authentication errors (SigV4).
    case missingAuthenticationToken = "MissingAuthenticationToken"
    case incompleteSignature = "IncompleteSignature"
    case unrecognizedClient = "UnrecognizedClientException"
    case invalidSignature = "InvalidSignatureException"
    // Protocol errors (AWS JSON 1.1).
    case unknownOperation = "UnknownOperationException"
    /// The body is not a JSON object of the expected shape.
    case serialization = "SerializationException"

    /// The HTTP status sent with this error.
    public var httpStatus: Int {
        switch self {
        case .internalError: return 500
        case .dependencyTimeout: return 503
        default: return 400
        }
    }

    /// True when AWS SDKs retry the error on their own: 5xx and throttling.
    public var isRetryable: Bool {
        httpStatus >= 500 || self == .throttling
    }
}
