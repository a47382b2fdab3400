import KMS
import KeyraftCrypto
import KeyraftCryptoDeterministic
@_spi(Canaries) import KeyraftNode
@_spi(Canaries) import RaftCore

/// A node's clock: virtual time at the node's own rate, from its own boot offset.
final class SimClock: NodeClock {
    unowned let world: SimWorld
    let rate: Double
    var offsetMs: Int64

    init(world: SimWorld, rate: Double, offsetMs: Int64) {
        precondition(rate > 0)
        self.world = world
        self.rate = rate
        self.offsetMs = offsetMs
    }

    var nowMs: Int64 { offsetMs + monotonicMs }

    /// Elapsed time at this node's rate: never stepped, never backwards.
    var monotonicMs: Int64 { Int64((Double(world.nowMs) * rate).rounded(.down)) }
}

/// One node's attachment to the simulated network.
final class SimEndpoint: PeerNetwork {
    unowned let world: SimWorld
    let id: NodeID

    init(world: SimWorld, id: NodeID) {
        self.world = world
        self.id = id
    }

    func send(_ message: PeerMessage, to peer: NodeID) {
        if case let .raft(m) = message, m.type == .appendResponse, !m.reject {
            world.machine(id).disk.acknowledged(m.index)
        }
        world.transmit(message, from: id, to: peer)
    }
}

/// A simulated machine: its disk and clock survive crashes; the process does not.
final class SimMachine {
    let id: NodeID
    let disk: SimDisk
    let clock: SimClock
    let endpoint: SimEndpoint
    var node: KeyraftNode?
    var paused = false
    /// Set when the disk failed verification: the node refuses to start and stays down.
    var refusedReason: String?
    /// The fault injector damaged this disk; counted so only a minority is ever lost.
    var diskCorrupted = false
    /// Events for this machine are deferred until then (a slow disk, a paused process).
    var busyUntilMs: Int64 = 0
    var incarnation = 0

    init(id: NodeID, disk: SimDisk, clock: SimClock, endpoint: SimEndpoint) {
        self.id = id
        self.disk = disk
        self.clock = clock
        self.endpoint = endpoint
    }

    var isUp: Bool { node != nil && node?.isHalted == false }
}

/// Events of the simulation.
enum SimEvent {
    case tick(NodeID, incarnation: Int)
    /// A message in flight, by reference: a message is 170 bytes, and every event is
    /// copied into the queue and out again (unboxed, those copies of mostly-small events
    /// were 6 % of the wall time); a delivery is handed to the node without another copy.
    case deliver(Delivery)
    case client(Int)
    case fault
    case heal
    case restart(NodeID)
    case resume(NodeID)
    case addLearner
}

/// A message on the simulated network. Immutable: a duplicated or deferred delivery
/// is the same object scheduled again.
final class Delivery {
    let message: PeerMessage
    let from: NodeID
    let to: NodeID

    init(_ message: PeerMessage, from: NodeID, to: NodeID) {
        self.message = message
        self.from = from
        self.to = to
    }
}

/// The simulated world: virtual time, the event queue, machines and the network.
final class SimWorld {
    let parameters: SimParameters
    let random: SimRandom
    let networkRandom: SimRandom
    private(set) var nowMs: Int64 = 0
    var queue = EventQueue<SimEvent>(capacity: 2_000_000)
    var machines: [SimMachine] = []
    var trace = TraceHasher()
    /// Directed links that currently drop everything. Looked up for every message sent
    /// and delivered, so a pair of ids rather than an array (which allocated per lookup).
    var blocked: Set<Link> = []

    /// A directed link between two machines.
    struct Link: Hashable {
        let from: NodeID
        let to: NodeID
    }
    let rootKey: SecretBytes
    let kmsConfig = KMSConfig()
    var onNodeStarted: ((SimMachine) -> Void)?
    var rollingCursor = 0
    /// Set when a crash shows a node acknowledged entries it had not made durable.
    var durabilityViolation: String?

    init(parameters: SimParameters) {
        self.parameters = parameters
        random = SimRandom(seed: parameters.seed)
        networkRandom = random.fork()
        rootKey = SecretBytes(copying: (0..<32).map { _ in UInt8(truncatingIfNeeded: parameters.seed &* 0x9E37) })
    }

    func machine(_ id: NodeID) -> SimMachine { machines[Int(id.rawValue) - 1] }

    var voters: [NodeID] { (1...UInt64(parameters.nodeCount)).map(NodeID.init) }
    /// The machine that joins during the run, if the parameters ask for one.
    var joinerID: NodeID? { parameters.addLearnerAtMs == nil ? nil : NodeID(UInt64(parameters.nodeCount + 1)) }
    /// Every machine's id, the joiner's included.
    var machineIDs: [NodeID] { voters + (joinerID.map { [$0] } ?? []) }

    // MARK: Time

    func advance(to time: Int64) {
        precondition(time >= nowMs, "time never goes backwards")
        nowMs = time
    }

