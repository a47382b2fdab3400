import APIServer
import Foundation
import Glibc
import KMS
import KMSWire
import KeyraftCrypto
import KeyraftNode
import Logging
import NIOConcurrencyHelpers
import CoreMetrics
import Metrics
import NIOCore
import RaftCore

/// The system clocks.
final class SystemClock: NodeClock {
    var nowMs: Int64 { Self.read(CLOCK_REALTIME) }
    /// CLOCK_BOOTTIME, not CLOCK_MONOTONIC: it keeps counting while the host is suspended,
    /// so a lease cannot outlive a suspend.
    var monotonicMs: Int64 { Self.read(CLOCK_BOOTTIME) }

    private static func read(_ clock: clockid_t) -> Int64 {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// Runs a `KeyraftNode` on one event loop, the way the simulator runs it on its virtual
/// clock: every call into the node happens on `loop`.
///
/// Events that arrive during one turn of the loop — client requests, peer messages — are
/// queued and handed to the node in one `batch`, so the log entries they create share one
/// synced write and their messages one flush. The queue is bounded; a request beyond it is
/// answered at once with a retryable error.
public final class NodeHost: APIDispatcher, @unchecked Sendable {
    // @unchecked: `node`, `queue` and `flushScheduled` are only touched on `loop`.
    public let loop: any EventLoop
    private let node: KeyraftNode
    private let logger: Logger
    private var queue: [Event] = []
    private var flushScheduled = false
    private var ticker: RepeatedTask?
    /// When each peer was last heard from (monotonic ms), for the status report.
    private var lastHeardMs: [NodeID: Int64] = [:]
    private let clock = SystemClock()
    private var lastRole: RaftRole = .follower
    private var lastLeader: NodeID?
    private let config: KMSConfig
    /// The most events handed to the node in one batch.
    static let queuedEventsMax = 8_192

    enum Event {
        case message(PeerMessage, NodeID)
        case request(NodeRequest, Principal, @Sendable (Result<APIResult, AWSErrorBody>) -> Void)
        /// Work handed back to the node's loop (a background snapshot's commit). Never
        /// dropped; bounded by its source (one snapshot in flight).
        case call(@Sendable () -> Void)
    }

    let metrics: NodeMetrics?
    /// The root key's check value when the node started sealed; shares given so far.
    var rootKeyCheck: String?
    /// The check value of the root key (`RootKeyCheck.value`), from the key file or the check
    /// file; backups carry it so a restore can refuse a node with another root key.
    var rootKeyCheckValue: String?
    private var unsealProgress = UnsealProgress()
    /// Whether the outbound link to a peer is up (for the peer-link gauge).
    var linkIsUp: ((NodeID) -> Bool)?

    init(node: KeyraftNode, loop: any EventLoop, kmsConfig: KMSConfig, metrics: NodeMetrics?, logger: Logger) {
        self.node = node
        self.loop = loop
        self.logger = logger
        self.config = kmsConfig
        self.metrics = metrics
    }

    /// Starts the tick timer.
    public func start(tickMs: Int64) {
        precondition(tickMs > 0)
        ticker = loop.scheduleRepeatedTask(initialDelay: .milliseconds(tickMs), delay: .milliseconds(tickMs)) { [self] _ in
            self.node.batch { self.node.tick() }
            self.noteRoleChange()
            self.updateGauges()
        }
    }

    public func stop() {
        try? loop.submit {
            self.ticker?.cancel()
            self.node.shutdown()
        }.wait()
    }

    /// A message from a peer (any thread).
    public func deliver(_ message: PeerMessage, from peer: NodeID) {
        loop.execute { self.enqueue(.message(message, peer)) }
    }

    public func dispatch(_ call: APICall, principal: Principal, requestID: String,
                         respond: @escaping @Sendable (Result<APIResult, AWSErrorBody>) -> Void) {
        switch call {
        case .admin(.getNodeStatus, _):
            loop.execute { respond(.success(.json(self.statusJSON()))) }
        case let .admin(.getBackupSnapshot, body):
            loop.execute { self.backupSnapshot(body: body, respond: respond) }
        case let .admin(operation, body):
            loop.execute { respond(self.runAdmin(operation, body: body)) }
        case let .kms(_, .write(write)):
            onLoop { self.enqueue(.request(.write(write), principal, respond)) }
        case let .kms(_, .read(read)):
            onLoop { self.enqueue(.request(.read(read), principal, respond)) }
        }
    }

    /// Backup snapshots are serialised here, from a copy of the state, one at a time: at
    /// 1,000,000 keys it takes tens of seconds, which on an event loop stopped the node's
    /// ticks and heartbeats (and, with one loop per node, its API).
    private static let backupSnapshotQueue = DispatchQueue(label: "keyraft.backup-snapshot")
    /// On the loop: a backup snapshot is being serialised.
    private var backupSnapshotInProgress = false

    private func backupSnapshot(body: [UInt8], respond: @escaping @Sendable (Result<APIResult, AWSErrorBody>) -> Void) {
        loop.preconditionInEventLoop()
        guard !backupSnapshotInProgress else {
            return respond(.failure(AWSErrorBody(.throttling, "A backup snapshot is being prepared on this node. Retry when it is done.")))
        }
        let result = runAdmin(.getBackupSnapshot, body: body)
        guard case let .success(.encodeLater(encode)) = result else { return respond(result) }
        backupSnapshotInProgress = true
        Self.backupSnapshotQueue.async {
            let bytes = encode()
            self.loop.execute { self.backupSnapshotInProgress = false }
            respond(.success(.json(bytes)))
        }
    }

    /// Runs `body` on the node's loop: at once when already there (API connections that
    /// share the node's loop), else as a task.
    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// Runs `body` on the node's loop as one of its events, in order with the others (any thread).
    func runAsEvent(_ body: @escaping @Sendable () -> Void) {
        loop.execute { self.enqueue(.call(body)) }
    }

    private func enqueue(_ event: Event) {
        loop.preconditionInEventLoop()
        var isCall = false
        if case .call = event { isCall = true }
        guard queue.count < Self.queuedEventsMax || isCall else {
            // Peer messages are dropped (Raft retries); requests are refused.
            if case let .request(_, _, respond) = event {
                respond(.failure(AWSErrorBody(.throttling, "Too many requests are waiting on this node. Retry later.")))
            }
            return
        }
        queue.append(event)
        guard !flushScheduled else { return }
        flushScheduled = true
        // Runs after the tasks already queued on the loop: everything that arrived meanwhile
        // goes into one batch.
        loop.execute { self.flush() }
    }

    private func flush() {
        loop.preconditionInEventLoop()
        flushScheduled = false
        let events = queue
        queue.removeAll(keepingCapacity: true)
        let nowMs = clock.monotonicMs
        for case let .message(_, peer) in events { lastHeardMs[peer] = nowMs }
        node.batch {
            for event in events {
                switch event {
                case let .message(message, peer): node.receive(message, from: peer)
                case let .call(body): body()
                case let .request(request, principal, respond):
                    let isWrite: Bool
                    if case .write = request { isWrite = true } else { isWrite = false }
                    let started = isWrite && metrics != nil ? NIODeadline.now() : nil
                    node.submit(request, principal: principal) { [metrics] result in
                        if let started { metrics?.proposalLatency.recordNanoseconds((NIODeadline.now() - started).nanoseconds) }
                        switch result {
                        case let .success(.write(response)): respond(.success(.write(response)))
                        case let .success(.read(response)): respond(.success(.read(response)))
                        case let .failure(error): respond(.failure(KMSResponseEncoder.errorBody(error)))
                        }
                    }
                }
            }
        }
        noteRoleChange()
    }

    private func noteRoleChange() {
        let soft = node.softState
        guard soft.role != lastRole || soft.leader != lastLeader else { return }
        if soft.leader != lastLeader { metrics?.leaderChanges.increment() }
        RaftLogContext.update(term: node.status.hardState.term.rawValue, role: "\(soft.role)")
        lastRole = soft.role
        lastLeader = soft.leader
        logger.info("role changed", metadata: [
            "role": "\(soft.role)", "leader": "\(soft.leader.map { "\($0.rawValue)" } ?? "none")",
            "term": "\(node.status.hardState.term.rawValue)",
        ])
        if let reason = node.haltReason { logger.critical("node halted", metadata: ["reason": "\(reason)"]) }
    }

    private func updateGauges() {
        guard let metrics else { return }
        let status = node.status
        metrics.term.record(Int64(status.hardState.term.rawValue))
        metrics.commitIndex.record(Int64(status.hardState.commit.rawValue))
        metrics.appliedIndex.record(Int64(node.appliedIndex.rawValue))
        metrics.isLeader.record(status.softState.role == .leader ? 1 : 0)
        metrics.leaseValid.record(node.leaseIsValid() ? 1 : 0)
        metrics.sealed.record(node.kms.isSealed ? 1 : 0)
        metrics.keys.record(node.kms.state.keys.count)
        if let linkIsUp {
            for peer in status.membership.voters + status.membership.learners where peer != node.id {
                metrics.peerLink(peer.rawValue).record(linkIsUp(peer) ? 1 : 0)
            }
        }
    }

    /// Why the node cannot serve reads and cryptography now, or nil when it can (`/readyz`).
    func readiness() -> EventLoopFuture<String?> {
        loop.submit {
            if let reason = self.node.haltReason { return "halted: \(reason)" }
            if self.node.kms.isSealed { return "sealed" }
            if self.node.softState.leader == nil { return "no leader known" }
            if case .lease = self.node.config.readConsistency, !self.node.leaseIsValid() { return "read lease not valid" }
            return nil
        }
    }

    /// Membership, leadership and snapshot operations. They act on the leader; on another
    /// node they fail with a message naming the leader, so tools retry there.
    private func runAdmin(_ operation: AdminOperation, body: [UInt8]) -> Result<APIResult, AWSErrorBody> {
        loop.preconditionInEventLoop()
        func refuse(_ message: String) -> Result<APIResult, AWSErrorBody> { .failure(AWSErrorBody(.invalidState, message)) }
        func answer(_ object: [String: Any]) -> Result<APIResult, AWSErrorBody> {
            .success(.json(Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))))
        }
        if node.isHalted { return refuse("This node has stopped.") }
        if operation == .unseal { return unseal(body: body) }
        let status = node.status
        if operation == .snapshot {
            let index = node.snapshotNow(keepingEntries: 0)
            return answer(["SnapshotIndex": index.rawValue])
        }
        guard status.softState.role == .leader else {
            let leader = status.softState.leader.map { "node \($0.rawValue)" } ?? "unknown"
            return refuse("Node \(node.id.rawValue) is not the leader; the leader is \(leader). Send this to the leader.")
        }
        if operation == .getBackupSnapshot {
            // A confirmed leader that has applied everything committed: the snapshot holds
            // every acknowledged write. Only copying the state runs here (a value: O(1), the
            // loop's next writes copy what they change); `backupSnapshot` serialises the copy
            // off the event loops.
            guard node.isConfirmedLeader else {
                return .failure(AWSErrorBody(.dependencyTimeout, "The leader could not confirm its leadership just now. Retry."))
            }
            guard let rootKeyCheck = rootKeyCheckValue else {
                return .failure(AWSErrorBody(.internalError, "This node does not know its root key's check value."))
            }
            let index = node.appliedIndex.rawValue
            let state = node.kms.state
            return .success(.encodeLater {
                let snapshot = state.snapshot()
                let object: [String: Any] = ["AppliedIndex": index, "Snapshot": Data(snapshot).base64EncodedString(),
                                             "RootKeyCheck": rootKeyCheck]
                return Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8))
            })
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        guard let raw = (object?["NodeId"] as? NSNumber)?.uint64Value, let target = NodeID(validating: raw) else {
            return .failure(AWSErrorBody(.validation, "NodeId must be a node id of at least 1."))
        }
        let membership = status.membership
        do {
            switch operation {
            case .getNodeStatus, .snapshot, .unseal, .getBackupSnapshot:
                preconditionFailure("handled above")
            case .addLearner:
                guard !membership.isVoter(target), !membership.isLearner(target) else {
                    return refuse("Node \(raw) is already a member.")
                }
                try node.proposeMembershipChange(MembershipChange(.addLearner, node: target))
            case .promoteLearner:
                guard membership.isLearner(target) else { return refuse("Node \(raw) is not a learner.") }
                try node.proposeMembershipChange(MembershipChange(.addVoter, node: target))
            case .removeNode:
                guard membership.isVoter(target) || membership.isLearner(target) else {
                    return refuse("Node \(raw) is not a member.")
                }
                guard target != node.id else {
                    return refuse("Node \(raw) is the leader; transfer leadership to another voter first.")
                }
                if membership.isVoter(target) {
                    let remaining = membership.voters.filter { $0 != target }
                    let healthy = remaining.filter { $0 == node.id || isRecentlyHeard($0) }
                    guard !remaining.isEmpty, healthy.count >= remaining.count / 2 + 1 else {
                        return refuse("Removing node \(raw) would leave \(healthy.count) of \(remaining.count) voters up, "
                                      + "less than a majority; bring the others back first.")
                    }
                }
                try node.proposeMembershipChange(MembershipChange(.removeNode, node: target))
            case .transferLeader:
                guard membership.voters.contains(target) else { return refuse("Node \(raw) is not a voter.") }
                guard target != node.id else { return answer(["Leader": raw]) }
                try node.transferLeadership(to: target)
            }
        } catch {
            return refuse("Refused: \(error).")
        }
        logger.info("admin operation proposed", metadata: ["operation": "\(operation.rawValue)", "target": "\(raw)"])
        return answer(["Proposed": operation.rawValue, "NodeId": raw])
    }

    /// One share for this node. The share never reaches a log; refusals say why without it.
    private func unseal(body: [UInt8]) -> Result<APIResult, AWSErrorBody> {
        func answer(_ object: [String: Any]) -> Result<APIResult, AWSErrorBody> {
            .success(.json(Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))))
        }
        guard node.kms.isSealed else { return answer(["Sealed": false]) }
        guard let check = rootKeyCheck else {
            return .failure(AWSErrorBody(.invalidState, "This node has no root key check file; it cannot be unsealed with shares."))
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        guard let text = object?["Share"] as? String, let share = Shamir.Share(text: text) else {
            return .failure(AWSErrorBody(.validation, "Share must be a keyraft-share-1-… string."))
        }
        switch unsealProgress.add(share, check: check) {
        case let .needMore(have, need):
            return answer(["Sealed": true, "SharesGiven": have, "Threshold": need])
        case let .unsealed(rootKey):
            node.kms.unseal(rootKey: rootKey)
            logger.notice("unsealed")
            updateGauges()
            return answer(["Sealed": false])
        case let .refused(reason):
            return .failure(AWSErrorBody(.validation, reason))
        }
    }

    /// Counts as up for the removal check: this node's link to it is connected (a killed
    /// process's connection closes at once) and it answered within five heartbeat
    /// intervals (followers answer every heartbeat), at least 500 ms.
    private func isRecentlyHeard(_ peer: NodeID) -> Bool {
        if let linkIsUp, !linkIsUp(peer) { return false }
        guard let heard = lastHeardMs[peer] else { return false }
        let windowMs = max(500, 5 * Int64(node.config.heartbeatTimeoutTicks) * node.config.tickMs)
        return clock.monotonicMs - heard <= windowMs
    }

    /// `KeyraftAdmin.GetNodeStatus`.
    func statusJSON() -> [UInt8] {
        loop.preconditionInEventLoop()
        let status = node.status
        let role: String
        switch status.softState.role {
        case .leader: role = "Leader"
        case .follower: role = status.membership.learners.contains(node.id) ? "Learner" : "Follower"
        case .candidate: role = "Candidate"
        case .preCandidate: role = "PreCandidate"
        }
        var object: [String: Any] = [
            "NodeId": node.id.rawValue,
            "Role": role,
            "Term": status.hardState.term.rawValue,
            "CommitIndex": status.hardState.commit.rawValue,
            "AppliedIndex": node.appliedIndex.rawValue,
            "LastIndex": status.lastIndex.rawValue,
            "LeaseValid": node.leaseIsValid(),
            "Sealed": node.kms.isSealed,
            "Voters": status.membership.voters.map(\.rawValue).sorted(),
            "Learners": status.membership.learners.map(\.rawValue).sorted(),
            "LeaderId": status.softState.leader.map { $0.rawValue as Any } ?? NSNull(),
        ]
        if let reason = node.haltReason { object["Halted"] = reason }
        let nowMs = clock.monotonicMs
        object["LastContactMs"] = Dictionary(uniqueKeysWithValues: lastHeardMs.map { ("\($0.key.rawValue)", nowMs - $0.value) })
        if status.softState.role == .leader {
            object["Progress"] = status.progress.map { peer, progress -> [String: Any] in
                [
                    "NodeId": peer.rawValue, "Match": progress.match.rawValue, "Next": progress.next.rawValue,
                    "State": "\(progress.state)", "Learner": progress.isLearner,
                    "Lag": status.lastIndex.rawValue - min(progress.match.rawValue, status.lastIndex.rawValue),
                ]
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Array(data)
    }
}

/// The term and role every log line of this process carries (a swift-log metadata provider).
enum RaftLogContext {
    private static let current = NIOLockedValueBox<(term: UInt64, role: String)>((0, "follower"))

    static func update(term: UInt64, role: String) { current.withLockedValue { $0 = (term, role) } }

    static let provider = Logger.MetadataProvider {
        let (term, role) = current.withLockedValue { $0 }
        return ["term": "\(term)", "role": "\(role)"]
    }
}
