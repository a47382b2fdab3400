import KeyraftCerts
import NIOCore
import NIOSSL
import RaftCore

/// TLS material of one node: its certificate and key, and the cluster CA that every peer's
/// certificate must chain to.
public struct TLSFiles: Sendable, Equatable {
    public var certificatePath: String
    public var privateKeyPath: String
    public var caPath: String

    public init(certificatePath: String, privateKeyPath: String, caPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.caPath = caPath
    }
}

/// Mutual TLS 1.3 contexts for peer links.
///
/// Both sides present their node certificate and trust only the cluster CA. The dialling
/// side names the node it wants (`keyraft-node-<id>`) as the expected host name, and node
/// certificates carry that name in their subject alternative names. That check alone is not
/// enough: NIOSSL also accepts a certificate whose IP address matches the dialled socket's,
/// and node certificates carry their host's addresses for HTTPS clients, so any node on that
/// host passes it. The dialling side therefore also checks the common name of the verified
/// certificate before it sends anything (`OutboundPeerHandler`). The accepting side takes the
/// peer's id from the subject common name of its verified certificate (`PeerIdentity`).
enum PeerTLS {
    static func serverContext(_ files: TLSFiles) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem)))
        configuration.minimumTLSVersion = .tlsv13
        configuration.shutdownTimeout = .milliseconds(200)
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(files.caPath))
        return try NIOSSLContext(configuration: configuration)
    }

    static func clientContext(_ files: TLSFiles) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(files.certificatePath).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem))
        configuration.minimumTLSVersion = .tlsv13
        configuration.shutdownTimeout = .milliseconds(200)
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(files.caPath))
        return try NIOSSLContext(configuration: configuration)
    }

    /// The host name a dialling node expects in the certificate of node `id`.
    static func expectedName(of id: NodeID) -> String { NodeIdentity.commonNamePrefix + String(id.rawValue) }
}

/// The node id in a verified peer certificate's subject common name, or nil.
enum PeerIdentity {
    static func nodeID(of certificate: NIOSSLCertificate) -> NodeID? {
        let names = certificate.subjectName.filter { $0.type == .commonName }
        // Exactly one common name: a certificate with two could claim two identities.
        guard names.count == 1, let raw = NodeIdentity.nodeID(fromCommonName: names[0].value) else { return nil }
        return NodeID(raw)
    }
}
