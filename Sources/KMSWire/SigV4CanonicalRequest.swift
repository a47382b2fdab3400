import KeyraftCrypto

/// Builds the SigV4 canonical request: method, canonical URI, canonical query, canonical
/// headers, signed header list and payload hash, one per line.
enum SigV4CanonicalRequest {
    private static let newline = UInt8(ascii: "\n")

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
        String(decoding: bytes(request, signedHeaderNames: signedHeaderNames, payloadHash: payloadHash,
                               normalizesPath: normalizesPath),
               as: UTF8.self)
    }

    /// `build` as UTF-8 bytes, written into one buffer: this runs for every request the
    /// server verifies and every request a client signs.
    static func bytes(
        _ request: SigV4Request,
        signedHeaderNames: [String],
        payloadHash: String,
        normalizesPath: Bool
    ) -> [UInt8] {
        assert(zip(signedHeaderNames, signedHeaderNames.dropFirst()).allSatisfy { SigV4Text.precedes($0, $1) },
               "signed header names must be sorted and unique")
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out.append(contentsOf: request.method.utf8)
        out.append(newline)
        if request.path == "/" {
            out.append(UInt8(ascii: "/")) // the one path KMS requests use: canonical as it is
        } else {
            out.append(contentsOf: SigV4CanonicalURI.canonical(path: request.path, normalizesPath: normalizesPath).utf8)
        }
        out.append(newline)
        if !request.query.isEmpty {
            out.append(contentsOf: SigV4CanonicalQuery.canonical(query: request.query).utf8)
        }
        out.append(newline)
        // Bounded: names and headers are both within SigV4Limits.headerCountMax.
        for name in signedHeaderNames {
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: ":"))
            var first = true
            for header in request.headers where SigV4Text.equalsLowercased(header.name, name) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                SigV4Text.appendCollapsed(header.value, to: &out)
            }
            out.append(newline)
        }
        out.append(newline)
        for (index, name) in signedHeaderNames.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ";")) }
            out.append(contentsOf: name.utf8)
        }
        out.append(newline)
        out.append(contentsOf: payloadHash.utf8)
        return out
    }

    /// Lowercase hex SHA-256 of `body`: the payload hash line.
    static func payloadHash(_ body: [UInt8]) -> String {
        SigV4Text.hex(SHA256.hash(body))
    }

    /// Lowercase, sorted, unique names of `headers`.
    static func sortedNames(_ headers: [SigV4Request.Header]) -> [String] {
        Set(headers.map { SigV4Text.lowercasedASCII($0.name) }).sorted(by: SigV4Text.precedes)
    }
}
