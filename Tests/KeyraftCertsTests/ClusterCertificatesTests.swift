import Foundation
import XCTest
import KeyraftCerts

/// The certificate folder: file names, modes, reuse of the CA, refusal to overwrite.
final class ClusterCertificatesTests: XCTestCase {
    private var scratch: ScratchDirectory!
    private var cluster: ClusterCertificates!

    override func setUpWithError() throws {
        scratch = try ScratchDirectory()
        cluster = ClusterCertificates(directory: scratch.file("certs"))
    }

    override func tearDownWithError() throws {
        scratch.remove()
        scratch = nil
        cluster = nil
    }

    private func contents(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    private func directoryListing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: cluster.directory).sorted()
    }

    func testWritesTheDocumentedFilesWithTheirModes() throws {
        let umask = currentUmask()
        let (authority, created) = try cluster.loadOrCreateAuthority()
        XCTAssertTrue(created)
        try cluster.writeNodeCertificate(nodeID: 1, authority: authority)
        try cluster.writeNodeCertificate(nodeID: 12, authority: authority)
        try cluster.writeClientCertificate(name: "admin", authority: authority)
        XCTAssertEqual(try directoryListing(), [
            "ca.key", "ca.pem", "client-admin.key", "client-admin.pem",
            "node-1.key", "node-1.pem", "node-12.key", "node-12.pem",
        ])
        for key in ["ca.key", "node-1.key", "node-12.key", "client-admin.key"] {
            XCTAssertEqual(try permissions(scratch.file("certs/" + key)), 0o600, key)
        }
        for certificate in ["ca.pem", "node-1.pem", "node-12.pem", "client-admin.pem"] {
            XCTAssertEqual(try permissions(scratch.file("certs/" + certificate)), 0o644 & ~umask, certificate)
        }
        XCTAssertEqual(try permissions(cluster.directory), 0o700 & ~umask, "a new folder is private")
    }

    func testSecondCallReusesTheAuthority() throws {
        let first = try cluster.loadOrCreateAuthority()
        XCTAssertTrue(first.created)
        let caBytes = try contents(cluster.authorityCertificatePath)
        let caKeyBytes = try contents(cluster.authorityKeyPath)
        try cluster.writeNodeCertificate(nodeID: 1, authority: first.authority)

        // A later run, e.g. `keyraft certs` adding a node.
        let again = ClusterCertificates(directory: cluster.directory)
        let second = try again.loadOrCreateAuthority(commonName: "Another CA")
        XCTAssertFalse(second.created)
        XCTAssertEqual(second.authority.certificate, first.authority.certificate)
        XCTAssertEqual(try second.authority.certificate.commonName(), "Keyraft cluster CA")
        XCTAssertEqual(try contents(cluster.authorityCertificatePath), caBytes)
        XCTAssertEqual(try contents(cluster.authorityKeyPath), caKeyBytes)
        try again.writeNodeCertificate(nodeID: 2, authority: second.authority)
        for id in [UInt64(1), 2] {
            let result = try OpenSSLCLI.verify(cluster.nodeCertificatePath(nodeID: id), caFile: cluster.authorityCertificatePath)
            XCTAssertEqual(result.status, 0, "node \(id): \(result.output)")
        }
    }

    func testAuthorityWithOneFileMissingIsRefused() throws {
        _ = try cluster.loadOrCreateAuthority()
        let caBytes = try contents(cluster.authorityCertificatePath)
        try FileManager.default.removeItem(atPath: cluster.authorityKeyPath)
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try cluster.loadOrCreateAuthority()
        }, matches: { if case .unsupported = $0 { true } else { false } })
        XCTAssertEqual(try contents(cluster.authorityCertificatePath), caBytes, "the lone certificate is left alone")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.authorityKeyPath))
    }

    func testExistingNodeFilesAreKeptUnlessOverwriteIsAsked() throws {
        let authority = try cluster.loadOrCreateAuthority().authority
        try cluster.writeNodeCertificate(nodeID: 1, authority: authority)
        let keyBytes = try contents(cluster.nodeKeyPath(nodeID: 1))
        let certificateBytes = try contents(cluster.nodeCertificatePath(nodeID: 1))

        assertThrowsCertificateError({ () throws(CertificateError) in
            try cluster.writeNodeCertificate(nodeID: 1, authority: authority)
        }, matches: { $0 == .fileExists(path: cluster.nodeCertificatePath(nodeID: 1)) })
        XCTAssertEqual(try contents(cluster.nodeKeyPath(nodeID: 1)), keyBytes)
        XCTAssertEqual(try contents(cluster.nodeCertificatePath(nodeID: 1)), certificateBytes)

        // A lone key (say, the certificate was deleted) is protected as well.
        try FileManager.default.removeItem(atPath: cluster.nodeCertificatePath(nodeID: 1))
        assertThrowsCertificateError({ () throws(CertificateError) in
            try cluster.writeNodeCertificate(nodeID: 1, authority: authority)
        }, matches: { $0 == .fileExists(path: cluster.nodeKeyPath(nodeID: 1)) })
        XCTAssertEqual(try contents(cluster.nodeKeyPath(nodeID: 1)), keyBytes)

        try cluster.writeNodeCertificate(nodeID: 1, authority: authority, overwrite: true)
        XCTAssertNotEqual(try contents(cluster.nodeKeyPath(nodeID: 1)), keyBytes)
        XCTAssertEqual(try permissions(cluster.nodeKeyPath(nodeID: 1)), 0o600)
        let result = try OpenSSLCLI.verify(cluster.nodeCertificatePath(nodeID: 1), caFile: cluster.authorityCertificatePath)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertFalse(try directoryListing().contains { $0.contains(".tmp-") }, "no temporary files are left behind")
    }

    func testExistingClientFilesAreKept() throws {
        let authority = try cluster.loadOrCreateAuthority().authority
        try cluster.writeClientCertificate(name: "ops", authority: authority)
        assertThrowsCertificateError({ () throws(CertificateError) in
            try cluster.writeClientCertificate(name: "ops", authority: authority)
        }, matches: { if case .fileExists = $0 { true } else { false } })
        XCTAssertNoThrow(try cluster.writeClientCertificate(name: "ops", authority: authority, overwrite: true))
    }

    func testLoadedKeyAndCertificateFilesRoundTrip() throws {
        let authority = try cluster.loadOrCreateAuthority().authority
        let issued = try cluster.writeNodeCertificate(nodeID: 5, authority: authority)
        let certificate = try Certificate(pemFile: cluster.nodeCertificatePath(nodeID: 5))
        XCTAssertEqual(certificate, issued.certificate)
        let key = try PrivateKey(pemFile: cluster.nodeKeyPath(nodeID: 5))
        XCTAssertEqual(try key.pemRepresentation(), try String(contentsOfFile: cluster.nodeKeyPath(nodeID: 5), encoding: .utf8))
        XCTAssertEqual(try issued.privateKey.pemRepresentation(), try key.pemRepresentation())
    }
}

/// The process umask, read without changing it for longer than one call.
private func currentUmask() -> Int {
    let mask = umask(0o022)
    umask(mask)
    return Int(mask)
}
