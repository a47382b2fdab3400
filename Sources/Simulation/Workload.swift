import KMS
import KeyraftNode
import RaftCore

/// One operation on a key's state, as the linearizability checker sees it.
struct KeyStateOp {
    enum Input: Equatable {
        case setEnabled(Bool)
        case setDescription(String)
        case describe
        /// Encrypt or Decrypt: reads whether the key is enabled.
        case crypto
    }

    enum Output: Equatable {
        case ok
        case described(enabled: Bool, description: String)
        case cryptoAllowed
        case cryptoDisabled
        /// A write whose outcome the client never learned.
        case unknown
    }

    let client: Int
    let key: KeyID
    let input: Input
    let output: Output
    let invokeMs: Int64
    let completeMs: Int64
}

/// A ciphertext a client received, with what it must decrypt to.
struct CiphertextRecord {
    let blob: [UInt8]
    let plaintext: [UInt8]
    let key: KeyID
    let context: EncryptionContext
}

/// Simulated KMS clients: they send requests to nodes round-robin, retry on failure,
/// and record what they saw. The checks on each answer live here too.
final class KMSWorkload {
    unowned let world: SimWorld
    let random: SimRandom
    let principal = Principal(arn: "arn:aws:iam::111122223333:user/sim", accountID: "111122223333")
    /// Keys whose state history is checked for linearizability; never deleted.
    private(set) var stateKeys: [KeyID] = []
    /// Keys the workload schedules for deletion.
    private(set) var doomedKeys: [KeyID] = []
    private(set) var ciphertexts: [CiphertextRecord] = []
    private(set) var history: [KeyStateOp] = []
    private(set) var failure: SimFailure?
    private var nextNode: [Int]
    private var outstanding: [Int: Int64] = [:]
    var stopped = false
    private(set) var completed = 0
    private var descriptionCounter = 0
    static let ciphertextsMax = 2_000
    static let historyMax = 200_000

    init(world: SimWorld, random: SimRandom) {
        self.world = world
        self.random = random
        nextNode = (0..<world.parameters.clients).map { $0 % world.parameters.nodeCount }
    }

    var pendingCount: Int { outstanding.count }

    func pendingSummary() -> String {
        outstanding.keys.sorted().map { client in
            "client \(client) since \(outstanding[client]!) ms\(retries[client].map { " retry \($0.1) of \($0.0)" } ?? "")"
        }.joined(separator: ", ")
    }
    func fail(_ text: String) {
        if failure == nil { failure = .safety(text) }
    }

    /// Client `client` issues its next request.
    func step(_ client: Int) {
        guard !stopped, outstanding[client] == nil else { return }
        let operation = chooseOperation()
        outstanding[client] = world.nowMs
        send(operation, client: client, attempt: 0)
    }

    // MARK: Operations

    enum Operation {
        case createKey(doomed: Bool)
        case encrypt(KeyID)
        case decrypt(CiphertextRecord)
        case generateDataKey(KeyID)
        case describe(KeyID)
        case setDescription(KeyID, String)
        case setEnabled(KeyID, Bool)
        case rotate(KeyID)
        case enableRotation(KeyID)
        case scheduleDeletion(KeyID)
        case cancelDeletion(KeyID)
        case putPolicy(KeyID, restrictive: Bool)

        /// The key the operation names, if any.
        var key: KeyID? {
            switch self {
            case .createKey: return nil
            case let .decrypt(record): return record.key
            case let .encrypt(k), let .generateDataKey(k), let .describe(k), let .setDescription(k, _), let .setEnabled(k, _),
                 let .rotate(k), let .enableRotation(k), let .scheduleDeletion(k), let .cancelDeletion(k), let .putPolicy(k, _):
                return k
            }
        }
    }

    private func chooseOperation() -> Operation {
        if stateKeys.count < 3 || random.chance(0.02) { return .createKey(doomed: false) }
        if doomedKeys.count < 2 || random.chance(0.01) { return .createKey(doomed: true) }
        let key = random.pick(stateKeys)
        switch random.int(0...99) {
        case 0..<22: return .encrypt(random.chance(0.8) ? key : random.pick(doomedKeys))
        case 22..<44: return ciphertexts.isEmpty ? .encrypt(key) : .decrypt(random.pick(ciphertexts))
        case 44..<50: return .generateDataKey(key)
        case 50..<62: return .describe(key)
        case 62..<72:
            descriptionCounter += 1
            return .setDescription(key, "d\(descriptionCounter)")
        case 72..<84: return .setEnabled(key, random.chance(0.6))
        case 84..<88: return .rotate(random.pick(stateKeys + doomedKeys))
        case 88..<92: return .enableRotation(random.pick(stateKeys + doomedKeys))
        case 92..<95: return .scheduleDeletion(random.pick(doomedKeys))
        case 95..<98: return .cancelDeletion(random.pick(doomedKeys))
        default: return .putPolicy(key, restrictive: random.chance(0.5))
        }
    }

