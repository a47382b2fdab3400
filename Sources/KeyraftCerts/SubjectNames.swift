#if canImport(Glibc)
import Glibc
#endif

/// Checks on the names that go into certificates.
///
/// The rules are strict on purpose: names end up in OpenSSL's comma-separated extension
/// syntax and in file names, and a lax rule there would be an injection.
enum SubjectNames {
    static let dnsNameBytesMax = 253
    static let dnsLabelBytesMax = 63
    /// RFC 5280's upper bound for a common name.
    static let commonNameBytesMax = 64
    /// Entries a node certificate's subject alternative name may carry.
    static let alternativeNamesMax = 64

    /// A host name: dot-separated labels of ASCII letters, digits and inner hyphens.
    static func checkDNSName(_ name: String) throws(CertificateError) {
        let bytes = Array(name.utf8)
        guard (1...dnsNameBytesMax).contains(bytes.count) else {
            throw .invalidArgument("a DNS name must be 1...\(dnsNameBytesMax) bytes")
        }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard (1...dnsLabelBytesMax).contains(label.count),
                  label.allSatisfy(isLetterDigitOrHyphen),
                  label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-")
            else { throw .invalidArgument("\"\(name)\" is not a valid DNS name") }
        }
    }

    /// The canonical text of an IPv4 or IPv6 address, or an error for anything else.
    static func canonicalIPAddress(_ text: String) throws(CertificateError) -> String {
        var storage = in6_addr()
        var output = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        for family in [AF_INET, AF_INET6] where inet_pton(family, text, &storage) == 1 {
            guard inet_ntop(family, &storage, &output, socklen_t(output.count)) != nil else { break }
            return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        throw .invalidArgument("\"\(text)\" is not an IPv4 or IPv6 address")
    }

    /// A client name: 1...64 of `A-Z a-z 0-9 . _ @ -`, not starting with `.` or `-`, and not
    /// in the node namespace. Client names are also used in file names (`client-<name>.pem`).
    ///
    /// The node prefix is refused because peer links identify a node by its common name
    /// alone: a client certificate named `keyraft-node-2` could otherwise dial in as node 2.
    static func checkClientName(_ name: String) throws(CertificateError) {
        let bytes = Array(name.utf8)
        guard (1...commonNameBytesMax).contains(bytes.count),
              bytes.allSatisfy({ isLetterDigitOrHyphen($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "@") }),
              bytes.first != UInt8(ascii: "."), bytes.first != UInt8(ascii: "-")
        else {
            throw .invalidArgument("a client name must be 1...\(commonNameBytesMax) of A-Z a-z 0-9 . _ @ - and not start with . or -")
        }
        guard !name.lowercased().hasPrefix(NodeIdentity.commonNamePrefix) else {
            throw .invalidArgument("client names may not start with \(NodeIdentity.commonNamePrefix)")
        }
    }

    /// The CA's common name: 1...64 bytes of printable text without control characters.
    static func checkAuthorityName(_ name: String) throws(CertificateError) {
        guard (1...commonNameBytesMax).contains(name.utf8.count),
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw .invalidArgument("a CA common name must be 1...\(commonNameBytesMax) bytes without control characters") }
    }

    private static func isLetterDigitOrHyphen(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
