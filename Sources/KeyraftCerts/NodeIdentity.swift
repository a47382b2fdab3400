/// How a node's id is written into its certificate: subject common name
/// `keyraft-node-<id>`, and the same name as a DNS subject alternative name (the dialling
/// side of a peer link verifies it as the host name).
public enum NodeIdentity {
    public static let commonNamePrefix = "keyraft-node-"

    /// The common name of node `id`. `id` must be at least 1.
    public static func commonName(nodeID id: UInt64) -> String {
        precondition(id >= 1, "node ids start at 1")
        return commonNamePrefix + String(id)
    }

    /// The node id named by `commonName`, or nil unless it is exactly the prefix followed by
    /// the canonical decimal form of an id in 1...UInt64.max: ASCII digits only, no sign,
    /// no leading zero, no surrounding text. Every id has exactly one accepted spelling.
    public static func nodeID(fromCommonName commonName: String) -> UInt64? {
        let utf8 = Array(commonName.utf8)
        let prefix = Array(commonNamePrefix.utf8)
        guard utf8.count > prefix.count, utf8.starts(with: prefix) else { return nil }
        let digits = utf8[prefix.count...]
        let ascii0 = UInt8(ascii: "0"), ascii9 = UInt8(ascii: "9")
        guard digits.count <= 20, digits.allSatisfy({ ascii0 <= $0 && $0 <= ascii9 }), digits.first != ascii0 else {
            return nil
        }
        var value: UInt64 = 0
        for digit in digits {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit - ascii0))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        assert(value >= 1, "a non-empty digit string without a leading zero is at least 1")
        return value
    }

    /// The node id in a DER certificate's subject common name; nil when the certificate parses
    /// but does not name a node.
    public static func nodeID(ofCertificateDER der: [UInt8]) throws(CertificateError) -> UInt64? {
        nodeID(fromCommonName: try Certificate.commonName(ofCertificateDER: der))
    }
}
