import APIServer
import KMSWire
import CoreMetrics
import Metrics
import NIOConcurrencyHelpers
import Prometheus

/// The node's metrics (swift-metrics, exported by swift-prometheus on the admin port).
///
/// Request counters and latency histograms are fed by the API for every call; the Raft
/// and lease gauges are refreshed by `NodeHost` on every tick; fsync latency by
/// `MeasuredStorage`.
final class NodeMetrics: APIAuditSink, Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let requestCounters = NIOLockedValueBox<[String: Metrics.Counter]>([:])
    private let requestTimers = NIOLockedValueBox<[String: Metrics.Timer]>([:])
    /// Bounds the label sets: operation names come from a fixed list, but an unknown
    /// target is caller input.
    private static let labelSetsMax = 512

    let term: Metrics.Gauge
    let commitIndex: Metrics.Gauge
    let appliedIndex: Metrics.Gauge
    let isLeader: Metrics.Gauge
    let leaderChanges: Metrics.Counter
    let leaseValid: Metrics.Gauge
    let sealed: Metrics.Gauge
    let keys: Metrics.Gauge
    let proposalLatency: Metrics.Timer
    let fsyncLatency: Metrics.Timer
    private let peerLinks = NIOLockedValueBox<[UInt64: Metrics.Gauge]>([:])

    init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
        ]
        self.factory = factory
        term = Metrics.Gauge(label: "keyraft_raft_term", factory: factory)
        commitIndex = Metrics.Gauge(label: "keyraft_raft_commit_index", factory: factory)
        appliedIndex = Metrics.Gauge(label: "keyraft_raft_applied_index", factory: factory)
        isLeader = Metrics.Gauge(label: "keyraft_raft_is_leader", factory: factory)
        leaderChanges = Metrics.Counter(label: "keyraft_raft_leader_changes_total", factory: factory)
        leaseValid = Metrics.Gauge(label: "keyraft_read_lease_valid", factory: factory)
        sealed = Metrics.Gauge(label: "keyraft_sealed", factory: factory)
        keys = Metrics.Gauge(label: "keyraft_keys", factory: factory)
        proposalLatency = Metrics.Timer(label: "keyraft_proposal_duration_seconds", factory: factory)
        fsyncLatency = Metrics.Timer(label: "keyraft_fsync_duration_seconds", factory: factory)
    }

    func peerLink(_ peer: UInt64) -> Metrics.Gauge {
        peerLinks.withLockedValue { links in
            if let gauge = links[peer] { return gauge }
            let gauge = Metrics.Gauge(label: "keyraft_peer_link_up", dimensions: [("peer", "\(peer)")], factory: factory)
            links[peer] = gauge
            return gauge
        }
    }

    /// One finished API call.
    /// Every `X-Amz-Target` the server serves, exactly as the SDKs send them.
    private static let knownTargets = Set(KMSOperation.allCases.map(\.target)
        + AdminOperation.allCases.map { AdminOperation.targetPrefix + $0.rawValue })

    func record(_ entry: APIAuditEntry) {
        // Only names the server knows: the target of an unauthenticated request is caller input.
        let known = Self.knownTargets.contains(entry.operation)
        let operation = known ? entry.operation : "other"
        let outcome = entry.errorName ?? "success"
        let counterKey = operation + "|" + outcome
        let counter = requestCounters.withLockedValue { counters -> Metrics.Counter? in
            if let counter = counters[counterKey] { return counter }
            guard counters.count < Self.labelSetsMax else { return nil }
            let counter = Metrics.Counter(label: "keyraft_requests_total",
                                  dimensions: [("operation", operation), ("outcome", outcome)], factory: factory)
            counters[counterKey] = counter
            return counter
        }
        counter?.increment()
        let timer = requestTimers.withLockedValue { timers -> Metrics.Timer? in
            if let timer = timers[operation] { return timer }
            guard timers.count < Self.labelSetsMax else { return nil }
            let timer = Metrics.Timer(label: "keyraft_request_duration_seconds", dimensions: [("operation", operation)], factory: factory)
            timers[operation] = timer
            return timer
        }
        timer?.recordNanoseconds(entry.durationNanos)
    }

    func exposition() -> [UInt8] { registry.emitToBuffer() }
}
