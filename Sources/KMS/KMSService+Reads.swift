extension KMSService {
    public func describeKey(_ reference: String, principal: Principal) throws(KMSError) -> KeyMetadata {
        let id = try state.resolveKey(reference)
        try authorize(principal, "kms:DescribeKey", id)
        return metadata(state.keys[id]!)
    }

    /// Keys in ascending id order. `NextMarker` is the id of the first key not returned.
    public func listKeys(limit: Int?, marker: String?, principal: Principal) throws(KMSError) -> ListKeysResponse {
        var failures: [String] = []
        let limit = Validate.limit(limit, into: &failures)
        try Validate.check(failures)
        try authorizeIdentity(principal, "kms:ListKeys")
        var start = 0
        if let marker {
            guard let from = KeyID(marker) else { throw KMSError(.invalidMarker, "The marker \(marker) is not valid.") }
            start = state.sortedKeyIDs.partitioningIndex { !($0 < from) }
        }
        let end = min(start + limit, state.sortedKeyIDs.count)
        let page = state.sortedKeyIDs[start..<end]
        let next = end < state.sortedKeyIDs.count ? state.sortedKeyIDs[end].description : nil
        return ListKeysResponse(keys: page.map { ($0.description, config.keyARN($0)) }, nextMarker: next)
    }

    /// Aliases in ascending name order, optionally only those of one key.
    public func listAliases(keyID reference: String?, limit: Int?, marker: String?,
                            principal: Principal) throws(KMSError) -> ListAliasesResponse {
        var failures: [String] = []
        let limit = Validate.limit(limit, into: &failures)
        try Validate.check(failures)
        var filter: KeyID?
        if let reference {
            let id = try state.resolveKey(reference)
            try authorize(principal, "kms:ListAliases", id)
            filter = id
        } else {
            try authorizeIdentity(principal, "kms:ListAliases")
        }
        if let marker, marker.isEmpty || !marker.hasPrefix("alias/") {
            throw KMSError(.invalidMarker, "The marker \(marker) is not valid.")
        }
        let names = state.aliases.keys.sorted().filter { name in
            (marker.map { name >= $0 } ?? true) && (filter.map { state.aliases[name]!.targetKeyID == $0 } ?? true)
        }
        let page = names.prefix(limit).map { name -> AliasListEntry in
            let alias = state.aliases[name]!
            return AliasListEntry(aliasName: name, aliasARN: config.aliasARN(name),
                                  targetKeyID: alias.targetKeyID.description,
                                  creationDate: alias.creationDate, lastUpdatedDate: alias.lastUpdatedDate)
        }
        return ListAliasesResponse(aliases: page, nextMarker: names.count > limit ? names[limit] : nil)
    }

    public func getKeyRotationStatus(_ reference: String, principal: Principal) throws(KMSError) -> KeyRotationStatus {
        let id = try state.resolveKey(reference)
        try authorize(principal, "kms:GetKeyRotationStatus", id)
        let key = state.keys[id]!
        return KeyRotationStatus(keyARN: config.keyARN(id), enabled: key.rotation.enabled,
                                 rotationPeriodInDays: key.rotation.enabled ? key.rotation.periodDays : nil,
                                 nextRotationDate: key.rotation.nextRotationDate,
                                 onDemandRotationStartDate: key.rotation.lastOnDemandDate)
    }

    /// Completed rotations (every version after the first), oldest first.
    /// `NextMarker` is the version number of the first rotation not returned.
    public func listKeyRotations(_ reference: String, limit: Int?, marker: String?,
                                 principal: Principal) throws(KMSError) -> ListKeyRotationsResponse {
        var failures: [String] = []
        let limit = Validate.limit(limit, into: &failures)
        try Validate.check(failures)
        let id = try state.resolveKey(reference)
        try authorize(principal, "kms:ListKeyRotations", id)
        let rotations = state.versions[id]!.dropFirst()
        var start = rotations.startIndex
        if let marker {
            guard let version = Int(marker), version >= 2 else {
                throw KMSError(.invalidMarker, "The marker \(marker) is not valid.")
            }
            start = min(max(version - 1, rotations.startIndex), rotations.endIndex)
        }
        let end = min(start + limit, rotations.endIndex)
        let page = rotations[start..<end].map {
            RotationListEntry(keyID: config.keyARN(id), rotationDate: $0.creationDate, rotationType: $0.rotationType)
        }
        let next = end < rotations.endIndex ? String(rotations[end].version.rawValue) : nil
        return ListKeyRotationsResponse(rotations: page, nextMarker: next)
    }

    public func getKeyPolicy(_ reference: String, policyName: String?, principal: Principal) throws(KMSError) -> String {
        if let policyName, policyName != "default" {
            throw KMSError(.notFound, "No such policy exists: \(policyName)")
        }
        let id = try state.resolveKey(reference)
        try authorize(principal, "kms:GetKeyPolicy", id)
        return state.keys[id]!.policy
    }

    public func listKeyPolicies(_ reference: String, principal: Principal) throws(KMSError) -> [String] {
        let id = try state.resolveKey(reference)
        try authorize(principal, "kms:ListKeyPolicies", id)
        return ["default"]
    }
}

extension Collection {
    /// The first index whose element satisfies `belongsInSecondPartition`, for a collection
    /// already partitioned by it (binary search).
    func partitioningIndex(where belongsInSecondPartition: (Element) -> Bool) -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let mid = index(low, offsetBy: half)
            if belongsInSecondPartition(self[mid]) {
                count = half
            } else {
                low = index(after: mid)
                count -= half + 1
            }
        }
        return low
    }
}
