import Testing
@testable import RaftCore

/// Must-have 9: the binary codec round-trips and refuses bad input without trapping.
@Suite struct CodecTests {
    static let membership = Membership(voters: ids(1, 2, 3), learners: ids(7), outgoingVoters: ids(1, 2, 4))
    static let snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(90), term: Term(4), membership: membership),
                                   data: bytes("opaque state"))

    static func sampleMessages() -> [Message] {
        var rng = SplitMix64(seed: 99)
        var out: [Message] = []
        for type in MessageType.allCases {
            var m = Message(type: type, from: nid(UInt64.random(in: 1...9, using: &rng)), to: nid(UInt64.max))
            m.term = Term(rng.next())
            m.logTerm = Term(rng.next() >> 3)
            m.index = LogIndex(rng.next())
            m.commit = LogIndex(rng.next() >> 1)
            m.reject = rng.next() & 1 == 1
            m.rejectHint = LogIndex(rng.next() >> 9)
            m.context = type == .readIndex ? bytes("ctx-\(type.rawValue)") : []
            if type == .append {
                m.entries = [ent(3, 4, "a"), Entry(term: Term(3), index: LogIndex(5), kind: .membershipChange,
                                                   data: MembershipChange(.addVoter, node: nid(4)).encoded), ent(3, 6)]
            }
            if type == .snapshot { m.snapshot = snapshot }
            out.append(m)
        }
        return out
    }

    @Test func messagesRoundTrip() throws {
        for m in Self.sampleMessages() {
            let encoded = RaftCodec.encode(m)
            #expect(encoded.first == RaftCodec.version)
            #expect(try RaftCodec.decodeMessage(encoded) == m)
        }
    }

    @Test func otherRecordsRoundTrip() throws {
        let e = Entry(term: Term(7), index: LogIndex(1 << 40), kind: .normal, data: [0, 255, 1])
        #expect(try RaftCodec.decodeEntry(RaftCodec.encode(e)) == e)
        for hs in [HardState(), HardState(term: Term(9), vote: nid(3), commit: LogIndex(12))] {
            #expect(try RaftCodec.decodeHardState(RaftCodec.encode(hs)) == hs)
        }
        #expect(try RaftCodec.decodeSnapshotMetadata(RaftCodec.encode(Self.snapshot.metadata)) == Self.snapshot.metadata)
        #expect(try RaftCodec.decodeSnapshot(RaftCodec.encode(Self.snapshot)) == Self.snapshot)
    }

    @Test func integersAreBigEndian() {
        let hs = HardState(term: Term(0x0102_0304_0506_0708), vote: nil, commit: .zero)
        let encoded = RaftCodec.encode(hs)
        #expect(Array(encoded[2..<10]) == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func everyTruncationIsRefused() {
        for m in Self.sampleMessages() {
            let encoded = RaftCodec.encode(m)
            for cut in 0..<encoded.count {
                #expect(throws: RaftCodecError.self) { try RaftCodec.decodeMessage(Array(encoded[..<cut])) }
            }
        }
    }

    @Test func specificMalformedInputsGiveSpecificErrors() {
        var hs = RaftCodec.encode(HardState(term: Term(1), vote: nid(2), commit: LogIndex(3)))
        #expect(throws: RaftCodecError.trailingBytes(count: 1)) { try RaftCodec.decodeHardState(hs + [0]) }
        hs[0] = 2
        #expect(throws: RaftCodecError.unsupportedVersion(2)) { try RaftCodec.decodeHardState(hs) }
        let entryBytes = RaftCodec.encode(ent(1, 1, "x"))
        #expect(throws: RaftCodecError.wrongRecordType(expected: 3, found: 2)) { try RaftCodec.decodeHardState(entryBytes) }
        var badKind = entryBytes
        badKind[18] = 9
        #expect(throws: RaftCodecError.invalidValue(field: "entry.kind")) { try RaftCodec.decodeEntry(badKind) }
        var huge = Array(entryBytes[..<19])
        huge += [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: RaftCodecError.lengthExceeded(field: "entry.data", length: 0xFFFF_FFFF, maxLength: RaftCodec.maxEntryDataBytes)) {
            try RaftCodec.decodeEntry(huge)
        }
        var zeroFrom = RaftCodec.encode(Message(type: .heartbeat, from: nid(1), to: nid(2)))
        for i in 3..<11 { zeroFrom[i] = 0 }
        #expect(throws: RaftCodecError.invalidValue(field: "message.from")) { try RaftCodec.decodeMessage(zeroFrom) }
    }

    @Test func overlappingOrUnsortedMembershipIsRefused() {
        var w = CodecWriter()
        w.u8(RaftCodec.version)
        w.u8(RaftCodec.Tag.snapshotMetadata.rawValue)
        w.u64(1)
        w.u64(1)
        w.u32(2)
        w.u64(2)
        w.u64(1) // Not ascending.
        w.u32(0)
        w.u32(0)
        #expect(throws: RaftCodecError.invalidValue(field: "membership.voters")) { try RaftCodec.decodeSnapshotMetadata(w.bytes) }
        var v = CodecWriter()
        v.u8(RaftCodec.version)
        v.u8(RaftCodec.Tag.snapshotMetadata.rawValue)
        v.u64(1)
        v.u64(1)
        v.u32(1)
        v.u64(5)
        v.u32(0)
        v.u32(1)
        v.u64(5)
        #expect(throws: RaftCodecError.invalidValue(field: "membership.overlap")) { try RaftCodec.decodeSnapshotMetadata(v.bytes) }
    }

    /// Seeded random mutation: at least 50,000 mutated inputs per decoder; none may trap, and
    /// whatever decodes must re-encode to a canonical form that decodes to the same value.
    @Test func randomMutationsNeverTrap() {
        var rng = SplitMix64(seed: 0x5EED)
        let seeds: [[UInt8]] = Self.sampleMessages().map { RaftCodec.encode($0) }
        let entrySeeds = [RaftCodec.encode(ent(1, 2, "payload")), RaftCodec.encode(Entry(term: Term(1), index: LogIndex(1), kind: .membershipChange, data: [0, 0, 0, 0, 0, 0, 0, 0, 4]))]
        let hsSeeds = [RaftCodec.encode(HardState(term: Term(5), vote: nid(2), commit: LogIndex(4)))]
        let metaSeeds = [RaftCodec.encode(Self.snapshot.metadata)]
        let snapSeeds = [RaftCodec.encode(Self.snapshot)]
        let iterations = 50_000
        var decoded = [0, 0, 0, 0, 0]
        for _ in 0..<iterations {
            if let m = try? RaftCodec.decodeMessage(mutate(seeds, &rng)) {
                decoded[0] += 1
                #expect((try? RaftCodec.decodeMessage(RaftCodec.encode(m))) == m)
            }
            if let e = try? RaftCodec.decodeEntry(mutate(entrySeeds, &rng)) {
                decoded[1] += 1
                #expect((try? RaftCodec.decodeEntry(RaftCodec.encode(e))) == e)
            }
            if (try? RaftCodec.decodeHardState(mutate(hsSeeds, &rng))) != nil { decoded[2] += 1 }
            if (try? RaftCodec.decodeSnapshotMetadata(mutate(metaSeeds, &rng))) != nil { decoded[3] += 1 }
            if (try? RaftCodec.decodeSnapshot(mutate(snapSeeds, &rng))) != nil { decoded[4] += 1 }
        }
        // Some mutations (e.g. of an integer field) stay valid; most do not.
        #expect(decoded.allSatisfy { $0 > 0 && $0 < iterations })
    }

    private func mutate(_ seeds: [[UInt8]], _ rng: inout SplitMix64) -> [UInt8] {
        var b = seeds[Int(rng.next() % UInt64(seeds.count))]
        let ops = 1 + Int(rng.next() % 4)
        for _ in 0..<ops {
            switch rng.next() % 6 {
            case 0 where !b.isEmpty: b[Int(rng.next() % UInt64(b.count))] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8))
            case 1 where !b.isEmpty: b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
            case 2 where !b.isEmpty: b.removeLast(Int(rng.next() % UInt64(b.count)) + 1)
            case 3: b.append(UInt8(truncatingIfNeeded: rng.next()))
            case 4 where !b.isEmpty: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(b.count)))
            case 5 where b.count > 4:
                let at = Int(rng.next() % UInt64(b.count - 4))
                for i in 0..<4 { b[at + i] = 0xFF }
            default: break
            }
        }
        return b
    }
}

