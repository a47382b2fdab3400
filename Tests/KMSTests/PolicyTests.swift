import Testing
import KeyraftCrypto
import KeyraftCryptoDeterministic
@testable import KMS

@Suite("Key policies")
struct PolicyTests {
    let alice = Principal(arn: "arn:aws:iam::111122223333:user/alice", accountID: "111122223333")
    let outsider = Principal(arn: "arn:aws:iam::444455556666:user/eve", accountID: "444455556666")
    let readOnly = Principal(arn: "arn:aws:iam::111122223333:user/ro", accountID: "111122223333",
                             identityActions: ["kms:Describe*", "kms:List*"])

    func policy(_ statements: String) -> String { #"{"Version":"2012-10-17","Statement":["# + statements + "]}" }

    let adminStatement = #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"}"#

    @Test("the default policy grants the account root: callers of the account with identity permission")
    func defaultPolicy() throws {
        let h = Harness()
        let id = try h.createKey()
        #expect(try h.encrypt(id, "x", as: alice).count > 0)
        #expect(code { try h.encrypt(id, "x", as: outsider) } == .accessDenied)
        #expect(try h.service.describeKey(id, principal: readOnly).keyID == id)
        #expect(code { try h.encrypt(id, "x", as: readOnly) } == .accessDenied)
        #expect(code { try h.createKey(as: readOnly) } == .accessDenied)
        let text = message { try h.encrypt(id, "x", as: outsider) } ?? ""
        #expect(text.hasPrefix("User: arn:aws:iam::444455556666:user/eve is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:"))
    }

    @Test("an explicit Deny beats any Allow; a named principal needs no identity permission")
    func denyBeatsAllow() throws {
        let h = Harness()
        let id = try h.createKey()
        let document = policy(adminStatement + "," +
            #"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/ro"]},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"},"# +
            #"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}},"# +
            #"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}"#)
        try h.write(.putKeyPolicy(keyID: id, policyName: "default", policy: document, bypassPolicyLockoutSafetyCheck: false))
        let blob = try h.encrypt(id, "x", as: readOnly)
        #expect(try h.decrypt(blob, as: readOnly) == "x")
        #expect(try h.encrypt(id, "x", as: alice).count > 0)
        #expect(code { try h.decrypt(blob, as: alice) } == .accessDenied)
        #expect(message { try h.decrypt(blob, as: alice) }?.hasSuffix("with an explicit deny in a resource-based policy") == true)
        #expect(code { try h.encrypt(id, "x", as: outsider) } == .accessDenied)
    }

    @Test("conditions on the encryption context: StringEquals, StringNotEquals, StringLike, action wildcards")
    func contextConditions() throws {
        let h = Harness()
        let id = try h.createKey()
        let document = policy(adminStatement + "," +
            #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Encrypt*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}},"# +
            #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringLike":{"kms:EncryptionContext:path":"/shared/*"},"StringNotEquals":{"kms:EncryptionContext:tenant":"evil"}}}"#)
        try h.write(.putKeyPolicy(keyID: id, policyName: nil, policy: document, bypassPolicyLockoutSafetyCheck: false))
        #expect(try h.encrypt(id, "x", context: ["tenant": "acme"], as: alice).count > 0)
        #expect(code { try h.encrypt(id, "x", context: ["tenant": "other"], as: alice) } == .accessDenied)
        #expect(code { try h.encrypt(id, "x", as: alice) } == .accessDenied)
        let shared = try h.encrypt(id, "s", context: ["path": "/shared/a/b"])
        #expect(try h.decrypt(shared, context: ["path": "/shared/a/b"], as: alice) == "s")
        let evil = try h.encrypt(id, "s", context: ["path": "/shared/x", "tenant": "evil"])
        #expect(code { try h.decrypt(evil, context: ["path": "/shared/x", "tenant": "evil"], as: alice) } == .accessDenied)
        let private_ = try h.encrypt(id, "p", context: ["path": "/private/x"])
        #expect(code { try h.decrypt(private_, context: ["path": "/private/x"], as: alice) } == .accessDenied)
    }

    @Test("PutKeyPolicy: lockout safety check, bypass, malformed documents, 32 KB limit; Get and List")
    func putPolicy() throws {
        let h = Harness()
        let id = try h.createKey()
        let lockout = policy(#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}"#)
        #expect(message { try h.write(.putKeyPolicy(keyID: id, policyName: nil, policy: lockout, bypassPolicyLockoutSafetyCheck: false)) }
                == "The new key policy will not allow you to update the key policy in the future.")
        try h.write(.putKeyPolicy(keyID: id, policyName: nil, policy: lockout, bypassPolicyLockoutSafetyCheck: true))
        #expect(code { try h.encrypt(id, "x") } == .accessDenied)
        #expect(try h.service.getKeyPolicy(id, policyName: "default", principal: alice) == lockout)
        #expect(try h.service.listKeyPolicies(id, principal: alice) == ["default"])
        #expect(code { try h.service.getKeyPolicy(id, policyName: "other", principal: alice) } == .notFound)
        for bad in ["", "not json", "[]", #"{"Statement":[]}"#, #"{"Version":"2019-01-01","Statement":[]}"#,
                    policy(#"{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}"#),
                    policy(#"{"Effect":"Allow","Principal":"*","Action":"kms:*"}"#),
                    policy(#"{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*"}"#),
                    policy(#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NumericLessThan":{"a":"1"}}}"#)] {
            #expect(code { try h.write(.putKeyPolicy(keyID: id, policyName: nil, policy: bad, bypassPolicyLockoutSafetyCheck: true), as: alice) }
                    == .malformedPolicyDocument, "\(bad)")
        }
        let huge = policy(adminStatement + String(repeating: " ", count: 33_000))
        #expect(code { try h.write(.putKeyPolicy(keyID: id, policyName: nil, policy: huge, bypassPolicyLockoutSafetyCheck: true), as: alice) } == .validation)
        #expect(code { try h.write(.putKeyPolicy(keyID: id, policyName: "x", policy: lockout, bypassPolicyLockoutSafetyCheck: true), as: alice) } == .validation)
        #expect(code { try h.createKey(CreateKeyRequest(policy: lockout)) } == .malformedPolicyDocument)
    }

    @Test("a policy with a condition key Keyraft cannot evaluate is refused, not silently ignored")
    func unsupportedConditionKeys() throws {
        let h = Harness()
        let id = try h.createKey()
        let document = policy(adminStatement + "," +
            #"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}"#)
        #expect(code { try h.write(.putKeyPolicy(keyID: id, policyName: nil, policy: document, bypassPolicyLockoutSafetyCheck: false)) }
                == .malformedPolicyDocument)
        #expect(code { try h.createKey(CreateKeyRequest(policy: document)) } == .malformedPolicyDocument)
        #expect(KeyPolicy.isSupportedConditionKey("kms:encryptioncontext:tenant"))
        #expect(!KeyPolicy.isSupportedConditionKey("kms:encryptioncontext:"))
    }

    @Test("glob matching")
    func glob() {
        #expect(globMatch("kms:*", "kms:Decrypt", caseInsensitive: true))
        #expect(globMatch("kms:Gen*Key", "kms:GenerateDataKey", caseInsensitive: true))
        #expect(globMatch("kms:decrypt", "kms:Decrypt", caseInsensitive: true))
        #expect(!globMatch("kms:decrypt", "kms:Decrypt", caseInsensitive: false))
        #expect(globMatch("a?c", "abc", caseInsensitive: false))
        #expect(!globMatch("a?c", "ac", caseInsensitive: false))
        #expect(globMatch("*", "", caseInsensitive: false))
        #expect(!globMatch("kms:Encrypt", "kms:EncryptX", caseInsensitive: true))
    }
}

@Suite("Commands and snapshots")
struct ReplicationTests {
    /// A workload that touches every command kind.
    func workload(_ h: Harness) throws {
        let a = try h.createKey(CreateKeyRequest(description: "a", tags: [Tag(key: "team", value: "pay")]))
        let b = try h.createKey()
        try h.write(.createAlias(aliasName: "alias/a", targetKeyID: a))
        try h.write(.createAlias(aliasName: "alias/b", targetKeyID: b))
        try h.write(.updateAlias(aliasName: "alias/b", targetKeyID: a))
        try h.write(.updateKeyDescription(keyID: b, description: "b"))
        try h.write(.enableKeyRotation(keyID: a, rotationPeriodInDays: 90))
        try h.write(.rotateKeyOnDemand(keyID: a))
        try h.write(.disableKey(keyID: b))
        try h.write(.enableKey(keyID: b))
        try h.write(.putKeyPolicy(keyID: b, policyName: nil, policy: KeyPolicy.defaultDocument(h.service.config),
                                  bypassPolicyLockoutSafetyCheck: false))
        try h.write(.scheduleKeyDeletion(keyID: b, pendingWindowInDays: 7))
        try h.write(.cancelKeyDeletion(keyID: b))
        try h.write(.disableKeyRotation(keyID: a))
        try h.write(.enableKeyRotation(keyID: a, rotationPeriodInDays: 90))
        let c = try h.createKey()
        try h.write(.deleteAlias(aliasName: "alias/a"))
        try h.write(.scheduleKeyDeletion(keyID: c, pendingWindowInDays: 7))
        h.advance(days: 100)
        _ = try h.runScheduler()
    }

    @Test("applying the same log gives equal state and byte-identical snapshots; restore round-trips")
    func deterministicReplicas() throws {
        let leader = Harness(seed: 11)
        try workload(leader)
        let follower = KMSService(config: KMSConfig(), rootKey: leader.rootKey)
        for command in leader.log { _ = follower.apply(command) }
        #expect(follower.state == leader.service.state)
        let snapshot = leader.service.snapshot()
        #expect(follower.snapshot() == snapshot)
        let restored = KMSService(config: KMSConfig(), rootKey: leader.rootKey)
        try restored.restore(snapshot: snapshot)
        #expect(restored.state == leader.service.state)
        #expect(restored.snapshot() == snapshot)
        let kinds = Set(leader.log.map { "\($0)".prefix(while: { $0 != "(" }) })
        #expect(kinds.count == 14, "the workload covers every command kind: \(kinds.sorted())")
    }

    @Test("snapshots and log entries hold no plaintext key material")
    func noPlaintextMaterial() throws {
        let h = Harness(seed: 12)
        try workload(h)
        let snapshot = h.service.snapshot()
        let entries = h.log.flatMap { $0.encoded() }
        for (id, versions) in h.service.state.versions {
            for version in versions {
                let material = try KeyWrap.unwrap(version.wrappedMaterial, under: h.rootKey).withUnsafeBytes { Array($0) }
                #expect(!contains(snapshot, material), "snapshot holds plaintext of \(id) v\(version.version)")
                #expect(!contains(entries, material), "log holds plaintext of \(id) v\(version.version)")
            }
        }
    }

    @Test("command and snapshot decoding is strict: truncation, trailing bytes, unknown versions and random mutations")
    func strictDecoding() throws {
        let h = Harness(seed: 13)
        try workload(h)
        for command in h.log {
            let bytes = command.encoded()
            #expect(try KMSCommand(decoding: bytes) == command)
            #expect(throws: KMSDecodingError.self) { try KMSCommand(decoding: Array(bytes.dropLast())) }
            #expect(throws: KMSDecodingError.trailingBytes(count: 1)) { try KMSCommand(decoding: bytes + [0]) }
            #expect(throws: KMSDecodingError.unknownVersion(9)) { try KMSCommand(decoding: [9] + bytes.dropFirst()) }
        }
        #expect(throws: KMSDecodingError.unknownTag(99)) { try KMSCommand(decoding: [1, 99]) }
        let snapshot = h.service.snapshot()
        #expect(throws: KMSDecodingError.self) { try KMSState(restoring: Array(snapshot.dropLast())) }
        #expect(throws: KMSDecodingError.self) { try KMSState(restoring: snapshot + [0]) }
        // Random mutations never trap; whatever decodes re-encodes to itself.
        let rng = h.entropy
        var decoded = 0
        for i in 0..<20_000 {
            var bytes = i % 2 == 0 ? h.log[i % h.log.count].encoded() : snapshot
            let position = Int(rng.next() % UInt64(bytes.count))
            bytes[position] = UInt8(truncatingIfNeeded: rng.next())
            if rng.next() % 3 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
            if i % 2 == 0, let command = try? KMSCommand(decoding: bytes) {
                decoded += 1
                #expect(command.encoded() == bytes)
            } else if i % 2 == 1, let state = try? KMSState(restoring: bytes) {
                decoded += 1
                #expect(state.snapshot() == bytes)
            }
        }
        print("KMS decoding mutations: 20000 inputs, \(decoded) decoded and re-encoded identically, the rest rejected")
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}
