import Testing
import KeyraftCrypto
@testable import KMS

@Suite("Key lifecycle")
struct KeyLifecycleTests {
    @Test("CreateKey then DescribeKey returns AWS-shaped metadata")
    func createDescribe() throws {
        let h = Harness()
        let id = try h.createKey(CreateKeyRequest(description: "orders"))
        let m = try h.service.describeKey(id, principal: h.admin)
        #expect(m.arn == "arn:aws:kms:us-east-1:111122223333:key/\(id)")
        #expect(m.keyState == .enabled && m.enabled && m.description == "orders")
        #expect(m.creationDate == h.now && m.deletionDate == nil)
        #expect(KeyID(id) != nil)
        #expect(try h.service.getKeyPolicy(id, policyName: nil, principal: h.admin) == KeyPolicy.defaultDocument(h.service.config))
    }

    @Test("CreateKey refuses unsupported specs, usages and origins, and over-long descriptions")
    func createKeyErrors() {
        let h = Harness()
        #expect(code { try h.createKey(CreateKeyRequest(keySpec: "RSA_2048")) } == .unsupportedOperation)
        #expect(code { try h.createKey(CreateKeyRequest(keyUsage: "SIGN_VERIFY")) } == .validation)
        #expect(code { try h.createKey(CreateKeyRequest(origin: "EXTERNAL")) } == .unsupportedOperation)
        #expect(message { try h.createKey(CreateKeyRequest(description: String(repeating: "x", count: 8193))) }
                == "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192")
    }

    @Test("every KeyId form resolves: id, key ARN, alias name, alias ARN")
    func keyReferences() throws {
        let h = Harness()
        let id = try h.createKey()
        try h.write(.createAlias(aliasName: "alias/orders", targetKeyID: id))
        let arn = "arn:aws:kms:us-east-1:111122223333:key/\(id)"
        for reference in [id, arn, "alias/orders", "arn:aws:kms:us-east-1:111122223333:alias/orders"] {
            #expect(try h.service.describeKey(reference, principal: h.admin).keyID == id)
        }
        #expect(code { try h.service.describeKey("alias/missing", principal: h.admin) } == .notFound)
        #expect(code { try h.service.describeKey("1234abcd-1234-4abc-8def-0123456789ab", principal: h.admin) } == .notFound)
        #expect(code { try h.service.describeKey("arn:aws:kms:eu-west-1:111122223333:key/\(id)", principal: h.admin) } == .notFound)
        #expect(code { try h.service.describeKey("arn:aws:s3:::bucket", principal: h.admin) } == .invalidArn)
        #expect(code { try h.service.describeKey("", principal: h.admin) } == .validation)
    }

    @Test("ListKeys pages with Limit and Marker in id order")
    func listKeys() throws {
        let h = Harness()
        var ids: [String] = []
        for _ in 0..<5 { ids.append(try h.createKey()) }
        let first = try h.service.listKeys(limit: 2, marker: nil, principal: h.admin)
        #expect(first.keys.count == 2 && first.truncated)
        let second = try h.service.listKeys(limit: 2, marker: first.nextMarker, principal: h.admin)
        let third = try h.service.listKeys(limit: 2, marker: second.nextMarker, principal: h.admin)
        #expect(third.keys.count == 1 && !third.truncated)
        let all = (first.keys + second.keys + third.keys).map(\.keyID)
        #expect(all == ids.sorted())
        #expect(try h.service.listKeys(limit: nil, marker: nil, principal: h.admin).keys.count == 5)
        #expect(code { try h.service.listKeys(limit: 0, marker: nil, principal: h.admin) } == .validation)
        #expect(code { try h.service.listKeys(limit: 1001, marker: nil, principal: h.admin) } == .validation)
        #expect(code { try h.service.listKeys(limit: 1, marker: "bogus", principal: h.admin) } == .invalidMarker)
    }

    @Test("EnableKey, DisableKey and UpdateKeyDescription; a disabled key refuses cryptography")
    func enableDisable() throws {
        let h = Harness()
        let id = try h.createKey()
        let blob = try h.encrypt(id, "secret")
        try h.write(.disableKey(keyID: id))
        #expect(try h.service.describeKey(id, principal: h.admin).keyState == .disabled)
        #expect(code { try h.encrypt(id, "x") } == .disabled)
        #expect(code { try h.decrypt(blob) } == .disabled)
        #expect(code { try h.write(.rotateKeyOnDemand(keyID: id)) } == .disabled)
        #expect(code { try h.write(.enableKeyRotation(keyID: id, rotationPeriodInDays: nil)) } == .disabled)
        try h.write(.updateKeyDescription(keyID: id, description: "still editable"))
        try h.write(.enableKey(keyID: id))
        #expect(try h.decrypt(blob) == "secret")
        #expect(try h.service.describeKey(id, principal: h.admin).description == "still editable")
    }

    @Test("ScheduleKeyDeletion: 7–30 day window, PendingDeletion refuses use, CancelKeyDeletion returns to Disabled")
    func scheduleCancel() throws {
        let h = Harness()
        let id = try h.createKey()
        #expect(message { try h.write(.scheduleKeyDeletion(keyID: id, pendingWindowInDays: 6)) }
                == "1 validation error detected: Value at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7")
        #expect(code { try h.write(.scheduleKeyDeletion(keyID: id, pendingWindowInDays: 31)) } == .validation)
        guard case let .scheduledDeletion(arn, date, state, window) = try h.write(.scheduleKeyDeletion(keyID: id, pendingWindowInDays: nil)) else {
            Issue.record("ScheduleKeyDeletion returns its deletion date")
            return
        }
        #expect(arn.hasSuffix(id) && state == .pendingDeletion && window == 30 && date == h.now.adding(days: 30))
        #expect(code { try h.encrypt(id, "x") } == .invalidState)
        #expect(code { try h.write(.enableKey(keyID: id)) } == .invalidState)
        #expect(code { try h.write(.disableKey(keyID: id)) } == .invalidState)
        #expect(code { try h.write(.scheduleKeyDeletion(keyID: id, pendingWindowInDays: 7)) } == .invalidState)
        #expect(try h.service.describeKey(id, principal: h.admin).deletionDate == date)
        try h.write(.cancelKeyDeletion(keyID: id))
        let m = try h.service.describeKey(id, principal: h.admin)
        #expect(m.keyState == .disabled && m.deletionDate == nil)
        #expect(code { try h.write(.cancelKeyDeletion(keyID: id)) } == .invalidState)
    }

    @Test("at the end of the window the scheduler deletes the key, its versions, aliases and cached material")
    func cryptoShredding() throws {
        let h = Harness()
        let id = try h.createKey()
        let keyID = KeyID(id)!
        try h.write(.createAlias(aliasName: "alias/doomed", targetKeyID: id))
        let blob = try h.encrypt(id, "gone soon")
        #expect(h.service.hasCachedMaterial(keyID))
        try h.write(.scheduleKeyDeletion(keyID: id, pendingWindowInDays: 7))
        h.advance(days: 6)
        #expect(try h.runScheduler().isEmpty)
        h.advance(days: 1)
        #expect(try h.runScheduler() == [.deleteKey(keyID, at: h.now)])
        #expect(h.service.state.keys[keyID] == nil && h.service.state.versions[keyID] == nil)
        #expect(h.service.state.aliases.isEmpty)
        #expect(!h.service.hasCachedMaterial(keyID))
        #expect(code { try h.decrypt(blob) } == .notFound)
        #expect(code { try h.service.describeKey(id, principal: h.admin) } == .notFound)
        // A stale deletion (the key was cancelled meanwhile) is refused at apply time.
        let other = try h.createKey()
        try h.write(.scheduleKeyDeletion(keyID: other, pendingWindowInDays: 7))
        h.advance(days: 8)
        let due = h.service.dueMaintenance(now: h.now, entropy: h.entropy, limit: 10)
        try h.write(.cancelKeyDeletion(keyID: other))
        #expect(code { try h.applyLogged(due[0]) } == .conflict)
        #expect(try h.service.describeKey(other, principal: h.admin).keyState == .disabled)
    }

    @Test("a sealed node replicates but refuses cryptography and key creation with a retryable error")
    func sealed() throws {
        let h = Harness()
        let id = try h.createKey()
        let blob = try h.encrypt(id, "x")
        let follower = KMSService(config: KMSConfig(), rootKey: nil)
        for command in h.log { #expect(throws: Never.self) { try follower.apply(command).get() } }
        #expect(follower.isSealed)
        #expect(code { try follower.decrypt(ciphertextBlob: blob, principal: h.admin) } == .dependencyTimeout)
        #expect(code { try follower.prepare(.createKey(CreateKeyRequest()), principal: h.admin, now: h.now, entropy: h.entropy) } == .dependencyTimeout)
        #expect(try follower.describeKey(id, principal: h.admin).keyState == .enabled)
        follower.unseal(rootKey: h.rootKey)
        #expect(String(decoding: try follower.decrypt(ciphertextBlob: blob, principal: h.admin).plaintext, as: UTF8.self) == "x")
    }
}

