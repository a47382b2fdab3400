/// An error of a KMS operation, with AWS's error name and a message.
///
/// The mapping of codes to HTTP status lives at the API boundary (`KMSWire`); messages
/// follow AWS's wording and never contain key material or plaintext.
public struct KMSError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
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
        case dependencyTimeout = "DependencyTimeoutException"
        case internalError = "KMSInternalException"
    }

    public let code: Code
    public let message: String
    private let namesMissingState: Bool

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
        namesMissingState = false
    }

    /// True when the error says something is absent from this node's state — a key, an
    /// alias, a key version — that a more recent state may hold. A node serving under its
    /// read lease catches up with a ReadIndex round before it gives such an answer.
    public var mayReflectStaleState: Bool { code == .notFound || namesMissingState }

    /// A ciphertext names a key version this node does not hold.
    static func missingKeyVersion() -> KMSError {
        KMSError(.invalidCiphertext, "The ciphertext refers to a key version that does not exist.", namesMissingState: true)
    }

    private init(_ code: Code, _ message: String, namesMissingState: Bool) {
        self.code = code
        self.message = message
        self.namesMissingState = namesMissingState
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// AWS's wording for failed input constraints, e.g.
    /// `1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096`.
    public static func validation(_ failures: [String]) -> KMSError {
        precondition(!failures.isEmpty)
        let noun = failures.count == 1 ? "error" : "errors"
        return KMSError(.validation, "\(failures.count) validation \(noun) detected: " + failures.joined(separator: "; "))
    }

    public static func constraint(_ field: String, _ constraint: String) -> String {
        "Value at '\(field)' failed to satisfy constraint: \(constraint)"
    }

    static func keyNotFound(_ reference: String) -> KMSError {
        KMSError(.notFound, "Key '\(reference)' does not exist")
    }

    static func invalidState(_ keyARN: String, _ state: KeyState) -> KMSError {
        let phrase = state == .pendingDeletion ? "pending deletion" : state.awsName.lowercased()
        return KMSError(.invalidState, "\(keyARN) is \(phrase).")
    }

    static func disabled(_ keyARN: String) -> KMSError {
        KMSError(.disabled, "\(keyARN) is disabled.")
    }
}