/// Quorum arithmetic against a naive oracle.
@Suite struct QuorumTests {
    /// Oracle: the largest index N such that more than half the voters have match ≥ N.
    func naiveCommitIndex(_ matches: [UInt64]) -> UInt64 {
        let candidates = Set(matches + [0]).sorted(by: >)
        for n in candidates where matches.filter({ $0 >= n }).count * 2 > matches.count { return n }
        return 0
    }

    @Test func committedIndexMatchesNaiveOracle() {
        var rng = SplitMix64(seed: 2026)
        for _ in 0..<20_000 {
            let count = 1 + Int(rng.next() % 9)
            let voters = (1...count).map { NodeID(UInt64($0)) }
            var match: [NodeID: LogIndex] = [:]
            for v in voters where rng.next() % 5 != 0 { match[v] = LogIndex(rng.next() % 12) }
            let got = Quorum.committedIndex(voters: voters) { match[$0] }
            let oracle = naiveCommitIndex(voters.map { match[$0]?.rawValue ?? 0 })
            #expect(got.rawValue == oracle)
        }
    }

    @Test func voteResultMatchesNaiveOracle() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let count = 1 + Int(rng.next() % 9)
            let voters = (1...count).map { NodeID(UInt64($0)) }
            var votes: [NodeID: Bool] = [:]
            for v in voters {
                switch rng.next() % 3 {
                case 0: votes[v] = true
                case 1: votes[v] = false
                default: break
                }
            }
            let yes = votes.values.filter { $0 }.count
            let no = votes.values.filter { !$0 }.count
            let expected: VoteResult = yes * 2 > count ? .won : (no * 2 >= count ? .lost : .pending)
            #expect(Quorum.voteResult(voters: voters, votes: votes) == expected)
        }
    }

    @Test func emptyVoterSetConventions() {
        #expect(Quorum.committedIndex(voters: []) { _ in nil } == LogIndex(UInt64.max))
        #expect(Quorum.voteResult(voters: [], votes: [:]) == .won)
    }
}