    private func request(for operation: Operation) -> NodeRequest {
        switch operation {
        case .createKey: return .write(.createKey(CreateKeyRequest(description: "sim")))
        case let .encrypt(key):
            return .read(.encrypt(keyID: key.description, plaintext: plaintext(), context: ["sim": "1"], algorithm: nil))
        case let .decrypt(record):
            return .read(.decrypt(ciphertextBlob: record.blob, keyID: nil, context: record.context, algorithm: nil))
        case let .generateDataKey(key):
            return .read(.generateDataKey(keyID: key.description, keySpec: "AES_256", numberOfBytes: nil,
                                          context: ["sim": "dk"], includePlaintext: true))
        case let .describe(key): return .read(.describeKey(keyID: key.description))
        case let .setDescription(key, text): return .write(.updateKeyDescription(keyID: key.description, description: text))
        case let .setEnabled(key, enabled):
            return .write(enabled ? .enableKey(keyID: key.description) : .disableKey(keyID: key.description))
        case let .rotate(key): return .write(.rotateKeyOnDemand(keyID: key.description))
        case let .enableRotation(key): return .write(.enableKeyRotation(keyID: key.description, rotationPeriodInDays: 90))
        case let .scheduleDeletion(key): return .write(.scheduleKeyDeletion(keyID: key.description, pendingWindowInDays: 7))
        case let .cancelDeletion(key): return .write(.cancelKeyDeletion(keyID: key.description))
        case let .putPolicy(key, restrictive):
            return .write(.putKeyPolicy(keyID: key.description, policyName: "default",
                                        policy: restrictive ? KMSWorkload.namedPolicy : KeyPolicy.defaultDocument(world.kmsConfig),
                                        bypassPolicyLockoutSafetyCheck: false))
        }
    }

