import Foundation

/// Signs requests with AWS Signature Version 4 in the `Authorization` header.
///
/// The signer never reads a clock: the signing time is an argument. It signs every header
/// of the request (except `authorization`, `user-agent`, `expect`, `x-amzn-trace-id`, as
/// botocore does) plus the `X-Amz-Date` and, by default, `X-Amz-Security-Token` it adds.
/// The payload hash is always the SHA-256 of the body.
public struct SigV4Signer: Sendable {
    /// Choices that differ between services; the defaults are right for KMS.
    public struct Options: Sendable, Hashable {
        /// Normalise the path (every service but S3). Default true.
        public var normalizesPath: Bool
        /// Add and sign `X-Amz-Content-Sha256` with the payload hash. Default false (boto3
        /// does not send it for KMS).
        public var addsContentSHA256Header: Bool
        /// Sign `X-Amz-Security-Token`; when false it is added after signing, unsigned.
        /// Default true.
        public var signsSessionToken: Bool

        /// Options; the defaults match boto3 talking to KMS.
        public init(normalizesPath: Bool = true, addsContentSHA256Header: Bool = false, signsSessionToken: Bool = true) {
            self.normalizesPath = normalizesPath
            self.addsContentSHA256Header = addsContentSHA256Header
            self.signsSessionToken = signsSessionToken
        }
    }

    /// The header names the signer leaves out of the signature, lowercase.
    static let unsignedHeaderNames: Set<String> = ["authorization", "user-agent", "expect", "x-amzn-trace-id"]

    private let credentials: SigV4Credentials
    private let region: String
    private let service: String
    private let options: Options
    private let signingKeys = SigV4SigningKeyCache()

    /// A signer for one credential, region and service (`kms` for Keyraft).
    public init(credentials: SigV4Credentials, region: String, service: String, options: Options = Options()) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.options = options
    }

    /// Signs `request` as of `date`: returns it with `X-Amz-Date`, the session token if any
    /// and `Authorization` set (any earlier values of those headers are replaced).
    ///
    /// - Throws: `.missingHostHeader` without a `Host` header; `.dateOutOfRange` for a date
    ///   outside the years 1970...9999.
    public func sign(_ request: SigV4Request, date: Date) throws(SigV4SigningError) -> SigV4SignedRequest {
        guard !request.values(named: "host").isEmpty else { throw .missingHostHeader }
        guard let timestamp = SigV4Timestamp(date: date) else { throw .dateOutOfRange }
        let payloadHash = SigV4CanonicalRequest.payloadHash(request.body)
        let replaced: Set<String> = ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]
        var signed = request
        signed.headers.removeAll { replaced.contains(SigV4Text.lowercasedASCII($0.name)) }
        signed.headers.append(.init("X-Amz-Date", timestamp.basic))
        if options.addsContentSHA256Header { signed.headers.append(.init("X-Amz-Content-Sha256", payloadHash)) }
        if let token = credentials.sessionToken, options.signsSessionToken {
            signed.headers.append(.init("X-Amz-Security-Token", token))
        }
        let names = SigV4CanonicalRequest.sortedNames(signed.headers).filter { !Self.unsignedHeaderNames.contains($0) }
        let scope = SigV4Scope(dateStamp: timestamp.dateStamp, region: region, service: service)
        let canonicalRequest = SigV4CanonicalRequest.bytes(
            signed, signedHeaderNames: names, payloadHash: payloadHash, normalizesPath: options.normalizesPath)
        let stringToSign = SigV4Signature.stringToSign(
            canonicalRequest: canonicalRequest, timestamp: timestamp, scope: scope)
        let signature = String(decoding: SigV4Signature.signature(
            stringToSign: stringToSign,
            signingKey: signingKeys.signingKey(secretAccessKey: credentials.secretAccessKey, scope: scope)),
            as: UTF8.self)
        let authorization = "\(SigV4Signature.algorithm) Credential=\(credentials.accessKeyID)/\(scope.text), "
            + "SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"
        if let token = credentials.sessionToken, !options.signsSessionToken {
            signed.headers.append(.init("X-Amz-Security-Token", token))
        }
        signed.headers.append(.init("Authorization", authorization))
        return SigV4SignedRequest(
            request: signed, canonicalRequest: String(decoding: canonicalRequest, as: UTF8.self),
            stringToSign: String(decoding: stringToSign, as: UTF8.self), signature: signature)
    }
}
