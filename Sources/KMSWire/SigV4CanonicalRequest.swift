import KeyraftCrypto

/// Builds the SigV4 canonical request: method, canonical URI, canonical query, canonical
/// headers, signed header list and payload hash, one per line.
enum SigV4CanonicalRequest {
    /// The canonical request of `request` over the headers in `signedHeaderNames`.
    ///
    /// - Precondition: `signedHeaderNames` is lowercase, sorted bytewise and unique. A name
    ///   with no header in `request` contributes an empty value (the verifier rejects such
    ///   requests before getting here).
    static func build(
        _ request: SigV4Request,
        signedHeaderNames: [String],
        payloadHash: String,
        normalizesPath: Bool
    ) -> String {
        assert(zip(signedHeaderNames, signedHeaderNames.dropFirst()).allSatisfy { SigV4Text.precedes($0, $1) },
               "signed header names must be sorted and unique")
        var lines: [String] = [
            request.method,
            SigV4CanonicalURI.canonical(path: request.path, normalizesPath: normalizesPath),
            SigV4CanonicalQuery.canonical(query: request.query),
        ]
        let values = groupedValues(request.headers, names: Set(signedHeaderNames))
        for name in signedHeaderNames {
            lines.append(name + ":" + (values[name] ?? []).joined(separator: ","))
        }
        lines.append("")
        lines.append(signedHeaderNames.joined(separator: ";"))
        lines.append(payloadHash)
        return lines.joined(separator: "\n")
    }

    /// Lowercase hex SHA-256 of `body`: the payload hash line.
    static func payloadHash(_ body: [UInt8]) -> String {
        SigV4Text.hex(SHA256.hash(body))
    }

    /// Lowercase, sorted, unique names of `headers`.
    static func sortedNames(_ headers: [SigV4Request.Header]) -> [String] {
        Set(headers.map { SigV4Text.lowercasedASCII($0.name) }).sorted(by: SigV4Text.precedes)
    }

    /// For each lowercase name in `names`, its collapsed values in wire order.
    private static func groupedValues(_ headers: [SigV4Request.Header], names: Set<String>) -> [String: [String]] {
        var values: [String: [String]] = [:]
        for header in headers {
            let name = SigV4Text.lowercasedASCII(header.name)
            guard names.contains(name) else { continue }
            values[name, default: []].append(SigV4Text.collapsedHeaderValue(header.value))
        }
        return values
    }
}
