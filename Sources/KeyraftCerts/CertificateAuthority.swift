import COpenSSL

/// A certificate and the private key that goes with it.
public struct IssuedCertificate: Sendable {
    public let certificate: Certificate
    public let privateKey: PrivateKey
}

/// The cluster's certificate authority: a self-signed P-256 CA that issues node and client
/// certificates (ECDSA with SHA-256, X.509 v3, random 16-byte serials).
public struct CertificateAuthority: Sendable {
    /// Invariant: a CA certificate (basicConstraints CA:TRUE) whose public key is `privateKey`'s.
    public let certificate: Certificate
    public let privateKey: PrivateKey

    public static let defaultCommonName = "Keyraft cluster CA"
    public static let defaultDNSNames = ["localhost"]
    public static let defaultIPAddresses = ["127.0.0.1"]

    /// Creates a new CA with a fresh key: basicConstraints CA:TRUE with pathlen 0 (it issues
    /// leaves only) and keyUsage keyCertSign + cRLSign, both critical, and a subject key id.
    public static func create(
        commonName: String = defaultCommonName, validity: CertificateValidity = .authority()
    ) throws(CertificateError) -> CertificateAuthority {
        try SubjectNames.checkAuthorityName(commonName)
        let key = try PrivateKey.generateP256()
        let template = CertificateTemplate(commonName: commonName, validity: validity, extensions: [
            (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
            (NID_key_usage, "critical,keyCertSign,cRLSign"),
            (NID_subject_key_identifier, "hash"),
        ])
        let certificate = try CertificateSigner.sign(template, subjectKey: key, issuer: nil, issuerKey: key)
        return try CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// An existing CA. Throws unless the certificate is a CA certificate and the key is its key.
    public init(certificate: Certificate, privateKey: PrivateKey) throws(CertificateError) {
        try Certificate.withParsed(certificate.derBytes) { (x509) throws(CertificateError) in
            guard X509_check_ca(x509) == 1 else {
                throw .unsupported("the CA certificate lacks basicConstraints CA:TRUE")
            }
            guard X509_check_private_key(x509, privateKey.pointer) == 1 else {
                ERR_clear_error()
                throw .unsupported("the CA private key does not match the CA certificate")
            }
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// An existing CA from PEM texts (`BEGIN CERTIFICATE`, and `BEGIN PRIVATE KEY` or
    /// `BEGIN EC PRIVATE KEY`, unencrypted).
    public init(certificatePEM: String, privateKeyPEM: String) throws(CertificateError) {
        try self.init(certificate: Certificate(pem: certificatePEM), privateKey: PrivateKey(pem: privateKeyPEM))
    }

    /// A certificate for node `nodeID` with a fresh key.
    ///
    /// Subject CN `keyraft-node-<id>`; subjectAltName holds DNS `keyraft-node-<id>` (the name
    /// a dialling peer verifies), then `dnsNames` and `ipAddresses` (what HTTPS clients such
    /// as boto3 verify). extendedKeyUsage serverAuth + clientAuth, since peer links use one
    /// certificate in both directions; keyUsage digitalSignature and basicConstraints CA:FALSE,
    /// both critical.
    public func issueNodeCertificate(
        nodeID: UInt64,
        dnsNames: [String] = CertificateAuthority.defaultDNSNames,
        ipAddresses: [String] = CertificateAuthority.defaultIPAddresses,
        validity: CertificateValidity = .leaf()
    ) throws(CertificateError) -> IssuedCertificate {
        guard nodeID >= 1 else { throw .invalidArgument("node ids start at 1") }
        let commonName = NodeIdentity.commonName(nodeID: nodeID)
        let alternativeNames = try Self.alternativeNames(nodeName: commonName, dnsNames: dnsNames, ipAddresses: ipAddresses)
        return try issue(commonName: commonName, validity: validity, extensions: [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature"),
            (NID_ext_key_usage, "serverAuth,clientAuth"),
            (NID_subject_key_identifier, "hash"),
            (NID_authority_key_identifier, "keyid,issuer"),
            (NID_subject_alt_name, alternativeNames),
        ])
    }

    /// A client certificate with a fresh key: subject CN `name`, extendedKeyUsage clientAuth.
    /// `name` is 1...64 of `A-Z a-z 0-9 . _ @ -` and may not start with `keyraft-node-`.
    public func issueClientCertificate(
        name: String, validity: CertificateValidity = .leaf()
    ) throws(CertificateError) -> IssuedCertificate {
        try SubjectNames.checkClientName(name)
        return try issue(commonName: name, validity: validity, extensions: [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature"),
            (NID_ext_key_usage, "clientAuth"),
            (NID_subject_key_identifier, "hash"),
            (NID_authority_key_identifier, "keyid,issuer"),
        ])
    }

    private func issue(
        commonName: String, validity: CertificateValidity, extensions: [(nid: Int32, value: String)]
    ) throws(CertificateError) -> IssuedCertificate {
        let key = try PrivateKey.generateP256()
        let template = CertificateTemplate(commonName: commonName, validity: validity, extensions: extensions)
        let signed = try Certificate.withParsed(certificate.derBytes) { (issuer) throws(CertificateError) in
            try CertificateSigner.sign(template, subjectKey: key, issuer: issuer, issuerKey: privateKey)
        }
        return IssuedCertificate(certificate: signed, privateKey: key)
    }

    /// The subjectAltName value, e.g. `DNS:keyraft-node-1,DNS:localhost,IP:127.0.0.1`.
    /// Every name is checked first, so no caller text can add syntax.
    static func alternativeNames(
        nodeName: String, dnsNames: [String], ipAddresses: [String]
    ) throws(CertificateError) -> String {
        var entries = ["DNS:" + nodeName]
        for name in dnsNames {
            try SubjectNames.checkDNSName(name)
            // Another node's name here would let this node answer a dial meant for that one.
            let lowered = name.lowercased()
            guard !lowered.hasPrefix(NodeIdentity.commonNamePrefix) || lowered == nodeName else {
                throw .invalidArgument("DNS name \(name) is in the node namespace but is not this node's name")
            }
            entries.append("DNS:" + lowered)
        }
        for address in ipAddresses {
            entries.append("IP:" + (try SubjectNames.canonicalIPAddress(address)))
        }
        var seen = Set<String>()
        entries = entries.filter { seen.insert($0).inserted }
        guard entries.count <= SubjectNames.alternativeNamesMax else {
            throw .invalidArgument("at most \(SubjectNames.alternativeNamesMax) subject alternative names")
        }
        return entries.joined(separator: ",")
    }
}
