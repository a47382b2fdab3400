import Foundation
import KeyraftCrypto

/// Verifies SigV4 `Authorization`-header signatures for one region and service.
///
/// Checks, in order, cheap and secret-free first:
/// 1. the request is within `SigV4Limits`;
/// 2. exactly one well-formed `Authorization` header;
/// 3. exactly one `X-Amz-Date` (`Date` is not accepted in its place: every AWS SDK sends
///    `X-Amz-Date`, and the string to sign needs its exact form);
/// 4. `host` (and `requiredSignedHeaders`) signed, every signed header present;
/// 5. the credential scope: date of `X-Amz-Date`, region, service, `aws4_request`;
/// 6. clock skew against the injected `now`;
/// 7. `X-Amz-Content-Sha256`, if sent, equal to the body's SHA-256 (the payload hash is
///    always computed from the body);
/// 8. the access key (and session token) in the credential store;
/// 9. the signature, recomputed and compared in constant time.
public struct SigV4Verifier<Store: SigV4CredentialStore>: Sendable {
    private let region: String
    private let service: String
    private let store: Store
    private let clockSkewSecondsMax: Int64
    private let limits: SigV4Limits
    private let requiredSignedHeaders: [String]
    private let normalizesPath: Bool
    private let signingKeys = SigV4SigningKeyCache()

    /// A verifier.
    ///
    /// - Parameters:
    ///   - region: the server's region; the credential scope must name it.
    ///   - service: the service name in the scope, `kms` for Keyraft.
    ///   - store: where access keys are looked up.
    ///   - clockSkewSecondsMax: the largest accepted distance between `X-Amz-Date` and now
    ///     (AWS: 15 minutes).
    ///   - limits: request bounds.
    ///   - requiredSignedHeaders: lowercase names that must be signed besides `host`.
    ///   - normalizesPath: normalise the path as every service but S3 does. Default true.
    public init(
        region: String,
        service: String = "kms",
        store: Store,
        clockSkewSecondsMax: Int64 = 900,
        limits: SigV4Limits = SigV4Limits(),
        requiredSignedHeaders: [String] = [],
        normalizesPath: Bool = true
    ) {
        precondition(clockSkewSecondsMax >= 0, "clock skew must not be negative")
        precondition(!region.isEmpty && !service.isEmpty, "region and service must be named")
        self.region = region
        self.service = service
        self.store = store
        self.clockSkewSecondsMax = clockSkewSecondsMax
        self.limits = limits
        self.requiredSignedHeaders = ["host"] + requiredSignedHeaders.map(SigV4Text.lowercasedASCII)
        self.normalizesPath = normalizesPath
    }

    /// Verifies `request` as of `now`; returns who signed it.
    public func verify(_ request: SigV4Request, now: Date) throws(SigV4VerificationError) -> SigV4VerifiedRequest<Store.Principal> {
        try limits.check(request)
        let fields = LowercasedFields(request.headers)
        let authorization = try authorizationHeader(fields)
        let timestamp = try requestTimestamp(fields)
        try checkSignedHeaders(authorization.signedHeaderNames, fields: fields)
        try checkScope(authorization, timestamp: timestamp)
        try checkClock(timestamp, now: now)
        let payloadHash = try checkedPayloadHash(request.body, fields: fields)
        let tokens = fields.values(named: "x-amz-security-token")
        guard tokens.count <= 1 else {
            throw .malformedAuthorization("X-Amz-Security-Token must appear at most once.")
        }
        let sessionToken = tokens.first.map(SigV4Text.collapsedHeaderValue)
        guard let stored = store.credential(forAccessKeyID: authorization.accessKeyID, sessionToken: sessionToken) else {
            throw .unrecognizedAccessKey
        }
        let canonicalRequest = SigV4CanonicalRequest.bytes(
            request, signedHeaderNames: authorization.signedHeaderNames, payloadHash: payloadHash,
            normalizesPath: normalizesPath)
        let stringToSign = SigV4Signature.stringToSign(
            canonicalRequest: canonicalRequest, timestamp: timestamp, scope: authorization.scope)
        let signingKey = signingKeys.signingKey(secretAccessKey: stored.secretAccessKey, scope: authorization.scope)
        let expected = SigV4Signature.signature(stringToSign: stringToSign, signingKey: signingKey)
        guard ConstantTime.equals(expected, Array(authorization.signature.utf8)) else {
            throw .signatureMismatch
        }
        return SigV4VerifiedRequest(
            accessKeyID: authorization.accessKeyID, principal: stored.principal, sessionToken: sessionToken,
            signedHeaderNames: authorization.signedHeaderNames, requestDate: timestamp.date)
    }

