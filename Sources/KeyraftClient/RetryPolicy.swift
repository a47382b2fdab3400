import KMSWire

/// How one attempt ended, in the terms the retry rule needs.
enum AttemptOutcome: Equatable, Sendable {
    /// A whole HTTP answer arrived.
    case answered(status: Int, errorName: String?)
    /// No server saw the request: the TCP connect or the TLS handshake failed, or the
    /// connection was known closed before any request byte was written.
    case notSent
    /// Refused inside this client (its pool's waiting line is full, or it shut down):
    /// nothing about the endpoint is known, and nothing was sent.
    case refusedLocally
    /// The request was sent (perhaps partly) and then no whole answer arrived: a timeout
    /// or a lost connection. The server may have applied it.
    case outcomeUnknown
}

/// What to do with the endpoint an attempt went to.
enum EndpointVerdict: Equatable, Sendable {
    case healthy
    case down
    case unchanged
}

struct RetryDecision: Equatable, Sendable {
    var endpoint: EndpointVerdict
    /// Try again (on the next endpoint) rather than return this outcome to the caller.
    var retry: Bool
}

/// The retry rule, one table (docs/CLIENT.md, "When a call is retried"):
///
/// | outcome                                        | endpoint | idempotent call | write |
/// |------------------------------------------------|----------|-----------------|-------|
/// | 2xx                                            | healthy  | done            | done  |
/// | 4xx other than throttling                      | healthy  | fail            | fail  |
/// | `ThrottlingException`                          | as is    | retry           | fail  |
/// | 5xx (incl. `DependencyTimeoutException`), other| down     | retry           | fail  |
/// | not sent (connect or TLS handshake failed)     | down     | retry           | retry |
/// | sent, then timeout or lost connection          | down     | retry           | fail  |
///
/// A write is retried only when it provably reached no server. A 5xx answer or a timeout
/// can hide an applied write (`DependencyTimeoutException` is what a node answers when the
/// leader did not confirm in time, yet the entry may still commit), and repeating
/// CreateKey or ScheduleKeyDeletion is not harmless, so the caller decides.
enum RetryPolicy {
    static func decide(_ outcome: AttemptOutcome, idempotent: Bool) -> RetryDecision {
        switch outcome {
        case let .answered(status, _) where (200..<300).contains(status):
            return RetryDecision(endpoint: .healthy, retry: false)
        case let .answered(status, name) where (400..<500).contains(status):
            if name == AWSErrorName.throttling.rawValue {
                return RetryDecision(endpoint: .unchanged, retry: idempotent)
            }
            return RetryDecision(endpoint: .healthy, retry: false)
        case .answered:
            return RetryDecision(endpoint: .down, retry: idempotent)
        case .notSent:
            return RetryDecision(endpoint: .down, retry: true)
        case .refusedLocally:
            return RetryDecision(endpoint: .unchanged, retry: true)
        case .outcomeUnknown:
            return RetryDecision(endpoint: .down, retry: idempotent)
        }
    }
}

extension KMSOperation {
    /// True for calls that change nothing, so repeating one is harmless: the reads and the
    /// cryptographic calls (Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom).
    /// Everything else goes through the Raft log.
    public var isIdempotent: Bool {
        switch self {
        case .describeKey, .listKeys, .listAliases, .getKeyRotationStatus, .listKeyRotations, .getKeyPolicy,
             .listKeyPolicies, .encrypt, .decrypt, .reEncrypt, .generateDataKey, .generateDataKeyWithoutPlaintext,
             .generateRandom:
            return true
        case .createKey, .updateKeyDescription, .enableKey, .disableKey, .scheduleKeyDeletion, .cancelKeyDeletion,
             .createAlias, .updateAlias, .deleteAlias, .enableKeyRotation, .disableKeyRotation, .rotateKeyOnDemand,
             .putKeyPolicy:
            return false
        }
    }
}
