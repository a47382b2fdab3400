import KMS
import RaftCore
import Testing
@testable import KeyraftNode

/// The binary form of what nodes send each other: every case round-trips, and no input —
/// truncated, extended or randomly mutated — crashes the decoder or decodes ambiguously.
@Suite("Peer message codec")
struct PeerMessageCodecTests {
    /// SplitMix64: a small deterministic generator, so a failure names its seed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let seed: UInt64 = 0x5045_4552_434F_4445
    static let mutationsMax = 20_000

    static let principal = Principal(arn: "arn:aws:iam::111122223333:user/alice", accountID: "111122223333",
                                     identityActions: ["kms:*", "kms:Decrypt"])
    static let origin = RequestOrigin(node: NodeID(2), incarnation: 0xDEAD_BEEF_0000_0001, sequence: 41)

    static let append = Message(
        type: .append, from: NodeID(1), to: NodeID(3), term: Term(7), logTerm: Term(6), index: LogIndex(40),
        entries: [
            Entry(term: Term(6), index: LogIndex(41), data: Array("create key".utf8)),
            Entry(term: Term(7), index: LogIndex(42)),
            Entry(term: Term(7), index: LogIndex(43), kind: .membershipChange, data: [0, 1, 2, 0xFF]),
        ],
        commit: LogIndex(39))

    static let snapshot = Message(
        type: .snapshot, from: NodeID(1), to: NodeID(4), term: Term(9),
        snapshot: Snapshot(
            metadata: SnapshotMetadata(index: LogIndex(1_000), term: Term(8),
                                       membership: Membership(voters: [NodeID(1), NodeID(2), NodeID(3)],
                                                              learners: [NodeID(4)],
                                                              outgoingVoters: [NodeID(1), NodeID(2), NodeID(5)])),
            data: Array(0..<200).map { UInt8($0) }))

    static let messages: [PeerMessage] = [
        .raft(append),
        .raft(snapshot),
        .raft(Message(type: .heartbeat, from: NodeID(1), to: NodeID(2), term: Term(3), commit: LogIndex(5),
                      context: Array("read-7".utf8))),
        .raft(Message(type: .appendResponse, from: NodeID(2), to: NodeID(1), term: Term(3), index: LogIndex(9),
                      reject: true, rejectHint: LogIndex(4))),
        .forward(ForwardedWrite(
            origin: origin,
            request: .createKey(CreateKeyRequest(description: "d", policy: nil, keyUsage: "ENCRYPT_DECRYPT",
                                                 tags: [Tag(key: "team", value: "pay")],
                                                 bypassPolicyLockoutSafetyCheck: true)),
            principal: principal)),
        .forward(ForwardedWrite(
            origin: RequestOrigin(node: NodeID(UInt64.max), incarnation: 0, sequence: UInt64.max),
            request: .scheduleKeyDeletion(keyID: "alias/ü", pendingWindowInDays: -3),
            principal: Principal(arn: "", accountID: "", identityActions: []))),
        .forwardFailed(origin: origin, error: KMSError(
            .dependencyTimeout, "The leader has too many forwarded writes in flight. Retry later.")),
        .forwardFailed(origin: origin, error: KMSError(.notFound, "")),
    ]

    @Test("every case round-trips")
    func roundTrip() throws {
        for message in Self.messages {
            let bytes = PeerMessageCodec.encode(message)
            #expect(bytes.first == PeerMessageCodec.version)
            #expect(try PeerMessageCodec.decode(bytes) == message, "\(message)")
        }
        guard case let .raft(append)? = try? PeerMessageCodec.decode(PeerMessageCodec.encode(.raft(Self.append))) else {
            Issue.record("the append did not decode as a raft message")
            return
        }
        #expect(append.entries.count == 3)
        #expect(append.entries[2].kind == .membershipChange)
    }