    private func plaintext() -> [UInt8] {
        (0..<random.int(1...64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    static let attemptsMax = 40

    /// A policy naming the simulated principal (and denying it nothing the workload does),
    /// so policy changes replicate and are evaluated without changing any outcome.
    static let namedPolicy = #"{"Version":"2012-10-17","Statement":[{"Sid":"sim","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/sim"},"Action":["kms:*"],"Resource":"*"},{"Sid":"no-one-else","Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/sim"}}}]}"#

    private func send(_ operation: Operation, client: Int, attempt: Int) {
        let nodeIndex = nextNode[client]
        nextNode[client] = (nodeIndex + 1) % world.parameters.nodeCount
        let machine = world.machines[nodeIndex]
        let invokeMs = world.nowMs
        let request = request(for: operation)
        guard let node = machine.node, !machine.paused, machine.busyUntilMs <= world.nowMs else {
            retry(operation, client: client, attempt: attempt)  // connection refused or no answer
            return
        }
        world.trace.add(ClientTraceEvent.submit(client: client, node: machine.id))
        node.submit(request, principal: principal) { [weak self] result in
            self?.completed(operation, request: request, result: result, client: client, attempt: attempt,
                            node: machine.id, invokeMs: invokeMs)
        }
    }

    private func retry(_ operation: Operation, client: Int, attempt: Int) {
        guard attempt + 1 < KMSWorkload.attemptsMax else {
            outstanding[client] = nil
            scheduleNext(client)
            return
        }
        world.schedule(.client(-(client + 1)), in: 20 + random.int64(0...30))
        retries[client] = (operation, attempt + 1)
    }

    private var retries: [Int: (Operation, Int)] = [:]

    /// A retry timer fired (encoded as a negative client number).
    func retryFired(_ client: Int) {
        guard let (operation, attempt) = retries.removeValue(forKey: client) else { return }
        send(operation, client: client, attempt: attempt)
    }

    private func scheduleNext(_ client: Int) {
        world.schedule(.client(client), in: random.int64(world.parameters.clientThinkMs))
    }

    // MARK: Outcomes

    private func completed(_ operation: Operation, request: NodeRequest, result: Result<NodeResponse, KMSError>,
                           client: Int, attempt: Int, node: NodeID, invokeMs: Int64) {
        let now = world.nowMs
        world.trace.add(ClientTraceEvent.done(client: client, node: node, outcome: outcomeName(result)))
        record(operation, request: request, result: result, client: client, invokeMs: invokeMs, completeMs: now)
        if case let .failure(error) = result, error.code == .dependencyTimeout {
            retry(operation, client: client, attempt: attempt)
            return
        }
        outstanding[client] = nil
        completed += 1
        scheduleNext(client)
    }

    private func outcomeName(_ result: Result<NodeResponse, KMSError>) -> String {
        switch result {
        case .success: return "ok"
        case let .failure(error): return error.code.rawValue
        }
    }

    private func record(_ operation: Operation, request: NodeRequest, result: Result<NodeResponse, KMSError>, client: Int,
                        invokeMs: Int64, completeMs: Int64) {
        switch (operation, result) {
        case let (.createKey(doomed), .success(.write(.keyMetadata(metadata)))):
            guard let id = KeyID(metadata.keyID) else { return fail("CreateKey returned an invalid key id") }
            if doomed { doomedKeys.append(id) } else { stateKeys.append(id) }
        case let (.encrypt(key), .success(.read(.encrypt(response)))):
            guard case let .read(.encrypt(_, plaintext, context, _)) = request else { return }
            remember(CiphertextRecord(blob: response.ciphertextBlob, plaintext: plaintext, key: key, context: context))
            addHistory(client, key, .crypto, .cryptoAllowed, invokeMs, completeMs)
        case let (.encrypt(key), .failure(error)):
            cryptoFailure(error, key: key, client: client, invokeMs, completeMs)
        case let (.decrypt(record), .success(.read(.decrypt(response)))):
            if response.plaintext != record.plaintext { fail("Decrypt of a ciphertext of key \(record.key) returned the wrong plaintext") }
            addHistory(client, record.key, .crypto, .cryptoAllowed, invokeMs, completeMs)
        case let (.decrypt(record), .failure(error)):
            if error.code == .invalidCiphertext {
                fail("a ciphertext of key \(record.key) no longer decrypts: \(error.message)")
            }
            cryptoFailure(error, key: record.key, client: client, invokeMs, completeMs)
        case let (.describe(key), .success(.read(.keyMetadata(metadata)))):
            addHistory(client, key, .describe, .described(enabled: metadata.keyState == .enabled,
                                                          description: metadata.description), invokeMs, completeMs)
        case let (.setDescription(key, text), .success):
            addHistory(client, key, .setDescription(text), .ok, invokeMs, completeMs)
        case let (.setDescription(key, text), .failure(error)) where error.code == .dependencyTimeout:
            addHistory(client, key, .setDescription(text), .unknown, invokeMs, Int64.max)
        case let (.setEnabled(key, enabled), .success):
            addHistory(client, key, .setEnabled(enabled), .ok, invokeMs, completeMs)
        case let (.setEnabled(key, enabled), .failure(error)) where error.code == .dependencyTimeout:
            addHistory(client, key, .setEnabled(enabled), .unknown, invokeMs, Int64.max)
        case let (_, .failure(error)):
            if [.invalidCiphertext, .internalError, .accessDenied, .malformedPolicyDocument].contains(error.code) {
                fail("unexpected \(error.code.rawValue): \(error.message)")
            }
            // State keys were acknowledged as created and are never scheduled for deletion:
            // "not found" or "invalid state" for one means a node judged a stale state.
            if let key = operation.key, stateKeys.contains(key), [.notFound, .invalidState].contains(error.code) {
                fail("\(error.code.rawValue) for key \(key), which exists: \(error.message)")
            }
        default:
            break
        }
    }

    private func cryptoFailure(_ error: KMSError, key: KeyID, client: Int, _ invokeMs: Int64, _ completeMs: Int64) {
        if error.code == .disabled, stateKeys.contains(key) {
            addHistory(client, key, .crypto, .cryptoDisabled, invokeMs, completeMs)
        }
    }

    private func remember(_ record: CiphertextRecord) {
        if ciphertexts.count < KMSWorkload.ciphertextsMax {
            ciphertexts.append(record)
        } else {
            ciphertexts[Int(random.below(UInt64(ciphertexts.count)))] = record
        }
    }

    private func addHistory(_ client: Int, _ key: KeyID, _ input: KeyStateOp.Input, _ output: KeyStateOp.Output,
                            _ invokeMs: Int64, _ completeMs: Int64) {
        guard stateKeys.contains(key), history.count < KMSWorkload.historyMax else { return }
        history.append(KeyStateOp(client: client, key: key, input: input, output: output,
                                  invokeMs: invokeMs, completeMs: completeMs))
    }

    /// Every key a client created.
    var createdKeys: [KeyID] { stateKeys + doomedKeys }
}
