/// The canonical query line of a SigV4 canonical request.
///
/// Each `&`-separated parameter is split at its first `=` (a missing `=` means an empty
/// value), percent-decoded and re-encoded with the AWS rules (only unreserved bytes stay
/// literal), then the pairs are sorted bytewise by encoded name and then encoded value.
/// `+` is not treated as a space: AWS clients send spaces as `%20`.
enum SigV4CanonicalQuery {
    private static let ampersand: UInt8 = 0x26
    private static let equals: UInt8 = 0x3D

    /// The canonical query string of the raw query `query` (without the leading `?`).
    static func canonical(query: String) -> String {
        var pairs: [(name: String, value: String)] = []
        // Bounded: at most one parameter per byte of `query`.
        for parameter in SigV4Text.split(query.utf8, at: ampersand) {
            let cut = parameter.firstIndex(of: equals) ?? parameter.endIndex
            let name = parameter[..<cut]
            let value = cut < parameter.endIndex ? parameter[(cut + 1)...] : []
            pairs.append((
                SigV4Text.uriEncode(SigV4Text.percentDecode(name), keepSlash: false),
                SigV4Text.uriEncode(SigV4Text.percentDecode(value), keepSlash: false)
            ))
        }
        pairs.sort { a, b in
            a.name == b.name ? SigV4Text.precedes(a.value, b.value) : SigV4Text.precedes(a.name, b.name)
        }
        return pairs.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }
}
