import Foundation
import KMSWire
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A client for Keyraft (and any AWS KMS JSON 1.1 endpoint): typed `async` calls, SigV4
/// signing, TLS 1.3, keep-alive connections pooled per endpoint, and failover between
/// endpoints (docs/CLIENT.md).
///
/// - Every call goes to the next healthy endpoint, round-robin. An endpoint that fails to
///   connect, times out, drops the connection or answers 5xx is down for an exponential
///   backoff (100 ms doubling to 5 s by default), then probed again.
/// - Idempotent calls (reads and cryptographic calls: `KMSOperation.isIdempotent`) fail
///   over to the next endpoint transparently, at most `attemptsMax` attempts in all.
///   Writes are repeated only when the request provably reached no server (the connect or
///   TLS handshake failed); after a timeout or a 5xx they fail with the error, because the
///   write may have been applied.
///
/// Every call throws `KeyraftClientError` and nothing else. The signatures say `throws`
/// rather than `throws(KeyraftClientError)`: Swift 6.3.1 crashes compiling some common
/// ways of catching a typed error from an `async` call (a `catch … where` clause with `&&`,
/// a pattern-bound error used in XCTest assertions), and a library should not put its
/// users there. Catch with `catch let error as KeyraftClientError`.
///
/// The client is `Sendable`; share one per process. Call `shutdown()` when done.
public final class KeyraftClient: Sendable {
    /// What a client needs: endpoints, credentials, region, trust, and bounds.
    public struct Configuration: Sendable {
        /// Every node's API endpoint. Invariant: not empty.
        public var endpoints: [KeyraftEndpoint]
        public var credentials: SigV4Credentials
        public var region: String
        /// PEM file of the CAs to trust (the cluster CA); nil trusts the system's roots.
        public var caBundlePath: String?
        /// Open connections per endpoint, each carrying one request at a time.
        public var connectionsPerEndpointMax = 8
        /// Calls that may wait for a connection per endpoint before calls are refused.
        public var waitersPerEndpointMax = 1_024
        /// TCP connect plus TLS handshake.
        public var connectTimeout: Duration = .seconds(3)
        /// From sending a request to its whole answer.
        public var requestTimeout: Duration = .seconds(20)
        /// Idle connections older than this are closed rather than reused; below the
        /// server's 60 s idle timeout, so a pooled connection is rarely closed under a request.
        public var idleConnectionTimeout: Duration = .seconds(20)
        /// Attempts per call, including the first.
        public var attemptsMax = 4
        /// The backoff of a down endpoint: `backoffInitial`, doubling up to `backoffMaximum`.
        public var backoffInitial: Duration = .milliseconds(100)
        public var backoffMaximum: Duration = .seconds(5)
        /// Answers larger than this are refused.
        public var answerBytesMax = 4 << 20
        /// Round-robin (the default) spreads calls over every healthy endpoint. A node
        /// answers reads from its own applied state, so a read sent to another node than
        /// the write before it may not see that write for up to the read lease's refresh
        /// (about 500 ms by default). `sticky` keeps using one endpoint until it fails,
        /// which gives read-your-writes while no failover happens.
        public var stickyEndpoint = false

        public init(endpoints: [KeyraftEndpoint], credentials: SigV4Credentials, region: String = "us-east-1",
                    caBundlePath: String? = nil) {
            self.endpoints = endpoints
            self.credentials = credentials
            self.region = region
            self.caBundlePath = caBundlePath
        }

        /// Endpoints as `https://host:port` URLs.
        public init(endpointURLs: [String], credentials: SigV4Credentials, region: String = "us-east-1",
                    caBundlePath: String? = nil) throws {
            var endpoints: [KeyraftEndpoint] = []
            for url in endpointURLs { endpoints.append(try KeyraftEndpoint(url: url)) }
            self.init(endpoints: endpoints, credentials: credentials, region: region, caBundlePath: caBundlePath)
        }

