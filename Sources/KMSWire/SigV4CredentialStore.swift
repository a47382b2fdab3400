/// Where the verifier finds the secret of an access key.
///
/// Implementations are looked up synchronously on the request path, so they should
/// answer from memory. Return nil for an unknown access key, and also for a session token
/// that is not valid for the key (or any session token, if the store issues no temporary
/// credentials): both surface as `UnrecognizedClientException`.
public protocol SigV4CredentialStore: Sendable {
    /// What the store knows about the caller (e.g. a principal ARN and its permissions).
    associatedtype Principal: Sendable

    /// The secret and principal of `accessKeyID`, or nil. `sessionToken` is the
    /// `X-Amz-Security-Token` header of the request, if any.
    func credential(forAccessKeyID accessKeyID: String, sessionToken: String?) -> SigV4StoredCredential<Principal>?
}

/// A secret access key and the principal it authenticates.
///
/// `description` never shows the secret.
public struct SigV4StoredCredential<Principal: Sendable>: Sendable, CustomStringConvertible {
    /// The secret access key.
    public var secretAccessKey: String
    /// The principal the key belongs to.
    public var principal: Principal

    /// A stored credential.
    public init(secretAccessKey: String, principal: Principal) {
        self.secretAccessKey = secretAccessKey
        self.principal = principal
    }

    /// The principal, with the secret redacted.
    public var description: String { "SigV4StoredCredential(secretAccessKey: <redacted>, principal: \(principal))" }
}
