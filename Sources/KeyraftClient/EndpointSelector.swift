/// Which endpoint the next attempt goes to. A pure state machine: time is an argument.
///
/// - Round-robin over the endpoints that are up, or (`.sticky`) the same endpoint for as
///   long as it stays up, moving on only when it fails.
/// - An endpoint that fails (connect failure, 5xx, timeout, lost connection) is down for
///   a backoff that doubles with each consecutive failure: `initial`, 2×, 4×, … capped
///   at `maximum` (100 ms … 5 s by default).
/// - Once its backoff has passed, a down endpoint is eligible again for one probe: choosing
///   it pushes its retry time one backoff further, so concurrent callers do not all probe
///   it at once. A success marks it up; a failure doubles the backoff.
/// - Within one call, endpoints the call has already tried are avoided while others are
///   eligible, so a retry goes to the next endpoint.
/// - When no endpoint is eligible, the caller is told to wait until the soonest retry time.
struct EndpointSelector: Sendable {
    struct Backoff: Sendable, Equatable {
        var initialNanoseconds: UInt64
        var maximumNanoseconds: UInt64

        /// The delay after `failures` consecutive failures (≥ 1).
        func delay(failures: Int) -> UInt64 {
            precondition(failures >= 1)
            let doublings = min(failures - 1, 40)
            let (scaled, overflow) = initialNanoseconds.multipliedReportingOverflow(by: 1 << UInt64(doublings))
            return overflow ? maximumNanoseconds : min(scaled, maximumNanoseconds)
        }
    }

    enum Health: Equatable, Sendable {
        case up
        /// Invariant: `failures` ≥ 1.
        case down(failures: Int, retryAt: ClientInstant)
    }

    /// How calls spread over healthy endpoints.
    enum Spread: Sendable, Equatable {
        case roundRobin
        case sticky
    }

    enum Choice: Equatable {
        /// Send the attempt to this endpoint.
        case use(Int)
        /// Every endpoint is down: wait until this instant, then choose again.
        case wait(until: ClientInstant)
    }

    /// Invariant: at least one endpoint.
    private(set) var health: [Health]
    /// Where the round-robin scan starts next. Invariant: `0 ..< health.count`.
    private var cursor = 0
    let backoff: Backoff
    let spread: Spread

    init(endpointCount: Int, backoff: Backoff, spread: Spread = .roundRobin) {
        precondition(endpointCount >= 1, "a client needs at least one endpoint")
        precondition(backoff.initialNanoseconds >= 1 && backoff.initialNanoseconds <= backoff.maximumNanoseconds)
        health = Array(repeating: .up, count: endpointCount)
        self.backoff = backoff
        self.spread = spread
    }

    mutating func choose(now: ClientInstant, avoiding tried: Set<Int> = []) -> Choice {
        let count = health.count
        for avoidTried in [true, false] {
            for step in 0..<count {
                let index = (cursor + step) % count
                if avoidTried, tried.contains(index) { continue }
                switch health[index] {
                case .up:
                    cursor = spread == .roundRobin ? (index + 1) % count : index
                    return .use(index)
                case let .down(failures, retryAt) where retryAt <= now:
                    // A probe: claim it so that others wait for its outcome.
                    health[index] = .down(failures: failures, retryAt: now.adding(nanoseconds: backoff.delay(failures: failures)))
                    cursor = (index + 1) % count
                    return .use(index)
                case .down:
                    continue
                }
            }
        }
        let soonest = health.compactMap { health -> ClientInstant? in
            if case let .down(_, retryAt) = health { return retryAt }
            return nil
        }.min()
        // Every endpoint is down and none is due, or the loops above would have returned.
        guard let soonest else { preconditionFailure("no endpoint up, none down") }
        assert(soonest > now)
        return .wait(until: soonest)
    }

    mutating func recordSuccess(_ index: Int) {
        health[index] = .up
    }

    mutating func recordFailure(_ index: Int, now: ClientInstant) {
        let failures: Int
        switch health[index] {
        case .up: failures = 1
        case let .down(previous, _): failures = previous + 1
        }
        health[index] = .down(failures: failures, retryAt: now.adding(nanoseconds: backoff.delay(failures: failures)))
    }
}