    func schedule(_ event: SimEvent, in delayMs: Int64) {
        precondition(delayMs >= 0)
        if !queue.push(event, at: nowMs + delayMs) {
            fatalError("simulation event queue overflow at \(nowMs) ms: a bound is missing somewhere")
        }
    }

    // MARK: Network

    func transmit(_ message: PeerMessage, from: NodeID, to: NodeID) {
        guard from != to, !isBlocked(from, to) else { return }
        if networkRandom.chance(parameters.lossProbability) { return }
        var latency = networkRandom.int64(parameters.latencyMs)
        if networkRandom.chance(parameters.latencySpikeProbability) {
            latency += networkRandom.int64(parameters.latencySpikeMs)
        }
        let delivery = Delivery(message, from: from, to: to)
        schedule(.deliver(delivery), in: latency)
        if networkRandom.chance(parameters.duplicateProbability) {
            schedule(.deliver(delivery), in: latency + networkRandom.int64(parameters.latencyMs))
        }
    }

    func isBlocked(_ from: NodeID, _ to: NodeID) -> Bool { !blocked.isEmpty && blocked.contains(Link(from: from, to: to)) }

    func block(_ from: NodeID, _ to: NodeID) { blocked.insert(Link(from: from, to: to)) }

    // MARK: Nodes

    func buildMachines() {
        let voters = self.voters
        for id in machineIDs {
            let drift = parameters.clockDriftMax
            let rate = drift > 0 ? 1 + Double(random.int(-1000...1000)) / 1000 * drift : 1
            let clock = SimClock(world: self, rate: rate, offsetMs: 1_780_000_000_000 + random.int64(0...5_000))
            // The joiner starts, like every node, from the cluster's bootstrap configuration
            // (without itself): replaying the log or installing a snapshot brings it up to
            // date. A joiner started with no configuration would count only itself as a
            // quorum once promoted (the simulator found that split brain; seed 2).
            let disk = SimDisk(membership: Membership(voters: voters), random: random.fork())
            machines.append(SimMachine(id: id, disk: disk, clock: clock, endpoint: SimEndpoint(world: self, id: id)))
        }
    }

    /// Starts (or restarts) a machine's process from its durable disk.
    func start(_ machine: SimMachine) {
        precondition(machine.node == nil)
        if let reason = machine.disk.verifyForRestart() {
            machine.refusedReason = reason
            trace.add("refuse n\(machine.id) \(reason)")
            return
        }
        var config = NodeConfig(id: machine.id)
        config.readConsistency = parameters.linearizableReads ? .linearizable : .lease(maxStalenessMs: parameters.maxStalenessMs)
        config.snapshotEveryEntries = parameters.snapshotEveryEntries
        config.tickMs = parameters.tickMs
        config.verifyInvariants = true
        config.requestTimeoutTicks = parameters.requestTimeoutTicks
        config.maxSizePerMsgBytes = parameters.maxSizePerMsgBytes
        config.maxInflightMsgs = parameters.maxInflightMsgs
        config.canaries = parameters.canaries.compactMap(NodeCanary.init(rawValue:))
        config.raftCanaries = parameters.canaries.compactMap { name in
            RaftCanary.allCases.first { $0.simulatorName == name }
        }
        let entropy = SeededEntropy(seed: random.next())
        do {
            let node = try KeyraftNode(config: config, kmsConfig: kmsConfig, rootKey: rootKey, storage: machine.disk,
                                       network: machine.endpoint, clock: machine.clock, entropy: entropy,
                                       random: SimRandomGenerator(random: random.fork()))
            machine.node = node
            machine.incarnation += 1
            onNodeStarted?(machine)
            trace.add("start n\(machine.id) inc \(machine.incarnation)")
            schedule(.tick(machine.id, incarnation: machine.incarnation), in: tickInterval(machine))
        } catch {
            machine.refusedReason = "storage refused to open: \(error)"
            trace.add("refuse n\(machine.id)")
        }
    }

    func crash(_ machine: SimMachine) {
        guard let node = machine.node else { return }
        machine.node = nil
        // The clients' connections to this process drop: their requests fail and retry.
        node.shutdown()
        if let broken = machine.disk.crash(), durabilityViolation == nil {
            durabilityViolation = "n\(machine.id) \(broken): an acknowledgement left before the entries were durable"
        }
        machine.paused = false
        trace.add("crash n\(machine.id)")
    }

    func tickInterval(_ machine: SimMachine) -> Int64 {
        max(1, Int64((Double(parameters.tickMs) / machine.clock.rate).rounded()))
    }

    var leader: SimMachine? {
        machines.first { $0.isUp && $0.node!.softState.role == .leader }
    }
}

extension RaftCanary {
    /// The canary's name on the simulator's command line.
    var simulatorName: String {
        switch self {
        case .commitPreviousTerm: return "commit-previous-term"
        case .doubleVote: return "double-vote"
        case .followerOvercommit: return "follower-overcommit"
        case .ackBeforeSync: return "ack-before-sync"
        }
    }
}
