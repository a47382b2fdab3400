import KMS
import KeyraftNode
import RaftCore

/// Why a run failed; each kind has its own exit code.
public enum SimFailure: Error, CustomStringConvertible, Equatable {
    case safety(String)
    case liveness(String)

    public var description: String {
        switch self {
        case let .safety(text): return "SAFETY VIOLATION: \(text)"
        case let .liveness(text): return "LIVENESS FAILURE: \(text)"
        }
    }
}

/// Raft-level invariants, checked continuously as nodes apply entries and change roles.
final class RaftChecker {
    /// term → the one node that led it.
    private var leaders: [UInt64: NodeID] = [:]
    /// The committed log as first applied anywhere: `committed[i]` is (term, checksum) of
    /// index `i + 1`, nil while no node has applied it (nodes that install a snapshot skip
    /// indices). Log indices are dense, so an array, not a dictionary: this is checked on
    /// every applied entry.
    private(set) var committed: [(term: Term, sum: UInt64)?] = []
    private(set) var highestApplied: UInt64 = 0
    /// Per node: the last index it applied, to check that it applies in order.
    private var appliedBy: [UInt64: UInt64] = [:]

    /// The entry first applied at `index`, if any node has applied it.
    func committedEntry(at index: UInt64) -> (term: Term, sum: UInt64)? {
        precondition(index > 0, "log indices start at 1")
        return index <= UInt64(committed.count) ? committed[Int(index - 1)] : nil
    }
    private(set) var failure: SimFailure?

    func fail(_ text: String) {
        if failure == nil { failure = .safety(text) }
    }

    /// Election safety: at most one leader per term.
    func roleChanged(_ node: NodeID, _ soft: SoftState, term: Term) {
        guard soft.role == .leader else { return }
        if let other = leaders[term.rawValue], other != node {
            fail("two leaders in term \(term): n\(other) and n\(node)")
        }
        leaders[term.rawValue] = node
    }

    /// State machine safety: every node applies the same entry at each index, in order.
    func applied(_ node: NodeID, _ entry: Entry) {
        let index = entry.index.rawValue
        let previous = appliedBy[node.rawValue] ?? 0
        // Forward jumps are snapshot installs; going back happens only through a restart.
        if index <= previous { fail("n\(node) applied index \(index) again after \(previous)") }
        appliedBy[node.rawValue] = index
        let sum = checksum(entry)
        if let known = committedEntry(at: index) {
            if known.term != entry.term || known.sum != sum {
                fail("n\(node) applied a different entry at index \(index) (term \(entry.term), first seen term \(known.term)): a committed entry changed")
            }
        } else {
            if index > UInt64(committed.count) {
                committed.append(contentsOf: repeatElement(nil, count: Int(index) - committed.count))
            }
            committed[Int(index - 1)] = (entry.term, sum)
            highestApplied = max(highestApplied, index)
        }
        assert(UInt64(committed.count) == highestApplied, "one slot per index up to the highest applied")
    }

    /// Figure 2's commit rule, at the leader: commit advances only to an entry of the
    /// leader's current term (earlier-term entries are committed only indirectly, §5.4.2).
    func leaderCommitted(_ node: NodeID, previous: LogIndex, hardState: HardState, disk: SimDisk, isLeader: Bool) {
        guard isLeader, hardState.commit > previous else { return }
        guard let term = try? disk.term(at: hardState.commit) else { return }
        if term != hardState.term {
            fail("leader n\(node) in term \(hardState.term) advanced its commit index to \(hardState.commit), an entry of term \(term): only current-term entries may be committed by counting replicas")
        }
    }

    /// A node's view restarted from a snapshot: it will apply from there.
    func restarted(_ node: NodeID, from index: LogIndex) { appliedBy[node.rawValue] = index.rawValue }

    /// Leader completeness: a new leader's log holds every entry applied anywhere.
    func leaderCompleteness(_ node: NodeID, disk: SimDisk) {
        let image = disk.live
        let first = image.offset.rawValue + 1
        guard first <= highestApplied else { return }
        for index in first...highestApplied {
            guard let known = committedEntry(at: index) else { continue }
            guard index <= image.lastIndex.rawValue else {
                fail("leader n\(node) lacks committed entry \(index) (its log ends at \(image.lastIndex))")
                return
            }
            let entry = image.log[Int(index - image.offset.rawValue)]
            if entry.term != known.term {
                fail("leader n\(node) holds term \(entry.term) at committed index \(index), committed was term \(known.term)")
                return
            }
        }
    }
}

/// KMS-level invariants across nodes.
enum KMSChecks {
    /// Every node at the same applied index holds byte-identical state; versions are dense
    /// from 1 (rotations only add); deleted keys are gone, material included.
    static func convergence(_ machines: [SimMachine], deletedKeys: Set<KeyID>) -> SimFailure? {
        let live = machines.compactMap { m in m.node.map { (m.id, $0) } }.filter { !$0.1.isHalted }
        guard let reference = live.max(by: { $0.1.appliedIndex < $1.1.appliedIndex }) else { return nil }
        let snapshot = reference.1.kms.snapshot()
        for (id, node) in live {
            if node.appliedIndex != reference.1.appliedIndex {
                return .liveness("n\(id) applied \(node.appliedIndex), n\(reference.0) applied \(reference.1.appliedIndex): not converged")
            }
            if node.kms.snapshot() != snapshot {
                return .safety("n\(id) and n\(reference.0) hold different KMS state at applied index \(node.appliedIndex)")
            }
            for (key, versions) in node.kms.state.versions.sorted(by: { $0.key < $1.key }) {
                let numbers = versions.map(\.version.rawValue)
                if numbers != Array(1...UInt32(max(1, numbers.count))) || numbers.isEmpty {
                    return .safety("n\(id) key \(key) holds versions \(numbers): an older version was lost")
                }
            }
            for key in deletedKeys.sorted() where node.kms.state.keys[key] != nil || node.kms.hasCachedMaterial(key) {
                return .safety("n\(id) still holds deleted key \(key) or its material")
            }
        }
        return nil
    }

    /// Every ciphertext a client ever received decrypts to its plaintext on every running
    /// node, as long as its key is enabled there.
    static func everyCiphertextDecrypts(_ records: [CiphertextRecord], on machines: [SimMachine],
                                        principal: Principal) -> SimFailure? {
        for machine in machines {
            guard let node = machine.node, !node.isHalted else { continue }
            for record in records where node.kms.state.keys[record.key]?.state == .enabled {
                do {
                    let plaintext = try node.kms.decrypt(ciphertextBlob: record.blob, context: record.context,
                                                         principal: principal).plaintext
                    if plaintext != record.plaintext {
                        return .safety("n\(machine.id) decrypts a ciphertext of key \(record.key) to the wrong plaintext")
                    }
                } catch {
                    return .safety("n\(machine.id) cannot decrypt a ciphertext of enabled key \(record.key): \(error)")
                }
            }
        }
        return nil
    }
}