@Suite("Aliases")
struct AliasTests {
    @Test("CreateAlias, UpdateAlias, DeleteAlias, ListAliases, and their errors")
    func aliases() throws {
        let h = Harness()
        let a = try h.createKey()
        let b = try h.createKey()
        try h.write(.createAlias(aliasName: "alias/app", targetKeyID: a))
        #expect(code { try h.write(.createAlias(aliasName: "alias/app", targetKeyID: b)) } == .alreadyExists)
        #expect(code { try h.write(.createAlias(aliasName: "alias/aws/s3", targetKeyID: b)) } == .invalidAliasName)
        #expect(code { try h.write(.createAlias(aliasName: "app", targetKeyID: b)) } == .invalidAliasName)
        #expect(code { try h.write(.createAlias(aliasName: "alias/sp ace", targetKeyID: b)) } == .invalidAliasName)
        #expect(code { try h.write(.createAlias(aliasName: "alias/" + String(repeating: "a", count: 251), targetKeyID: b)) } == .validation)
        #expect(code { try h.write(.createAlias(aliasName: "alias/x", targetKeyID: "alias/app")) } == .validation)
        #expect(code { try h.write(.createAlias(aliasName: "alias/x", targetKeyID: "1234abcd-1234-4abc-8def-0123456789ab")) } == .notFound)
        try h.write(.createAlias(aliasName: "alias/b-1", targetKeyID: b))
        try h.write(.updateAlias(aliasName: "alias/app", targetKeyID: b))
        #expect(try h.service.describeKey("alias/app", principal: h.admin).keyID == b)
        #expect(code { try h.write(.updateAlias(aliasName: "alias/none", targetKeyID: b)) } == .notFound)
        let all = try h.service.listAliases(keyID: nil, limit: nil, marker: nil, principal: h.admin)
        #expect(all.aliases.map(\.aliasName) == ["alias/app", "alias/b-1"])
        #expect(all.aliases[0].aliasARN == "arn:aws:kms:us-east-1:111122223333:alias/app")
        #expect(try h.service.listAliases(keyID: a, limit: nil, marker: nil, principal: h.admin).aliases.isEmpty)
        let page = try h.service.listAliases(keyID: b, limit: 1, marker: nil, principal: h.admin)
        #expect(page.aliases.count == 1 && page.nextMarker == "alias/b-1")
        #expect(try h.service.listAliases(keyID: b, limit: 1, marker: page.nextMarker, principal: h.admin).aliases.map(\.aliasName) == ["alias/b-1"])
        #expect(code { try h.service.listAliases(keyID: nil, limit: nil, marker: "zzz", principal: h.admin) } == .invalidMarker)
        try h.write(.deleteAlias(aliasName: "alias/app"))
        #expect(code { try h.write(.deleteAlias(aliasName: "alias/app")) } == .notFound)
        try h.write(.scheduleKeyDeletion(keyID: a, pendingWindowInDays: 7))
        #expect(code { try h.write(.createAlias(aliasName: "alias/late", targetKeyID: a)) } == .invalidState)
    }

    @Test("at most 50 aliases per key")
    func aliasLimit() throws {
        let h = Harness()
        let id = try h.createKey()
        for i in 0..<50 { try h.write(.createAlias(aliasName: "alias/a\(i)", targetKeyID: id)) }
        #expect(code { try h.write(.createAlias(aliasName: "alias/a50", targetKeyID: id)) } == .limitExceeded)
        try h.write(.deleteAlias(aliasName: "alias/a0"))
        try h.write(.createAlias(aliasName: "alias/a50", targetKeyID: id))
    }
}
