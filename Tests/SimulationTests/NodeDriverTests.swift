import KMS
import KeyraftNode
import RaftCore
import Testing
@testable import Simulation

/// The node driver's contracts, on a 3-node simulated cluster without faults or workload.
@Suite("Node driver")
struct NodeDriverTests {
    let principal = Principal(arn: "arn:aws:iam::111122223333:user/t", accountID: "111122223333")

    func cluster(linearizable: Bool = false) -> (Simulator, leader: SimMachine, follower: SimMachine) {
        var p = SimParameters(seed: 21)
        p.nodeCount = 3
        p.clients = 0
        p.linearizableReads = linearizable
        let sim = Simulator(parameters: p)
        sim.boot()
        #expect(sim.advance(byMs: 3_000) == nil)
        let leader = sim.world.leader!
        let follower = sim.world.machines.first { $0.id != leader.id && $0.isUp }!
        return (sim, leader, follower)
    }

    @Test("a write sent to a follower is forwarded, and answered once the follower itself applied it")
    func followerWriteReadYourWrites() throws {
        let (sim, _, follower) = cluster()
        var answered: Result<NodeResponse, KMSError>?
        var presentAtAnswer = false
        follower.node!.submit(.write(.createKey(CreateKeyRequest(description: "rw"))), principal: principal) { result in
            answered = result
            if case let .success(.write(.keyMetadata(metadata))) = result, let id = KeyID(metadata.keyID) {
                presentAtAnswer = follower.node!.kms.state.keys[id] != nil
            }
        }
        #expect(answered == nil, "a follower cannot answer a write by itself")
        #expect(sim.advance(byMs: 1_000) == nil)
        guard case .success? = answered else {
            Issue.record("the write did not complete: \(String(describing: answered))")
            return
        }
        #expect(presentAtAnswer, "the follower answered before applying the write")
    }

    @Test("a write refused by the leader's validation comes back to the follower as that error")
    func forwardedRefusal() {
        let (sim, _, follower) = cluster()
        var answered: Result<NodeResponse, KMSError>?
        follower.node!.submit(.write(.enableKey(keyID: "alias/none")), principal: principal) { answered = $0 }
        #expect(sim.advance(byMs: 1_000) == nil)
        guard case let .failure(error)? = answered else {
            Issue.record("expected an error, got \(String(describing: answered))")
            return
        }
        #expect(error.code == .notFound)
    }

    @Test("linearizable mode answers reads on a follower after a ReadIndex round")
    func linearizableRead() {
        let (sim, _, follower) = cluster(linearizable: true)
        var answered: Result<NodeResponse, KMSError>?
        follower.node!.submit(.read(.listKeys(limit: nil, marker: nil)), principal: principal) { answered = $0 }
        #expect(answered == nil, "a linearizable read waits for its ReadIndex round")
        #expect(sim.advance(byMs: 500) == nil)
        guard case .success(.read(.listKeys))? = answered else {
            Issue.record("expected a ListKeys answer, got \(String(describing: answered))")
            return
        }
    }

    @Test("a node that goes away fails its waiting requests with a retryable error")
    func shutdownFailsPending() {
        let (sim, _, follower) = cluster()
        var answered: Result<NodeResponse, KMSError>?
        follower.node!.submit(.write(.createKey(CreateKeyRequest())), principal: principal) { answered = $0 }
        sim.world.crash(follower)
        guard case let .failure(error)? = answered else {
            Issue.record("expected a failure, got \(String(describing: answered))")
            return
        }
        #expect(error.code == .dependencyTimeout)
    }

    @Test("a completion may submit the next request at once, even from inside the Ready loop")
    func reentrantSubmission() {
        let (sim, leader, _) = cluster()
        let node = leader.node!
        var described: Result<NodeResponse, KMSError>?
        node.submit(.write(.createKey(CreateKeyRequest(description: "chained"))), principal: principal) { result in
            guard case let .success(.write(.keyMetadata(metadata))) = result else { return }
            node.submit(.read(.describeKey(keyID: metadata.keyID)), principal: self.principal) { described = $0 }
        }
        #expect(sim.advance(byMs: 1_000) == nil)
        guard case let .success(.read(.keyMetadata(metadata)))? = described else {
            Issue.record("the chained DescribeKey did not complete: \(String(describing: described))")
            return
        }
        #expect(metadata.description == "chained")
    }
}
