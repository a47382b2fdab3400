import KMSWire
@testable import KeyraftClient
import Testing

/// The endpoint selection and backoff state machine, with time as an argument.
@Suite struct EndpointSelectorTests {
    static let ms: UInt64 = 1_000_000
    static let backoff = EndpointSelector.Backoff(initialNanoseconds: 100 * ms, maximumNanoseconds: 5_000 * ms)

    func at(_ milliseconds: UInt64) -> ClientInstant { ClientInstant(nanoseconds: milliseconds * Self.ms) }

    @Test func roundRobinOverHealthyEndpoints() {
        var selector = EndpointSelector(endpointCount: 3, backoff: Self.backoff)
        let picks = (0..<7).map { _ in selector.choose(now: at(0)) }
        #expect(picks == [.use(0), .use(1), .use(2), .use(0), .use(1), .use(2), .use(0)])
    }

    @Test func aFailedEndpointIsSkippedUntilItsBackoffPasses() {
        var selector = EndpointSelector(endpointCount: 3, backoff: Self.backoff)
        selector.recordFailure(1, now: at(0))
        #expect((0..<4).map { _ in selector.choose(now: at(50)) } == [.use(0), .use(2), .use(0), .use(2)])
        // After 100 ms it is probed once; the probe claims it for another backoff.
        #expect(selector.choose(now: at(100)) == .use(0))
        #expect(selector.choose(now: at(100)) == .use(1))
        #expect(selector.choose(now: at(100)) == .use(2))
        #expect(selector.choose(now: at(150)) == .use(0))
        #expect(selector.choose(now: at(150)) == .use(2), "not probed twice within one backoff")
        selector.recordSuccess(1)
        #expect((0..<3).map { _ in selector.choose(now: at(150)) } == [.use(0), .use(1), .use(2)])
    }

    @Test func backoffDoublesUpToItsMaximum() {
        #expect((1...9).map { Self.backoff.delay(failures: $0) / Self.ms } == [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000])
        #expect(Self.backoff.delay(failures: 1_000) == 5_000 * Self.ms, "no overflow")
        var selector = EndpointSelector(endpointCount: 1, backoff: Self.backoff)
        var now: UInt64 = 0
        var waits: [UInt64] = []
        for _ in 0..<8 {
            selector.recordFailure(0, now: at(now))
            guard case let .wait(until) = selector.choose(now: at(now)) else {
                Issue.record("a down endpoint is not used before its backoff")
                return
            }
            waits.append(until.since(at(now)) / Self.ms)
            now = until.nanoseconds / Self.ms
            #expect(selector.choose(now: at(now)) == .use(0))
        }
        #expect(waits == [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000])
        #expect(selector.health == [.down(failures: 8, retryAt: at(now + 5_000))])
    }

    @Test func whenEveryEndpointIsDownTheCallerWaitsForTheSoonest() {
        var selector = EndpointSelector(endpointCount: 3, backoff: Self.backoff)
        selector.recordFailure(0, now: at(0))
        selector.recordFailure(0, now: at(0)) // 200 ms
        selector.recordFailure(1, now: at(30)) // until 130
        selector.recordFailure(2, now: at(60)) // until 160
        #expect(selector.choose(now: at(70)) == .wait(until: at(130)))
        #expect(selector.choose(now: at(130)) == .use(1))
        #expect(selector.choose(now: at(131)) == .wait(until: at(160)))
    }

    @Test func aRetryAvoidsEndpointsTheCallAlreadyTried() {
        var selector = EndpointSelector(endpointCount: 3, backoff: Self.backoff)
        #expect(selector.choose(now: at(0), avoiding: [0, 1]) == .use(2))
        #expect(selector.choose(now: at(0), avoiding: [0]) == .use(1))
        // Once every endpoint was tried, any eligible one will do.
        #expect(selector.choose(now: at(0), avoiding: [0, 1, 2]) == .use(2))
    }

    @Test func stickyKeepsOneEndpointUntilItFails() {
        var selector = EndpointSelector(endpointCount: 3, backoff: Self.backoff, spread: .sticky)
        #expect((0..<3).map { _ in selector.choose(now: at(0)) } == [.use(0), .use(0), .use(0)])
        selector.recordFailure(0, now: at(0))
        #expect((0..<3).map { _ in selector.choose(now: at(10)) } == [.use(1), .use(1), .use(1)])
        // A retry within one call still moves on.
        #expect(selector.choose(now: at(10), avoiding: [1]) == .use(2))
        #expect(selector.choose(now: at(10)) == .use(2))
    }

    @Test func consecutiveFailuresReset() {
        var selector = EndpointSelector(endpointCount: 2, backoff: Self.backoff)
        selector.recordFailure(0, now: at(0))
        selector.recordFailure(0, now: at(0))
        selector.recordSuccess(0)
        selector.recordFailure(0, now: at(1_000))
        #expect(selector.health[0] == .down(failures: 1, retryAt: at(1_100)))
    }
}

@Suite struct RetryPolicyTests {
    @Test func theTable() {
        typealias D = RetryDecision
        let cases: [(AttemptOutcome, idempotent: D, write: D)] = [
            (.answered(status: 200, errorName: nil), D(endpoint: .healthy, retry: false), D(endpoint: .healthy, retry: false)),
            (.answered(status: 400, errorName: "NotFoundException"), D(endpoint: .healthy, retry: false), D(endpoint: .healthy, retry: false)),
            (.answered(status: 400, errorName: "ThrottlingException"), D(endpoint: .unchanged, retry: true), D(endpoint: .unchanged, retry: false)),
            (.answered(status: 503, errorName: "DependencyTimeoutException"), D(endpoint: .down, retry: true), D(endpoint: .down, retry: false)),
            (.answered(status: 500, errorName: "KMSInternalException"), D(endpoint: .down, retry: true), D(endpoint: .down, retry: false)),
            (.answered(status: 502, errorName: nil), D(endpoint: .down, retry: true), D(endpoint: .down, retry: false)),
            (.notSent, D(endpoint: .down, retry: true), D(endpoint: .down, retry: true)),
            (.outcomeUnknown, D(endpoint: .down, retry: true), D(endpoint: .down, retry: false)),
        ]
        for (outcome, idempotent, write) in cases {
            #expect(RetryPolicy.decide(outcome, idempotent: true) == idempotent, "\(outcome) idempotent")
            #expect(RetryPolicy.decide(outcome, idempotent: false) == write, "\(outcome) write")
        }
    }

    @Test func idempotentOperations() {
        let idempotent = Set(KMSOperationList.all.filter(\.isIdempotent).map(\.rawValue))
        #expect(idempotent == [
            "DescribeKey", "ListKeys", "ListAliases", "GetKeyRotationStatus", "ListKeyRotations", "GetKeyPolicy",
            "ListKeyPolicies", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
            "GenerateRandom",
        ])
    }
}