    /// The request's header names lowercased once, for the several lookups of a verification.
    private struct LowercasedFields {
        let names: [String]
        let values: [String]

        init(_ headers: [SigV4Request.Header]) {
            names = headers.map { SigV4Text.lowercasedASCII($0.name) }
            values = headers.map(\.value)
        }

        /// The values of every field named `name` (lowercase), in wire order.
        func values(named name: String) -> [String] {
            var found: [String] = []
            for (index, candidate) in names.enumerated() where candidate == name { found.append(values[index]) }
            return found
        }
    }

    private func authorizationHeader(_ fields: LowercasedFields) throws(SigV4VerificationError) -> SigV4AuthorizationHeader {
        let values = fields.values(named: "authorization")
        guard let value = values.first, value.utf8.contains(where: { !SigV4Text.isWhitespace($0) }) else {
            throw .missingAuthorization
        }
        guard values.count == 1 else {
            throw .malformedAuthorization("The request must carry exactly one Authorization header.")
        }
        guard value.utf8.count <= limits.authorizationBytesMax else {
            throw .limitExceeded("The Authorization header exceeds \(limits.authorizationBytesMax) bytes.")
        }
        return try SigV4AuthorizationHeader.parse(value, signedHeaderCountMax: limits.headerCountMax)
    }

    private func requestTimestamp(_ fields: LowercasedFields) throws(SigV4VerificationError) -> SigV4Timestamp {
        let values = fields.values(named: "x-amz-date")
        guard !values.isEmpty else { throw .missingDateHeader }
        guard values.count == 1, let timestamp = SigV4Timestamp(basic: SigV4Text.collapsedHeaderValue(values[0])) else {
            throw .malformedDateHeader
        }
        return timestamp
    }

    private func checkSignedHeaders(_ names: [String], fields: LowercasedFields) throws(SigV4VerificationError) {
        for required in requiredSignedHeaders where !names.contains(required) {
            throw .requiredHeaderNotSigned(required)
        }
        // Bounded: both lists are within SigV4Limits.headerCountMax.
        for name in names where !fields.names.contains(name) {
            throw .signedHeaderMissing(name)
        }
    }

    private func checkScope(_ authorization: SigV4AuthorizationHeader, timestamp: SigV4Timestamp) throws(SigV4VerificationError) {
        let scope = authorization.scope
        guard authorization.terminator == SigV4Scope.terminator else {
            throw .scopeMismatch("Credential should be scoped with a valid terminator: 'aws4_request'.")
        }
        guard scope.dateStamp == timestamp.dateStamp else {
            throw .scopeMismatch(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                    + "'\(scope.dateStamp)' != '\(timestamp.dateStamp)', from '\(timestamp.basic)'.")
        }
        guard scope.region == region else {
            throw .scopeMismatch("Credential should be scoped to a valid region, not '\(scope.region)'.")
        }
        guard scope.service == service else {
            throw .scopeMismatch("Credential should be scoped to correct service: '\(service)'.")
        }
    }

    private func checkClock(_ timestamp: SigV4Timestamp, now: Date) throws(SigV4VerificationError) {
        let nowSeconds = SigV4Timestamp(clamping: now).epochSeconds
        var skew: String {
            clockSkewSecondsMax % 60 == 0 ? "\(clockSkewSecondsMax / 60) min" : "\(clockSkewSecondsMax) sec"
        }
        func basic(_ seconds: Int64) -> String { SigV4Timestamp(clampingEpochSeconds: seconds).basic }
        if timestamp.epochSeconds < nowSeconds - clockSkewSecondsMax {
            throw .signatureExpired(
                requestTime: timestamp.basic, earliest: basic(nowSeconds - clockSkewSecondsMax),
                now: basic(nowSeconds), skew: skew)
        }
        if timestamp.epochSeconds > nowSeconds + clockSkewSecondsMax {
            throw .signatureNotYetCurrent(
                requestTime: timestamp.basic, latest: basic(nowSeconds + clockSkewSecondsMax),
                now: basic(nowSeconds), skew: skew)
        }
    }

    private func checkedPayloadHash(_ body: [UInt8], fields: LowercasedFields) throws(SigV4VerificationError) -> String {
        let computed = SigV4CanonicalRequest.payloadHash(body)
        let declared = fields.values(named: "x-amz-content-sha256")
        guard declared.count <= 1 else { throw .payloadHashMismatch }
        if let value = declared.first, SigV4Text.collapsedHeaderValue(value) != computed {
            throw .payloadHashMismatch
        }
        return computed
    }
}
