import COpenSSL

/// An X.509 certificate, held as its DER encoding.
///
/// Construction parses the bytes with `d2i_X509`, so a `Certificate` value always holds one
/// complete, well-formed certificate and nothing after it.
public struct Certificate: Sendable, Hashable, CustomStringConvertible {
    /// The DER encoding. Invariant: exactly one certificate that `d2i_X509` accepts.
    public let derBytes: [UInt8]

    /// Largest encoding accepted; real certificates here are well under 2 KiB.
    public static let derBytesMax = 64 * 1024

    public init(derBytes: [UInt8]) throws(CertificateError) {
        try Self.withParsed(derBytes) { (_) throws(CertificateError) in }
        self.derBytes = derBytes
    }

    /// Parses the first certificate in a PEM text (`BEGIN CERTIFICATE`).
    public init(pem: String) throws(CertificateError) {
        let bio = try LibCrypto.memoryBIO(copying: Array(pem.utf8), secure: false, operation: "certificate PEM parsing")
        defer { BIO_free(bio) }
        try self.init(reading: bio, operation: "certificate PEM parsing")
    }

    /// Parses the first certificate in a PEM file.
    public init(pemFile path: String) throws(CertificateError) {
        guard let bio = BIO_new_file(path, "r") else { throw LibCrypto.failure("opening \(path)") }
        defer { BIO_free(bio) }
        try self.init(reading: bio, operation: "reading certificate \(path)")
    }

    private init(reading bio: OpaquePointer, operation: String) throws(CertificateError) {
        guard let x509 = PEM_read_bio_X509(bio, nil, nil, nil) else { throw LibCrypto.failure(operation) }
        defer { X509_free(x509) }
        self.derBytes = try Self.encodeDER(x509)
    }

    /// The PEM text (`BEGIN CERTIFICATE`), ending in a newline.
    public func pemRepresentation() throws(CertificateError) -> String {
        let bytes = try Self.withParsed(derBytes) { (x509) throws(CertificateError) in
            guard let bio = BIO_new(BIO_s_mem()) else { throw LibCrypto.failure("certificate PEM encoding") }
            defer { BIO_free(bio) }
            guard PEM_write_bio_X509(bio, x509) == 1 else { throw LibCrypto.failure("certificate PEM encoding") }
            return try LibCrypto.readAll(bio, operation: "certificate PEM encoding")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The subject's single common name. Throws when the subject has none or more than one.
    public func commonName() throws(CertificateError) -> String {
        try Self.withParsed(derBytes) { (x509) throws(CertificateError) in try Self.commonName(of: x509) }
    }

    /// The subject common name of a DER certificate, as the peer transport sees it. A subject
    /// with several common names is refused: it could claim several identities.
    public static func commonName(ofCertificateDER der: [UInt8]) throws(CertificateError) -> String {
        try withParsed(der) { (x509) throws(CertificateError) in try commonName(of: x509) }
    }

    /// The subject common name of the first certificate in a PEM text.
    public static func commonName(ofCertificatePEM pem: String) throws(CertificateError) -> String {
        try Certificate(pem: pem).commonName()
    }

    /// `Certificate(CN=<name>, <n> DER bytes)`, for logs and test failures.
    public var description: String {
        let name = (try? commonName()) ?? "?"
        return "Certificate(CN=\(name), \(derBytes.count) DER bytes)"
    }

    // MARK: - Internal

    /// Parses `der` and lends the `X509` to `body` for the duration of the call.
    static func withParsed<R>(
        _ der: [UInt8], _ body: (OpaquePointer) throws(CertificateError) -> R
    ) throws(CertificateError) -> R {
        guard !der.isEmpty, der.count <= derBytesMax else {
            throw .invalidArgument("a DER certificate must be 1...\(derBytesMax) bytes, got \(der.count)")
        }
        var consumed = 0
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            let x509 = d2i_X509(nil, &cursor, buffer.count)
            if let cursor, let start = buffer.baseAddress { consumed = cursor - start }
            return x509
        }
        guard let x509 = parsed else { throw LibCrypto.failure("DER certificate parsing") }
        defer { X509_free(x509) }
        guard consumed == der.count else {
            throw .invalidArgument("\(der.count - consumed) bytes follow the DER certificate")
        }
        return try body(x509)
    }

    static func encodeDER(_ x509: OpaquePointer) throws(CertificateError) -> [UInt8] {
        let length = Int(i2d_X509(x509, nil))
        guard length > 0, length <= derBytesMax else { throw LibCrypto.failure("DER certificate encoding") }
        var der = [UInt8](repeating: 0, count: length)
        let written = der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return i2d_X509(x509, &cursor)
        }
        guard Int(written) == length else { throw LibCrypto.failure("DER certificate encoding") }
        return der
    }

    static func commonName(of x509: OpaquePointer) throws(CertificateError) -> String {
        guard let name = X509_get_subject_name(x509) else { throw LibCrypto.failure("reading the subject") }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0 else { throw .unsupported("the certificate subject has no common name") }
        guard X509_NAME_get_index_by_NID(name, NID_commonName, index) < 0 else {
            throw .unsupported("the certificate subject has more than one common name")
        }
        guard let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else {
            throw LibCrypto.failure("reading the common name")
        }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        defer { LibCrypto.free(utf8) }
        guard length >= 0, let utf8 else { throw LibCrypto.failure("reading the common name") }
        let bytes = UnsafeBufferPointer(start: utf8, count: Int(length))
        // An embedded NUL would let "keyraft-node-1\0evil" print as one name and compare as another.
        guard !bytes.contains(0), let commonName = String(validating: bytes, as: UTF8.self) else {
            throw .unsupported("the certificate common name is not valid UTF-8 text")
        }
        return commonName
    }
}
