/// Resolves the `KeyId` input of any operation: key id, key ARN, alias name or alias ARN.
extension KMSState {
    public static let keyReferenceBytesMax = 2048

    public func resolveKey(_ reference: String, field: String = "keyId") throws(KMSError) -> KeyID {
        let length = reference.utf8.count
        guard length >= 1 else {
            throw KMSError.validation([KMSError.constraint(field, "Member must have length greater than or equal to 1")])
        }
        guard length <= KMSState.keyReferenceBytesMax else {
            throw KMSError.validation([KMSError.constraint(
                field, "Member must have length less than or equal to \(KMSState.keyReferenceBytesMax)")])
        }
        if reference.hasPrefix("alias/") { return try aliasTarget(reference, shownAs: reference) }
        if reference.hasPrefix("arn:") { return try resolveARN(reference) }
        guard let id = KeyID(reference), keys[id] != nil else { throw .keyNotFound(reference) }
        return id
    }

    private func resolveARN(_ arn: String) throws(KMSError) -> KeyID {
        // arn:aws:kms:<region>:<account>:key/<id> or ...:alias/<name>
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[1] == "aws", parts[2] == "kms", !parts[3].isEmpty, !parts[4].isEmpty else {
            throw KMSError(.invalidArn, "ARN \(arn) is not a valid KMS key or alias ARN.")
        }
        guard parts[3] == config.region, parts[4] == config.accountID else { throw .keyNotFound(arn) }
        let resource = parts[5]
        if resource.hasPrefix("key/") {
            guard let id = KeyID(resource.dropFirst(4)), keys[id] != nil else { throw .keyNotFound(arn) }
            return id
        }
        if resource.hasPrefix("alias/") { return try aliasTarget(String(resource), shownAs: arn) }
        throw KMSError(.invalidArn, "ARN \(arn) is not a valid KMS key or alias ARN.")
    }

    private func aliasTarget(_ name: String, shownAs: String) throws(KMSError) -> KeyID {
        guard let alias = aliases[name] else { throw KMSError(.notFound, "Alias \(config.aliasARN(name)) is not found.") }
        assert(keys[alias.targetKeyID] != nil, "an alias always points at an existing key")
        return alias.targetKeyID
    }
}
