import COpenSSL

/// One certificate to sign: its subject, validity and v3 extensions.
struct CertificateTemplate {
    var commonName: String
    var validity: CertificateValidity
    /// Extensions in OpenSSL's configuration syntax (`"critical,CA:TRUE"`), added in order.
    /// Invariant: values come from this module's own constants and checked names only,
    /// never raw caller text, because commas and colons are syntax here.
    var extensions: [(nid: Int32, value: String)]
}

/// Builds and signs X.509 v3 certificates with ECDSA and SHA-256.
enum CertificateSigner {
    /// Random bytes in a serial number. The top bit is cleared (serials are positive) and the
    /// next one set (the DER integer is always 16 bytes long): 126 random bits.
    static let serialBytes = 16

    /// Signs `template` for `subjectKey`. `issuer` is the CA's certificate, or nil for a
    /// self-signed certificate, in which case `issuerKey` must be `subjectKey`.
    static func sign(
        _ template: CertificateTemplate, subjectKey: PrivateKey, issuer: OpaquePointer?, issuerKey: PrivateKey
    ) throws(CertificateError) -> Certificate {
        precondition(issuer != nil || subjectKey === issuerKey, "a self-signed certificate is signed by its own key")
        try template.validity.check()
        ERR_clear_error()
        guard let x509 = X509_new() else { throw LibCrypto.failure("X509_new") }
        defer { X509_free(x509) }
        guard X509_set_version(x509, Int(X509_VERSION_3)) == 1 else { throw LibCrypto.failure("setting the version") }
        try setSerialNumber(x509)
        try setValidity(x509, template.validity)
        try setSubject(x509, commonName: template.commonName)
        guard X509_set_issuer_name(x509, X509_get_subject_name(issuer ?? x509)) == 1 else {
            throw LibCrypto.failure("setting the issuer name")
        }
        guard X509_set_pubkey(x509, subjectKey.pointer) == 1 else { throw LibCrypto.failure("setting the public key") }
        // After the public key: subjectKeyIdentifier hashes it.
        try addExtensions(template.extensions, to: x509, issuer: issuer ?? x509)
        guard X509_sign(x509, issuerKey.pointer, EVP_sha256()) > 0 else { throw LibCrypto.failure("signing the certificate") }
        let certificate = try Certificate(derBytes: Certificate.encodeDER(x509))
        assert(try! certificate.commonName() == template.commonName, "the subject reads back as written")
        return certificate
    }

    private static func setSerialNumber(_ x509: OpaquePointer) throws(CertificateError) {
        var bytes = [UInt8](repeating: 0, count: serialBytes)
        guard RAND_bytes(&bytes, Int32(serialBytes)) == 1 else { throw LibCrypto.failure("drawing a serial number") }
        bytes[0] = (bytes[0] & 0x7F) | 0x40
        guard let number = BN_bin2bn(bytes, Int32(serialBytes), nil) else { throw LibCrypto.failure("serial number") }
        defer { BN_free(number) }
        guard let serial = BN_to_ASN1_INTEGER(number, nil) else { throw LibCrypto.failure("serial number") }
        defer { ASN1_INTEGER_free(serial) }
        guard X509_set_serialNumber(x509, serial) == 1 else { throw LibCrypto.failure("setting the serial number") }
    }

    private static func setValidity(_ x509: OpaquePointer, _ validity: CertificateValidity) throws(CertificateError) {
        guard ASN1_TIME_set(X509_getm_notBefore(x509), time_t(validity.notBefore)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(x509), time_t(validity.notAfter)) != nil
        else { throw LibCrypto.failure("setting the validity") }
    }

    private static func setSubject(_ x509: OpaquePointer, commonName: String) throws(CertificateError) {
        let bytes = Array(commonName.utf8)
        precondition((1...SubjectNames.commonNameBytesMax).contains(bytes.count), "common names are checked by the caller")
        guard let name = X509_NAME_new() else { throw LibCrypto.failure("X509_NAME_new") }
        defer { X509_NAME_free(name) }
        guard X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0) == 1,
              X509_set_subject_name(x509, name) == 1
        else { throw LibCrypto.failure("setting the subject") }
    }

    private static func addExtensions(
        _ extensions: [(nid: Int32, value: String)], to x509: OpaquePointer, issuer: OpaquePointer
    ) throws(CertificateError) {
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer, x509, nil, nil, 0)
        for (nid, value) in extensions {
            guard let `extension` = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw LibCrypto.failure("building extension \(String(cString: OBJ_nid2sn(nid)))")
            }
            defer { X509_EXTENSION_free(`extension`) }
            guard X509_add_ext(x509, `extension`, -1) == 1 else {
                throw LibCrypto.failure("adding extension \(String(cString: OBJ_nid2sn(nid)))")
            }
        }
    }
}
