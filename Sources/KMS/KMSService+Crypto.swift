import KeyraftCrypto

extension KMSService {
    public static let ciphertextBlobBytesMax = 6144
    public static let dataKeyBytesMax = 1024

    public func encrypt(keyID reference: String, plaintext: [UInt8], context: EncryptionContext = [:],
                        algorithm: String? = nil, principal: Principal,
                        entropy: some EntropySource) throws(KMSError) -> EncryptResponse {
        var failures: [String] = []
        Validate.length("plaintext", plaintext.count, 1...CiphertextBlob.ciphertextBytesMax, into: &failures)
        Validate.context(context, into: &failures)
        try Validate.check(failures)
        try Validate.algorithm(algorithm)
        let id = try state.resolveKey(reference)
        let blob = try seal(plaintext, id: id, context: context, action: "kms:Encrypt", principal: principal, entropy: entropy)
        return EncryptResponse(ciphertextBlob: blob, keyARN: config.keyARN(id))
    }

    public func decrypt(ciphertextBlob: [UInt8], keyID reference: String? = nil, context: EncryptionContext = [:],
                        algorithm: String? = nil, principal: Principal) throws(KMSError) -> DecryptResponse {
        try validateCiphertext(ciphertextBlob, context: context, field: "ciphertextBlob")
        try Validate.algorithm(algorithm)
        let (blob, plaintext) = try open(ciphertextBlob, expectedKey: reference, context: context,
                                         action: "kms:Decrypt", principal: principal)
        return DecryptResponse(plaintext: plaintext, keyARN: config.keyARN(blob.keyID), keyVersion: blob.keyVersion)
    }

    public func reEncrypt(ciphertextBlob: [UInt8], sourceKeyID: String? = nil, sourceContext: EncryptionContext = [:],
                          destinationKeyID: String, destinationContext: EncryptionContext = [:],
                          principal: Principal, entropy: some EntropySource) throws(KMSError) -> ReEncryptResponse {
        try validateCiphertext(ciphertextBlob, context: sourceContext, field: "ciphertextBlob")
        var failures: [String] = []
        Validate.context(destinationContext, field: "destinationEncryptionContext", into: &failures)
        try Validate.check(failures)
        let destination = try state.resolveKey(destinationKeyID, field: "destinationKeyId")
        let (source, plaintext) = try open(ciphertextBlob, expectedKey: sourceKeyID, context: sourceContext,
                                           action: "kms:ReEncryptFrom", principal: principal)
        let blob = try seal(plaintext, id: destination, context: destinationContext, action: "kms:ReEncryptTo",
                            principal: principal, entropy: entropy)
        return ReEncryptResponse(ciphertextBlob: blob, sourceKeyARN: config.keyARN(source.keyID),
                                 keyARN: config.keyARN(destination))
    }

    /// GenerateDataKey (`includePlaintext`) or GenerateDataKeyWithoutPlaintext.
    public func generateDataKey(keyID reference: String, keySpec: String?, numberOfBytes: Int?,
                                context: EncryptionContext = [:], includePlaintext: Bool, principal: Principal,
                                entropy: some EntropySource) throws(KMSError) -> GenerateDataKeyResponse {
        let count = try dataKeyLength(keySpec: keySpec, numberOfBytes: numberOfBytes)
        var failures: [String] = []
        Validate.context(context, into: &failures)
        try Validate.check(failures)
        let id = try state.resolveKey(reference)
        let action = includePlaintext ? "kms:GenerateDataKey" : "kms:GenerateDataKeyWithoutPlaintext"
        let dataKey = try drawBytes(count, entropy)
        let blob = try seal(dataKey, id: id, context: context, action: action, principal: principal, entropy: entropy)
        return GenerateDataKeyResponse(ciphertextBlob: blob, plaintext: includePlaintext ? dataKey : nil,
                                       keyARN: config.keyARN(id))
    }

    public func generateRandom(numberOfBytes: Int?, principal: Principal,
                               entropy: some EntropySource) throws(KMSError) -> [UInt8] {
        var failures: [String] = []
        Validate.value("numberOfBytes", numberOfBytes ?? 0, 1...KMSService.dataKeyBytesMax, into: &failures)
        try Validate.check(failures)
        try authorizeIdentity(principal, "kms:GenerateRandom")
        return try drawBytes(numberOfBytes!, entropy)
    }

    // MARK: Helpers

    private func seal(_ plaintext: [UInt8], id: KeyID, context: EncryptionContext, action: String,
                      principal: Principal, entropy: some EntropySource) throws(KMSError) -> [UInt8] {
        let key = try state.usableKey(id)
        try authorize(principal, action, id, context: context)
        let material = try material(id, key.currentVersion)
        do {
            return try CiphertextBlob.seal(plaintext, keyID: id, keyVersion: key.currentVersion, key: material,
                                          context: context, entropy: entropy).encoded()
        } catch {
            throw KMSError(.dependencyTimeout, "Encryption failed: \(error). Retry the request.")
        }
    }

    private func open(_ bytes: [UInt8], expectedKey: String?, context: EncryptionContext, action: String,
                      principal: Principal) throws(KMSError) -> (CiphertextBlob, [UInt8]) {
        let blob: CiphertextBlob
        do { blob = try CiphertextBlob(decoding: bytes) } catch {
            throw KMSError(.invalidCiphertext, "The ciphertext is not valid: \(error).")
        }
        if let expectedKey {
            let expected = try state.resolveKey(expectedKey)
            guard expected == blob.keyID else {
                throw KMSError(.incorrectKey, "The key ID in the request does not identify a key that can decrypt the ciphertext.")
            }
        }
        guard state.keys[blob.keyID] != nil else { throw .keyNotFound(config.keyARN(blob.keyID)) }
        _ = try state.usableKey(blob.keyID)
        try authorize(principal, action, blob.keyID, context: context)
        let material = try material(blob.keyID, blob.keyVersion)
        do {
            return (blob, try blob.open(key: material, context: context))
        } catch {
            throw KMSError(.invalidCiphertext, "The ciphertext or the encryption context is not valid for this key.")
        }
    }

    private func validateCiphertext(_ bytes: [UInt8], context: EncryptionContext, field: String) throws(KMSError) {
        var failures: [String] = []
        Validate.length(field, bytes.count, 1...KMSService.ciphertextBlobBytesMax, into: &failures)
        Validate.context(context, into: &failures)
        try Validate.check(failures)
    }

    private func dataKeyLength(keySpec: String?, numberOfBytes: Int?) throws(KMSError) -> Int {
        switch (keySpec, numberOfBytes) {
        case (nil, nil), (.some, .some):
            throw KMSError(.validation, "Please specify either number of bytes or key spec.")
        case let (nil, .some(count)):
            var failures: [String] = []
            Validate.value("numberOfBytes", count, 1...KMSService.dataKeyBytesMax, into: &failures)
            try Validate.check(failures)
            return count
        case let (.some(spec), nil):
            switch spec {
            case "AES_256": return 32
            case "AES_128": return 16
            default:
                throw KMSError.validation([KMSError.constraint("keySpec", "Member must satisfy enum value set: [AES_256, AES_128]")])
            }
        }
    }

    private func drawBytes(_ count: Int, _ entropy: some EntropySource) throws(KMSError) -> [UInt8] {
        do { return try entropy.bytes(count: count) } catch {
            throw KMSError(.dependencyTimeout, "The entropy source failed. Retry the request.")
        }
    }
}