        /// The aws CLI's environment: `KEYRAFT_ENDPOINTS` (comma-separated URLs of every
        /// node) if set, else `AWS_ENDPOINT_URL_KMS`, else `AWS_ENDPOINT_URL`; `AWS_CA_BUNDLE`;
        /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; `AWS_REGION`,
        /// else `AWS_DEFAULT_REGION`, else `us-east-1`.
        public static func fromEnvironment(
            _ environment: [String: String] = ProcessInfo.processInfo.environment
        ) throws -> Configuration {
            func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
            guard let list = value("KEYRAFT_ENDPOINTS") ?? value("AWS_ENDPOINT_URL_KMS") ?? value("AWS_ENDPOINT_URL") else {
                throw KeyraftClientError.invalidConfiguration("set AWS_ENDPOINT_URL_KMS or KEYRAFT_ENDPOINTS (source the cluster's env file)")
            }
            guard let accessKey = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") else {
                throw KeyraftClientError.invalidConfiguration("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            }
            let urls = list.split(separator: ",").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            return try Configuration(
                endpointURLs: urls,
                credentials: SigV4Credentials(accessKeyID: accessKey, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN")),
                region: value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1",
                caBundlePath: value("AWS_CA_BUNDLE"))
        }

        fileprivate func validate() throws(KeyraftClientError) {
            guard !endpoints.isEmpty else { throw KeyraftClientError.invalidConfiguration("no endpoints") }
            guard connectionsPerEndpointMax >= 1, waitersPerEndpointMax >= 0, attemptsMax >= 1, answerBytesMax >= 1 else {
                throw KeyraftClientError.invalidConfiguration("connection, waiter, attempt and answer bounds must be positive")
            }
            guard backoffInitial > .zero, backoffInitial <= backoffMaximum else {
                throw KeyraftClientError.invalidConfiguration("backoff must satisfy 0 < initial ≤ maximum")
            }
            guard connectTimeout > .zero, requestTimeout > .zero else { throw KeyraftClientError.invalidConfiguration("timeouts must be positive") }
        }
    }

    /// An endpoint's health as the client sees it.
    public struct EndpointHealth: Sendable, Hashable {
        public let endpoint: KeyraftEndpoint
        public let isUp: Bool
        /// Consecutive failures since its last success (0 when up).
        public let consecutiveFailures: Int
    }

    public let configuration: Configuration
    private let pools: [ConnectionPool]
    private let selector: NIOLockedValueBox<EndpointSelector>
    private let signer: SigV4Signer
    private let isShutDown = NIOLockedValueBox(false)

    /// - Parameter eventLoopGroup: where connections live; NIO's shared singleton group
    ///   when nil.
    public init(configuration: Configuration, eventLoopGroup: (any EventLoopGroup)? = nil) throws {
        try configuration.validate()
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        tlsConfiguration.minimumTLSVersion = .tlsv13
        let tls: NIOSSLContext
        do {
            if let path = configuration.caBundlePath {
                tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            }
            tls = try NIOSSLContext(configuration: tlsConfiguration)
        } catch {
            throw KeyraftClientError.invalidConfiguration("TLS: cannot use CA bundle \(configuration.caBundlePath ?? "(system)"): \(error)")
        }
        let group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let settings = ConnectionPool.Settings(
            connectionsMax: configuration.connectionsPerEndpointMax, waitersMax: configuration.waitersPerEndpointMax,
            idleTimeout: configuration.idleConnectionTimeout, connectTimeout: configuration.connectTimeout,
            answerBytesMax: configuration.answerBytesMax)
        pools = configuration.endpoints.map { ConnectionPool(endpoint: $0, settings: settings, tls: tls, group: group) }
        selector = NIOLockedValueBox(EndpointSelector(
            endpointCount: configuration.endpoints.count,
            backoff: .init(initialNanoseconds: configuration.backoffInitial.clientNanoseconds,
                           maximumNanoseconds: configuration.backoffMaximum.clientNanoseconds),
            spread: configuration.stickyEndpoint ? .sticky : .roundRobin))
        signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region, service: "kms")
        self.configuration = configuration
    }

    deinit { shutdown() }

    /// Closes idle connections and refuses further calls; calls in flight finish.
    public func shutdown() {
        isShutDown.withLockedValue { $0 = true }
        pools.forEach { $0.shutDown() }
    }

    /// Each endpoint's health, in configuration order.
    public func endpointHealth() -> [EndpointHealth] {
        let health = selector.withLockedValue { $0.health }
        return zip(configuration.endpoints, health).map { endpoint, health in
            switch health {
            case .up: return EndpointHealth(endpoint: endpoint, isUp: true, consecutiveFailures: 0)
            case let .down(failures, _): return EndpointHealth(endpoint: endpoint, isUp: false, consecutiveFailures: failures)
            }
        }
    }

    /// Sends one operation with a raw JSON body and returns the raw JSON answer: for
    /// operations this client has no typed call for. Retries follow `operation.isIdempotent`.
    public func call(_ operation: KMSOperation, jsonBody body: [UInt8]) async throws -> [UInt8] {
        try await send(operation, body: body)
    }

    func send(_ operation: KMSOperation, _ body: RequestBody) async throws(KeyraftClientError) -> [UInt8] {
        try await send(operation, body: body.encoded())
    }

