import COpenSSL

/// A folder of cluster certificates, as `keyraft certs` lays it out:
///
///     ca.pem  ca.key                  the cluster CA
///     node-<id>.pem  node-<id>.key    one pair per node
///     client-<name>.pem  client-<name>.key
///
/// Keys are PKCS #8 PEM with mode 0600, certificates PEM with mode 0644 (both less the
/// umask). An existing CA is reused, so nodes can be added later; existing node and client
/// files are replaced only when the caller asks.
public struct ClusterCertificates: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var authorityCertificatePath: String { path("ca.pem") }
    public var authorityKeyPath: String { path("ca.key") }

    public func nodeCertificatePath(nodeID: UInt64) -> String { path("node-\(nodeID).pem") }
    public func nodeKeyPath(nodeID: UInt64) -> String { path("node-\(nodeID).key") }

    /// `name` must be a valid client name (see `CertificateAuthority.issueClientCertificate`).
    public func clientCertificatePath(name: String) -> String { path("client-\(name).pem") }
    public func clientKeyPath(name: String) -> String { path("client-\(name).key") }

    /// The CA in `ca.pem` and `ca.key`.
    public func loadAuthority() throws(CertificateError) -> CertificateAuthority {
        try CertificateAuthority(
            certificate: Certificate(pemFile: authorityCertificatePath),
            privateKey: PrivateKey(pemFile: authorityKeyPath))
    }

    /// Loads the CA when both `ca.pem` and `ca.key` exist; when neither does, creates the
    /// folder (mode 0700) if needed and a new CA in it. `created` says which happened. When
    /// only one of the two files exists it throws rather than guess.
    public func loadOrCreateAuthority(
        commonName: String = CertificateAuthority.defaultCommonName,
        validity: CertificateValidity = .authority()
    ) throws(CertificateError) -> (authority: CertificateAuthority, created: Bool) {
        let haveCertificate = SecureFiles.exists(authorityCertificatePath)
        let haveKey = SecureFiles.exists(authorityKeyPath)
        switch (haveCertificate, haveKey) {
        case (true, true):
            return (try loadAuthority(), false)
        case (false, false):
            try SecureFiles.makeDirectory(directory)
            let authority = try CertificateAuthority.create(commonName: commonName, validity: validity)
            try write(authority.certificate, authority.privateKey,
                      certificatePath: authorityCertificatePath, keyPath: authorityKeyPath, overwrite: false)
            return (authority, true)
        case (true, false), (false, true):
            let missing = haveCertificate ? authorityKeyPath : authorityCertificatePath
            throw .unsupported("\(missing) is missing while its partner exists; restore it or remove both")
        }
    }

    /// Issues node `nodeID`'s certificate from `authority` and writes `node-<id>.pem` and
    /// `node-<id>.key`. Throws `fileExists` without writing anything if either file exists
    /// and `overwrite` is false.
    @discardableResult
    public func writeNodeCertificate(
        nodeID: UInt64,
        authority: CertificateAuthority,
        dnsNames: [String] = CertificateAuthority.defaultDNSNames,
        ipAddresses: [String] = CertificateAuthority.defaultIPAddresses,
        validity: CertificateValidity = .leaf(),
        overwrite: Bool = false
    ) throws(CertificateError) -> IssuedCertificate {
        guard nodeID >= 1 else { throw .invalidArgument("node ids start at 1") }
        let certificatePath = nodeCertificatePath(nodeID: nodeID), keyPath = nodeKeyPath(nodeID: nodeID)
        try refuseExisting([certificatePath, keyPath], overwrite: overwrite)
        let issued = try authority.issueNodeCertificate(
            nodeID: nodeID, dnsNames: dnsNames, ipAddresses: ipAddresses, validity: validity)
        try write(issued.certificate, issued.privateKey, certificatePath: certificatePath, keyPath: keyPath, overwrite: overwrite)
        return issued
    }

    /// Issues a client certificate for `name` and writes `client-<name>.pem` and
    /// `client-<name>.key`, with the same overwrite rule as node files.
    @discardableResult
    public func writeClientCertificate(
        name: String,
        authority: CertificateAuthority,
        validity: CertificateValidity = .leaf(),
        overwrite: Bool = false
    ) throws(CertificateError) -> IssuedCertificate {
        // Checked before the name is used in a path: it must not contain "/" or start with ".".
        try SubjectNames.checkClientName(name)
        let certificatePath = clientCertificatePath(name: name), keyPath = clientKeyPath(name: name)
        try refuseExisting([certificatePath, keyPath], overwrite: overwrite)
        let issued = try authority.issueClientCertificate(name: name, validity: validity)
        try write(issued.certificate, issued.privateKey, certificatePath: certificatePath, keyPath: keyPath, overwrite: overwrite)
        return issued
    }

    // MARK: - Internal

    private func path(_ file: String) -> String {
        directory.hasSuffix("/") ? directory + file : directory + "/" + file
    }

    private func refuseExisting(_ paths: [String], overwrite: Bool) throws(CertificateError) {
        guard !overwrite else { return }
        if let existing = paths.first(where: SecureFiles.exists) { throw .fileExists(path: existing) }
    }

    /// Writes the key (straight from libcrypto to the file descriptor, so the PEM text never
    /// passes through Swift memory) and the certificate, then moves both into place together.
    private func write(
        _ certificate: Certificate, _ key: PrivateKey, certificatePath: String, keyPath: String, overwrite: Bool
    ) throws(CertificateError) {
        let certificatePEM = Array(try certificate.pemRepresentation().utf8)
        let pendingKey = try SecureFiles.prepare(keyPath, mode: SecureFiles.privateKeyMode) { (descriptor) throws(CertificateError) in
            guard let bio = BIO_new_fd(descriptor, BIO_NOCLOSE) else { throw LibCrypto.failure("writing \(keyPath)") }
            defer { BIO_free(bio) }
            try key.writePEM(to: bio)
        }
        let pendingCertificate: SecureFiles.Pending
        do throws(CertificateError) {
            pendingCertificate = try SecureFiles.prepare(certificatePath, mode: SecureFiles.certificateMode) {
                (descriptor) throws(CertificateError) in
                try SecureFiles.writeAll(certificatePEM, to: descriptor, path: certificatePath)
            }
        } catch {
            SecureFiles.discard(pendingKey)
            throw error
        }
        // Key first: a reader that finds the certificate also finds its key.
        try SecureFiles.commit([pendingKey, pendingCertificate], replace: overwrite, directory: directory)
    }
}
