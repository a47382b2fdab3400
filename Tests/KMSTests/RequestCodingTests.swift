import Testing
@testable import KMS

/// The binary forms a follower forwards to the leader: write requests, principals and errors.
@Suite("Request, principal and error coding")
struct RequestCodingTests {
    static let longText = String(repeating: "ü", count: 20_000)

    /// Every case of `KMSWriteRequest`, with empty, non-ASCII, extreme and absent values.
    static let requests: [KMSWriteRequest] = [
        .createKey(CreateKeyRequest()),
        .createKey(CreateKeyRequest(
            description: "", policy: #"{"Version":"2012-10-17","Statement":[]}"#, keyUsage: "ENCRYPT_DECRYPT",
            keySpec: "SYMMETRIC_DEFAULT", origin: "AWS_KMS",
            tags: [Tag(key: "team", value: "payments"), Tag(key: "", value: ""), Tag(key: "ключ", value: "🔑\u{0}")],
            bypassPolicyLockoutSafetyCheck: true)),
        .createKey(CreateKeyRequest(description: "only a description", keySpec: "", tags: [Tag(key: "k", value: "v")])),
        .updateKeyDescription(keyID: "1234abcd-12ab-34cd-56ef-1234567890ab", description: ""),
        .updateKeyDescription(keyID: "", description: "naïve — description"),
        .enableKey(keyID: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        .disableKey(keyID: "alias/app"),
        .scheduleKeyDeletion(keyID: "k", pendingWindowInDays: nil),
        .scheduleKeyDeletion(keyID: "k", pendingWindowInDays: 7),
        .scheduleKeyDeletion(keyID: "k", pendingWindowInDays: 0),
        .scheduleKeyDeletion(keyID: "k", pendingWindowInDays: -1),
        .scheduleKeyDeletion(keyID: "k", pendingWindowInDays: Int.min),
        .cancelKeyDeletion(keyID: "k"),
        .createAlias(aliasName: "alias/app", targetKeyID: "k"),
        .updateAlias(aliasName: "alias/app", targetKeyID: ""),
        .deleteAlias(aliasName: "alias/ünïcode"),
        .enableKeyRotation(keyID: "k", rotationPeriodInDays: nil),
        .enableKeyRotation(keyID: "k", rotationPeriodInDays: 365),
        .enableKeyRotation(keyID: "k", rotationPeriodInDays: Int.max),
        .disableKeyRotation(keyID: "k"),
        .rotateKeyOnDemand(keyID: "k"),
        .putKeyPolicy(keyID: "k", policyName: nil, policy: "{}", bypassPolicyLockoutSafetyCheck: false),
        .putKeyPolicy(keyID: "k", policyName: "default", policy: "", bypassPolicyLockoutSafetyCheck: true),
    ]

    static let principals: [Principal] = [
        Principal(arn: "arn:aws:iam::111122223333:user/alice", accountID: "111122223333"),
        Principal(arn: "", accountID: "", identityActions: []),
        Principal(arn: "arn:aws:iam::111122223333:role/ops", accountID: "111122223333",
                  identityActions: ["kms:Decrypt", "kms:Describe*", ""]),
    ]

    static var errors: [KMSError] {
        KMSError.Code.allCases.map { KMSError($0, "message for \($0.rawValue) — ünïcode") }
            + [KMSError(.notFound, ""), .missingKeyVersion(), .validation(["a", "b"])]
    }

    /// A valid encoding, with the decoder that reads it.
    struct Sample {
        let name: String
        let bytes: [UInt8]
        let decode: ([UInt8]) throws(KMSDecodingError) -> Void
    }

    /// Every sample above encoded: small enough to check every prefix of.
    static var samples: [Sample] {
        requests.map { request in
            Sample(name: "\(request)", bytes: request.encoded()) { bytes throws(KMSDecodingError) in
                _ = try KMSWriteRequest(decoding: bytes)
            }
        } + principals.map { principal in
            Sample(name: "\(principal)", bytes: principal.encoded()) { bytes throws(KMSDecodingError) in
                _ = try Principal(decoding: bytes)
            }
        } + errors.map { error in
            Sample(name: "\(error)", bytes: error.encoded()) { bytes throws(KMSDecodingError) in
                _ = try KMSError(decoding: bytes)
            }
        }
    }

    @Test("every write request case round-trips")
    func requestsRoundTrip() throws {
        #expect(Set(Self.requests.map(\.action)).count == 13, "a KMSWriteRequest case has no sample")
        for request in Self.requests {
            #expect(try KMSWriteRequest(decoding: request.encoded()) == request)
        }
    }

    @Test("long and many values round-trip")
    func largeValuesRoundTrip() throws {
        let tags = (0..<500).map { Tag(key: "key-\($0)", value: String(Self.longText.prefix($0))) }
        let requests: [KMSWriteRequest] = [
            .createKey(CreateKeyRequest(description: Self.longText, policy: Self.longText, tags: tags)),
            .putKeyPolicy(keyID: Self.longText, policyName: Self.longText, policy: Self.longText,
                          bypassPolicyLockoutSafetyCheck: false),
        ]
        for request in requests {
            #expect(try KMSWriteRequest(decoding: request.encoded()) == request)
        }
        let principal = Principal(arn: Self.longText, accountID: "1", identityActions: tags.map(\.key))
        #expect(try Principal(decoding: principal.encoded()) == principal)
    }

    @Test("principals round-trip")
    func principalsRoundTrip() throws {
        for principal in Self.principals {
            #expect(try Principal(decoding: principal.encoded()) == principal)
        }
    }

    @Test("every error code round-trips, and a missing key version stays stale-state")
    func errorsRoundTrip() throws {
        for error in Self.errors {
            let decoded = try KMSError(decoding: error.encoded())
            #expect(decoded == error)
            #expect(decoded.mayReflectStaleState == error.mayReflectStaleState)
        }
        #expect(try KMSError(decoding: KMSError.missingKeyVersion().encoded()).mayReflectStaleState)
        let lookalike = KMSError(.invalidCiphertext, KMSError.missingKeyVersion().message)
        #expect(try KMSError(decoding: lookalike.encoded()) == lookalike)
        #expect(try !KMSError(decoding: lookalike.encoded()).mayReflectStaleState)
    }

    @Test("the layout is pinned: version, tag, length-prefixed UTF-8")
    func layout() {
        #expect(KMSWriteRequest.enableKey(keyID: "k").encoded() == [1, 3, 0, 0, 0, 1, 0x6B])
        #expect(KMSWriteRequest.scheduleKeyDeletion(keyID: "", pendingWindowInDays: -2).encoded()
            == [1, 5, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE])
        #expect(KMSWriteRequest.scheduleKeyDeletion(keyID: "", pendingWindowInDays: nil).encoded() == [1, 5, 0, 0, 0, 0, 0])
        #expect(Principal(arn: "a", accountID: "", identityActions: []).encoded()
            == [1, 0, 0, 0, 1, 0x61, 0, 0, 0, 0, 0, 0, 0, 0])
        var w = ByteWriter()
        w.u8(1)
        w.string("ConflictException")
        w.string("m")
        w.bool(false)
        #expect(KMSError(.conflict, "m").encoded() == w.bytes)
    }

    @Test("every truncation of a valid encoding throws")
    func truncationsThrow() {
        var checked = 0
        for sample in Self.samples {
            for length in 0..<sample.bytes.count {
                #expect(throws: KMSDecodingError.self, "\(sample.name) cut to \(length) bytes") {
                    try sample.decode(Array(sample.bytes.prefix(length)))
                }
                checked += 1
            }
        }
        #expect(checked > 1_000)
    }

    @Test("a trailing byte throws")
    func trailingByteThrows() {
        for sample in Self.samples {
            for extra: UInt8 in [0, 1, 0xFF] {
                #expect(throws: KMSDecodingError.trailingBytes(count: 1), "\(sample.name) + \(extra)") {
                    try sample.decode(sample.bytes + [extra])
                }
            }
        }
    }

    @Test("an unknown version, tag or error code throws")
    func unknownValuesThrow() {
        let enable = KMSWriteRequest.enableKey(keyID: "k").encoded()
        #expect(throws: KMSDecodingError.unknownVersion(2)) { try KMSWriteRequest(decoding: [2] + enable.dropFirst()) }
        #expect(throws: KMSDecodingError.unknownVersion(0)) { try Principal(decoding: [0] + Self.principals[0].encoded().dropFirst()) }
        #expect(throws: KMSDecodingError.unknownVersion(9)) { try KMSError(decoding: [9] + Self.errors[0].encoded().dropFirst()) }
        for tag: UInt8 in [0, 14, 0xFF] {
            var bytes = enable
            bytes[1] = tag
            #expect(throws: KMSDecodingError.unknownTag(tag)) { try KMSWriteRequest(decoding: bytes) }
        }
        var w = ByteWriter()
        w.u8(KMSError.encodingVersion)
        w.string("notFoundException")
        w.string("m")
        w.bool(false)
        #expect(throws: KMSDecodingError.invalidValue(field: "error code", value: 0)) { try KMSError(decoding: w.bytes) }
    }

    @Test("a bool other than 0 or 1 throws, and so does a forged stale-state flag")
    func invalidFlagsThrow() {
        var bypass = KMSWriteRequest.putKeyPolicy(keyID: "", policyName: nil, policy: "", bypassPolicyLockoutSafetyCheck: true)
            .encoded()
        bypass[bypass.count - 1] = 2
        #expect(throws: KMSDecodingError.invalidValue(field: "bool", value: 2)) { try KMSWriteRequest(decoding: bypass) }
        var days = KMSWriteRequest.scheduleKeyDeletion(keyID: "", pendingWindowInDays: nil).encoded()
        days[days.count - 1] = 0xFF
        #expect(throws: KMSDecodingError.invalidValue(field: "bool", value: 0xFF)) { try KMSWriteRequest(decoding: days) }
        var forged = KMSError(.invalidCiphertext, "other").encoded()
        forged[forged.count - 1] = 1
        #expect(throws: KMSDecodingError.invalidValue(field: "error namesMissingState", value: 1)) {
            try KMSError(decoding: forged)
        }
    }

    @Test("lengths and counts are bounded before anything is allocated")
    func lengthsBounded() {
        var longString = ByteWriter()
        longString.u8(KMSWriteRequest.encodingVersion)
        longString.u8(3)
        longString.u32(UInt32(ByteReader.blobBytesMax + 1))
        #expect(throws: KMSDecodingError.oversized(offset: 6, bytes: ByteReader.blobBytesMax + 1)) {
            try KMSWriteRequest(decoding: longString.bytes)
        }
        var hugeTags = ByteWriter()
        hugeTags.u8(KMSWriteRequest.encodingVersion)
        hugeTags.u8(1)
        for _ in 0..<5 { hugeTags.bool(false) }
        hugeTags.u32(UInt32.max)
        #expect(throws: KMSDecodingError.oversized(offset: 11, bytes: Int(UInt32.max))) {
            try KMSWriteRequest(decoding: hugeTags.bytes)
        }
        var moreTagsThanBytes = ByteWriter()
        moreTagsThanBytes.u8(KMSWriteRequest.encodingVersion)
        moreTagsThanBytes.u8(1)
        for _ in 0..<5 { moreTagsThanBytes.bool(false) }
        moreTagsThanBytes.u32(1_000)
        moreTagsThanBytes.u32(0)
        moreTagsThanBytes.u32(0)
        moreTagsThanBytes.bool(false)
        #expect(throws: KMSDecodingError.truncated(offset: 11)) { try KMSWriteRequest(decoding: moreTagsThanBytes.bytes) }
        var hugeActions = ByteWriter()
        hugeActions.u8(Principal.encodingVersion)
        hugeActions.string("a")
        hugeActions.string("b")
        hugeActions.u32(UInt32(Principal.identityActionsCountMax + 1))
        #expect(throws: KMSDecodingError.oversized(offset: 15, bytes: Principal.identityActionsCountMax + 1)) {
            try Principal(decoding: hugeActions.bytes)
        }
    }

    @Test("invalid UTF-8 in a string throws")
    func invalidUTF8Throws() {
        var bytes = KMSWriteRequest.deleteAlias(aliasName: "ab").encoded()
        bytes[bytes.count - 1] = 0xC3
        #expect(throws: KMSDecodingError.invalidUTF8(offset: bytes.count)) { try KMSWriteRequest(decoding: bytes) }
    }
}
