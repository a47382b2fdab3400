import Testing
@testable import RaftCore

@Suite struct SmokeTests {
    @Test func threeNodesElectReplicateCommit() throws {
        let c = TestCluster(voters: ids(1, 2, 3))
        c.elect(1)
        #expect(c.leaders == [nid(1)])
        try c[1].node.propose(bytes("hello"))
        c.stabilize()
        for id in c.sortedIDs {
            #expect(c.nodes[id]!.applied.map(\.data).contains(bytes("hello")))
            #expect(c.nodes[id]!.raft.log.committed == LogIndex(2))
        }
    }

    @Test func singleNodeCommitsAfterPersist() throws {
        let c = TestCluster(voters: ids(1))
        c.elect(1)
        #expect(c.leaders == [nid(1)])
        try c[1].node.propose(bytes("x"))
        c.stabilize()
        #expect(c[1].applied.count == 2)
    }

    @Test func electionByTicks() {
        let c = TestCluster(voters: ids(1, 2, 3), seed: 7)
        c.tickAll(40)
        #expect(c.leaders.count == 1)
    }
}