    @Test("the layout is pinned: version, tag, body")
    func layout() {
        #expect(PeerMessageCodec.encode(.raft(Self.append)) == [1, 1] + RaftCodec.encode(Self.append))
        let failure = KMSError(.conflict, "c")
        let origin = RequestOrigin(node: NodeID(1), incarnation: 2, sequence: 3)
        let error = failure.encoded()
        #expect(PeerMessageCodec.encode(.forwardFailed(origin: origin, error: failure))
            == [1, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3,
                0, 0, 0, UInt8(error.count)] + error)
    }

    @Test("every truncation throws, and so does a trailing byte")
    func truncationAndTrailing() {
        for message in Self.messages {
            let bytes = PeerMessageCodec.encode(message)
            for length in 0..<bytes.count {
                #expect(throws: PeerMessageCodecError.self, "\(message) cut to \(length)") {
                    try PeerMessageCodec.decode(Array(bytes.prefix(length)))
                }
            }
            #expect(throws: PeerMessageCodecError.self, "\(message) + 1 byte") {
                try PeerMessageCodec.decode(bytes + [0])
            }
        }
        let forward = PeerMessageCodec.encode(Self.messages[4])
        #expect(throws: PeerMessageCodecError.trailingBytes(count: 1)) { try PeerMessageCodec.decode(forward + [7]) }
        let raft = PeerMessageCodec.encode(Self.messages[2])
        #expect(throws: PeerMessageCodecError.raft(.trailingBytes(count: 2))) { try PeerMessageCodec.decode(raft + [7, 7]) }
    }

    @Test("unknown versions and tags, node 0 and over-long parts throw")
    func invalidHeaders() {
        let bytes = PeerMessageCodec.encode(Self.messages[6])
        #expect(throws: PeerMessageCodecError.unsupportedVersion(2)) { try PeerMessageCodec.decode([2] + bytes.dropFirst()) }
        for tag: UInt8 in [0, 4, 0xFF] {
            var tagged = bytes
            tagged[1] = tag
            #expect(throws: PeerMessageCodecError.unknownTag(tag)) { try PeerMessageCodec.decode(tagged) }
        }
        var nodeZero = bytes
        nodeZero.replaceSubrange(2..<10, with: [UInt8](repeating: 0, count: 8))
        #expect(throws: PeerMessageCodecError.invalidValue(field: "origin.node")) { try PeerMessageCodec.decode(nodeZero) }
        var long = bytes
        long.replaceSubrange(26..<30, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: PeerMessageCodecError.lengthExceeded(
            field: "error", length: Int(UInt32.max), maxLength: PeerMessageCodec.kmsPartBytesMax)) {
            try PeerMessageCodec.decode(long)
        }
        var badCode = bytes
        badCode[35] ^= 0x20
        #expect(throws: PeerMessageCodecError.kms(field: "error", .invalidValue(field: "error code", value: 0))) {
            try PeerMessageCodec.decode(badCode)
        }
        #expect(throws: PeerMessageCodecError.raft(.truncated)) { try PeerMessageCodec.decode([1, 1]) }
    }

    @Test("errors describe themselves")
    func descriptions() {
        let errors: [PeerMessageCodecError] = [
            .truncated(offset: 3), .unsupportedVersion(9), .unknownTag(7), .invalidValue(field: "origin.node"),
            .lengthExceeded(field: "request", length: 9, maxLength: 8), .trailingBytes(count: 2),
            .raft(.truncated), .kms(field: "request", .unknownTag(99)),
        ]
        let descriptions = errors.map(\.description)
        #expect(Set(descriptions).count == errors.count)
        #expect(descriptions[0] == "peer message truncated at byte 3")
        #expect(descriptions[7] == "invalid request: unknown command tag 99")
    }

    @Test("20,000 seeded mutations never crash, and what decodes re-encodes to the same bytes")
    func mutations() {
        var generator = SplitMix64(state: Self.seed)
        let encodings = Self.messages.map(PeerMessageCodec.encode)
        var decoded = 0
        var refused = 0
        for iteration in 0..<Self.mutationsMax {
            var bytes = encodings[iteration % encodings.count]
            let edits = Int.random(in: 1...3, using: &generator)
            for _ in 0..<edits { Self.mutate(&bytes, using: &generator) }
            do {
                let message = try PeerMessageCodec.decode(bytes)
                decoded += 1
                let again = PeerMessageCodec.encode(message)
                if again != bytes {
                    Issue.record("seed \(Self.seed) iteration \(iteration): decoded \(message) but re-encodes differently")
                    return
                }
            } catch {
                refused += 1
            }
        }
        // Both outcomes must occur, or the mutations do not exercise the decoder.
        #expect(decoded > 1_000, "seed \(Self.seed): only \(decoded) mutations decoded")
        #expect(refused > 1_000, "seed \(Self.seed): only \(refused) mutations refused")
    }

    /// One random edit: a flipped bit, a replaced, inserted or removed byte, a truncation,
    /// or a 4-byte window overwritten with a value that is interesting as a length.
    static func mutate(_ bytes: inout [UInt8], using generator: inout SplitMix64) {
        guard !bytes.isEmpty else {
            bytes.append(UInt8.random(in: 0...UInt8.max, using: &generator))
            return
        }
        let at = Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
        case 1: bytes[at] = UInt8.random(in: 0...UInt8.max, using: &generator)
        case 2: bytes.insert(UInt8.random(in: 0...UInt8.max, using: &generator), at: at)
        case 3: bytes.remove(at: at)
        case 4: bytes.removeLast(bytes.count - at)
        default:
            let lengths: [UInt32] = [0, 1, 2, 8, 21, 0xFF, 0x1_0000, 0x7FFF_FFFF, UInt32.max]
            let value = lengths[Int.random(in: 0..<lengths.count, using: &generator)]
            for i in 0..<4 where at + i < bytes.count {
                bytes[at + i] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * i))
            }
        }
    }
}