    /// The attempt loop: choose an endpoint, send, apply the retry rule (`RetryPolicy`).
    /// Bounded: at most `attemptsMax` attempts and as many waits for a down endpoint.
    private func send(_ operation: KMSOperation, body: [UInt8]) async throws(KeyraftClientError) -> [UInt8] {
        var tried: Set<Int> = []
        var attempts = 0
        var waits = 0
        var lastFailure: KeyraftClientError?
        attempting: while attempts < configuration.attemptsMax {
            guard !isShutDown.withLockedValue({ $0 }) else { throw .shutDown }
            // A cancelled caller gets the last failure if there was one: it says more.
            guard !Task.isCancelled else { throw lastFailure ?? .cancelled }
            switch selector.withLockedValue({ $0.choose(now: .now(), avoiding: tried) }) {
            case let .wait(until):
                waits += 1
                guard waits <= configuration.attemptsMax else { break attempting }
                do {
                    try await Task.sleep(nanoseconds: until.since(.now()))
                } catch {
                    throw lastFailure ?? .cancelled
                }
                continue
            case let .use(index):
                attempts += 1
                tried.insert(index)
                let (outcome, result) = await attempt(operation, body: body, on: index)
                let decision = RetryPolicy.decide(outcome, idempotent: operation.isIdempotent)
                selector.withLockedValue { selector in
                    switch decision.endpoint {
                    case .healthy: selector.recordSuccess(index)
                    case .down: selector.recordFailure(index, now: .now())
                    case .unchanged: break
                    }
                }
                switch result {
                case let .success(answer): return answer
                case let .failure(failure): lastFailure = failure
                }
                if !decision.retry { break attempting }
                if case let .answered(_, name) = outcome, name == AWSErrorName.throttling.rawValue {
                    // Throttled: back off before the next attempt instead of adding to the load.
                    let initial = configuration.backoffInitial.components
                    let initialNanos = UInt64(initial.seconds) * 1_000_000_000 + UInt64(initial.attoseconds / 1_000_000_000)
                    let delayNanos = initialNanos << UInt64(min(attempts, 6))
                    try? await Task.sleep(nanoseconds: delayNanos / 2 + UInt64.random(in: 0...max(delayNanos / 2, 1)))
                }
            }
        }
        throw lastFailure ?? .unreachable("every endpoint is down (\(configuration.endpoints.count) endpoints, \(waits) waits)")
    }

    /// One attempt on one endpoint.
    private func attempt(
        _ operation: KMSOperation, body: [UInt8], on index: Int
    ) async -> (AttemptOutcome, Result<[UInt8], KeyraftClientError>) {
        let endpoint = configuration.endpoints[index]
        let head: HTTPRequestHead
        do {
            head = try signedHead(operation, body: body, endpoint: endpoint)
        } catch {
            return (.notSent, .failure(error))
        }
        do {
            let response = try await pools[index].execute(head: head, body: body, timeout: configuration.requestTimeout)
            if (200..<300).contains(response.status) {
                return (.answered(status: response.status, errorName: nil), .success(response.body))
            }
            let (name, message) = ResponseDecoding.errorNameAndMessage(response.body)
            let failure = KeyraftServiceError(
                name: name ?? "HTTP \(response.status)", message: message, httpStatus: response.status,
                requestID: response.headers.first(name: "x-amzn-RequestId"), endpoint: endpoint.description)
            return (.answered(status: response.status, errorName: name), .failure(.service(failure)))
        } catch {
            switch error.outcome {
            case .notSent: return (.notSent, .failure(.unreachable("\(endpoint): \(error)")))
            case .refusedLocally: return (.refusedLocally, .failure(.unreachable("\(endpoint): \(error)")))
            default: return (.outcomeUnknown, .failure(.outcomeUnknown("\(operation.rawValue) on \(endpoint): \(error)")))
            }
        }
    }

    private func signedHead(
        _ operation: KMSOperation, body: [UInt8], endpoint: KeyraftEndpoint
    ) throws(KeyraftClientError) -> HTTPRequestHead {
        let unsigned = SigV4Request(method: "POST", path: "/", headers: [
            .init("Host", endpoint.hostHeader),
            .init("Content-Type", "application/x-amz-json-1.1"),
            .init("X-Amz-Target", operation.target),
        ], body: body)
        let signed: SigV4SignedRequest
        do {
            signed = try signer.sign(unsigned, date: Date())
        } catch {
            throw KeyraftClientError.invalidConfiguration("cannot sign: \(error)")
        }
        var headers = HTTPHeaders(signed.request.headers.map { ($0.name, $0.value) })
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "User-Agent", value: "keyraft-swift-client/1")
        return HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
    }
}
