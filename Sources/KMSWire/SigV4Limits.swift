/// Upper bounds the verifier enforces before doing any work proportional to the request.
///
/// A request over any bound is refused with `SigV4VerificationError.limitExceeded`.
/// The defaults leave room for every header boto3, the aws CLI and the AWS SDKs send,
/// including long STS session tokens.
public struct SigV4Limits: Sendable, Hashable {
    /// Most header fields in one request (duplicates count separately).
    public var headerCountMax: Int
    /// Most bytes in one header field, name plus value.
    public var headerBytesMax: Int
    /// Most bytes in all header fields together, names plus values.
    public var headerSectionBytesMax: Int
    /// Most bytes in the `Authorization` value.
    public var authorizationBytesMax: Int
    /// Most bytes in the raw path plus the raw query.
    public var requestTargetBytesMax: Int

    /// Bounds; see each property.
    public init(
        headerCountMax: Int = 100,
        headerBytesMax: Int = 16_384,
        headerSectionBytesMax: Int = 65_536,
        authorizationBytesMax: Int = 4_096,
        requestTargetBytesMax: Int = 8_192
    ) {
        precondition(headerCountMax > 0 && headerBytesMax > 0 && headerSectionBytesMax > 0)
        precondition(authorizationBytesMax > 0 && requestTargetBytesMax > 0)
        self.headerCountMax = headerCountMax
        self.headerBytesMax = headerBytesMax
        self.headerSectionBytesMax = headerSectionBytesMax
        self.authorizationBytesMax = authorizationBytesMax
        self.requestTargetBytesMax = requestTargetBytesMax
    }

    /// Throws `.limitExceeded` when `request` is over a bound. Cost: one pass over the
    /// header list, stopping at the first field past `headerCountMax`.
    func check(_ request: SigV4Request) throws(SigV4VerificationError) {
        guard request.path.utf8.count + request.query.utf8.count <= requestTargetBytesMax else {
            throw .limitExceeded("The request target exceeds \(requestTargetBytesMax) bytes.")
        }
        guard request.headers.count <= headerCountMax else {
            throw .limitExceeded("The request has more than \(headerCountMax) headers.")
        }
        var total = 0
        for header in request.headers {
            let bytes = header.name.utf8.count + header.value.utf8.count
            guard bytes <= headerBytesMax else {
                throw .limitExceeded("A request header exceeds \(headerBytesMax) bytes.")
            }
            total += bytes
        }
        guard total <= headerSectionBytesMax else {
            throw .limitExceeded("The request headers exceed \(headerSectionBytesMax) bytes.")
        }
    }
}
