/// A signed request and the intermediate values of its signature (useful when debugging
/// a signature mismatch; none of them is secret).
public struct SigV4SignedRequest: Sendable, Hashable {
    /// The request with `X-Amz-Date`, `Authorization` and any session token added.
    public let request: SigV4Request
    /// The canonical request that was hashed.
    public let canonicalRequest: String
    /// The string that was signed.
    public let stringToSign: String
    /// The lowercase hex signature.
    public let signature: String
}
