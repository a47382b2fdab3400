import Foundation

/// The outcome of a successful verification: who signed, and when.
///
/// `description` never shows the session token.
public struct SigV4VerifiedRequest<Principal: Sendable>: Sendable, CustomStringConvertible {
    /// The access key id from the credential scope.
    public let accessKeyID: String
    /// The principal the credential store returned for it.
    public let principal: Principal
    /// The `X-Amz-Security-Token` the request carried, if any (already accepted by the store).
    public let sessionToken: String?
    /// The lowercase names of the signed headers; headers not in this list were not
    /// authenticated and must not be trusted.
    public let signedHeaderNames: [String]
    /// The request time from `X-Amz-Date`.
    public let requestDate: Date

    /// Who signed and when, with the session token redacted.
    public var description: String {
        "SigV4VerifiedRequest(accessKeyID: \(accessKeyID), principal: \(principal), "
            + "sessionToken: \(sessionToken == nil ? "none" : "<redacted>"), "
            + "signedHeaderNames: \(signedHeaderNames.joined(separator: ";")), requestDate: \(requestDate))"
    }
}
