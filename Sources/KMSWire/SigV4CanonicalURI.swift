/// The canonical URI line of a SigV4 canonical request.
///
/// For every service but S3, AWS normalises the path (RFC 3986 dot segments removed,
/// runs of `/` collapsed, a trailing `/` kept) and then URI-encodes the raw path once
/// more, so a `%` already on the wire becomes `%25`. botocore does the same
/// (`remove_dot_segments` then `quote(path, safe='/~')`).
enum SigV4CanonicalURI {
    private static let slash: UInt8 = 0x2F
    private static let dot: [UInt8] = [0x2E]
    private static let dotDot: [UInt8] = [0x2E, 0x2E]

    /// The canonical URI of the raw request path.
    static func canonical(path: String, normalizesPath: Bool) -> String {
        let source = Array((path.isEmpty ? "/" : path).utf8)
        let prepared = normalizesPath ? normalized(source) : source
        return SigV4Text.uriEncode(prepared, keepSlash: true)
    }

    /// `path` with `.` and `..` segments resolved and empty segments dropped.
    ///
    /// `..` above the root stays at the root. A leading `/` is kept if present; a trailing
    /// `/` is kept unless nothing but the root remains.
    static func normalized(_ path: [UInt8]) -> [UInt8] {
        var segments: [[UInt8]] = []
        // Bounded: `split` yields at most one segment per byte of `path`.
        for segment in SigV4Text.split(path, at: slash) {
            if segment == dot { continue }
            if segment == dotDot {
                if !segments.isEmpty { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        var out: [UInt8] = path.first == slash ? [slash] : []
        out.append(contentsOf: segments.joined(separator: [slash]))
        if path.last == slash && !segments.isEmpty { out.append(slash) }
        return out
    }
}
