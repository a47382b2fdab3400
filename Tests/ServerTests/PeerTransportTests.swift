import Foundation
import KeyraftCerts
import KeyraftNode
import NIOCore
import NIOPosix
import NIOSSL
import RaftCore
@testable import Transport
import XCTest

/// Two real transports over mutual TLS 1.3 on 127.0.0.1, and clients that must be refused.
final class PeerTransportTests: XCTestCase {
    private var fixture: CertificateFixture!
    private var group: MultiThreadedEventLoopGroup!
    private var logs: LogRecorder!
    private var transports: [PeerTransport] = []

    override func setUpWithError() throws {
        fixture = try CertificateFixture()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        logs = LogRecorder()
    }

    override func tearDownWithError() throws {
        for transport in transports { transport.shutdown() }
        transports = []
        try group?.syncShutdownGracefully()
        group = nil
        fixture?.remove()
    }

    // MARK: Helpers

    private func loopback(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }

    /// Starts node `id` on 127.0.0.1 port 0 and returns it with its port. Stopped in tearDown.
    private func startNode(_ id: UInt64, peers: [NodeID: PeerAddress] = [:], tls: TLSFiles? = nil,
                           label: String, inbox: Inbox = Inbox(),
                           configure: (inout TransportConfig) -> Void = { _ in }) throws -> (PeerTransport, Int) {
        var config = TransportConfig(nodeID: NodeID(id), listen: loopback(0), peers: peers,
                                     tls: tls ?? fixture.tls(node: id))
        config.reconnectBackoffMinMs = 20
        config.reconnectBackoffMaxMs = 200
        configure(&config)
        let transport = try PeerTransport(config: config, group: group, loop: group.next(),
                                          logger: logs.logger(label), deliver: inbox.deliver)
        transports.append(transport)
        let port = try transport.start()
        XCTAssertNotEqual(port, 0)
        return (transport, port)
    }

    /// Node 2, the listener every refusal test attacks.
    private func startListener(inbox: Inbox) throws -> Int {
        try startNode(2, label: "node-2", inbox: inbox).1
    }

    /// A fresh node 1 (a new connection) still gets a message through to the listener.
    private func assertGoodPeerGetsThrough(port: Int, inbox: Inbox, term: UInt64,
                                           file: StaticString = #filePath, line: UInt = #line) throws {
        let (sender, _) = try startNode(1, peers: [NodeID(2): loopback(port)], label: "good-1")
        defer { sender.shutdown() }
        let message = heartbeat(from: 1, to: 2, term: term)
        try sender.sendFromLoop(message, to: NodeID(2))
        XCTAssertTrue(waitUntil { inbox.received.contains { $0.message == message && $0.peer == NodeID(1) } },
                      "a good peer's message did not arrive after the refusal", file: file, line: line)
    }

    /// Waits for the listener to log a new warning after `before` of them.
    private func assertListenerLogsRefusal(after before: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(waitUntil { logs.warnings(from: "node-2").count > before },
                      "the listener logged no refusal; logs: \(logs.records)", file: file, line: line)
    }

    private func nodeOneClientConfiguration(_ certificates: ClusterCertificates? = nil) throws -> TLSConfiguration {
        let certificates = certificates ?? fixture.certificates
        return try RawTLSClient.configuration(certificatePath: certificates.nodeCertificatePath(nodeID: 1),
                                              keyPath: certificates.nodeKeyPath(nodeID: 1), caPath: fixture.caPath)
    }

    /// One framed heartbeat from node 1, as the real encoder writes it.
    private func framedHeartbeat(term: UInt64) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        FrameEncoder.encode(PeerMessageCodec.encode(heartbeat(from: 1, to: 2, term: term)),
                            limits: TransportConfig(nodeID: NodeID(1), listen: loopback(0), peers: [:],
                                                    tls: fixture.tls(node: 1)).limits,
                            into: &buffer)
        return Array(buffer.readableBytesView)
    }

    // MARK: Delivery

    func testMessageFromNodeOneReachesNodeTwoWithPeerIDOne() throws {
        let inbox = Inbox()
        let port = try startListener(inbox: inbox)
        let (sender, _) = try startNode(1, peers: [NodeID(2): loopback(port)], label: "node-1")
        let messages = (1...3).map { heartbeat(from: 1, to: 2, term: 5, commit: UInt64($0)) }
        for message in messages { try sender.sendFromLoop(message, to: NodeID(2)) }
        XCTAssertTrue(waitUntil { inbox.received.count == 3 }, "delivered: \(inbox.received)")
        XCTAssertEqual(inbox.received.map { $0.message }, messages, "one link delivers in order")
        XCTAssertEqual(inbox.received.map { $0.peer }, [NodeID(1), NodeID(1), NodeID(1)])
        XCTAssertTrue(try sender.loop.submit { sender.linkIsConnected(NodeID(2)) }.wait())
        XCTAssertEqual(try sender.loop.submit { sender.droppedMessages }.wait(), 0)
    }

    func testMessageLargerThanAFrameArrivesWhole() throws {
        let frameBytes = 1_024
        let inbox = Inbox()
        let (_, port) = try startNode(2, label: "node-2", inbox: inbox) { $0.maxFrameBytes = frameBytes }
        let (sender, _) = try startNode(1, peers: [NodeID(2): loopback(port)], label: "node-1") {
            $0.maxFrameBytes = frameBytes
        }
        var generator = SystemRandomNumberGenerator()
        let data = (0..<(256 << 10)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(40), term: Term(3),
                                                           membership: Membership(voters: [NodeID(1), NodeID(2)])),
                                data: data)
        let message = PeerMessage.raft(Message(type: .snapshot, from: NodeID(1), to: NodeID(2), term: Term(3),
                                               snapshot: snapshot))
        XCTAssertGreaterThan(PeerMessageCodec.encode(message).count, 200 * frameBytes, "the message is chunked")
        try sender.sendFromLoop(message, to: NodeID(2))
        // A small message behind it arrives after it, whole as well.
        let after = heartbeat(from: 1, to: 2, term: 3)
        try sender.sendFromLoop(after, to: NodeID(2))
        XCTAssertTrue(waitUntil(timeoutMs: 20_000) { inbox.received.count == 2 }, "delivered \(inbox.received.count)")
        XCTAssertEqual(inbox.received.first?.message, message)
        XCTAssertEqual(inbox.received.first?.peer, NodeID(1))
        XCTAssertEqual(inbox.received.last?.message, after)
    }

    // MARK: Refusals

    func testTLS12ClientIsRefused() throws {
        let inbox = Inbox()
        let port = try startListener(inbox: inbox)
        let warnings = logs.warnings(from: "node-2").count
        var configuration = try nodeOneClientConfiguration()
        configuration.maximumTLSVersion = .tlsv12
        let client = try RawTLSClient.connect(group: group, port: port, configuration: configuration,
                                              serverHostname: "keyraft-node-2")
        defer { client.close() }
        guard case let .failure(error) = outcome(of: client.handshake) else {
            return XCTFail("a TLS 1.2 handshake completed")
        }
        XCTAssertFalse(error is TimedOut, "the listener neither finished nor refused the handshake")
        XCTAssertTrue("\(error)".contains("PROTOCOL_VERSION"), "\(error)")
        assertListenerLogsRefusal(after: warnings)
        XCTAssertTrue(inbox.received.isEmpty)
        try assertGoodPeerGetsThrough(port: port, inbox: inbox, term: 11)
    }

    func testClientCertificateFromAForeignCAIsRefused() throws {
        let inbox = Inbox()
        let port = try startListener(inbox: inbox)
        // Same identity (keyraft-node-1), issued by another CA.
        let foreign = try CertificateFixture(nodes: [1])
        defer { foreign.remove() }
        let warnings = logs.warnings(from: "node-2").count
        let client = try RawTLSClient.connect(group: group, port: port,
                                              configuration: try nodeOneClientConfiguration(foreign.certificates),
                                              serverHostname: "keyraft-node-2")
        defer { client.close() }
        // Under TLS 1.3 the client may finish before the server has checked its certificate:
        // send a real message anyway; the server must close without delivering it.
        _ = outcome(of: client.handshake)
        client.write(framedHeartbeat(term: 99))
        XCTAssertTrue(waitUntil { !client.channel.isActive }, "the listener kept the connection open")
        assertListenerLogsRefusal(after: warnings)
        XCTAssertTrue(inbox.received.isEmpty, "delivered: \(inbox.received)")
        try assertGoodPeerGetsThrough(port: port, inbox: inbox, term: 12)
    }

    func testPeerWithAnExpiredCertificateIsRefused() throws {
        let inbox = Inbox()
        let port = try startListener(inbox: inbox)
        let now = CertificateValidity.currentTime()
        try fixture.certificates.writeNodeCertificate(
            nodeID: 3, authority: fixture.authority,
            validity: CertificateValidity(notBefore: now - 2 * 86_400, notAfter: now - 86_400), overwrite: true)
        let warnings = logs.warnings(from: "node-2").count
        let (expired, _) = try startNode(3, peers: [NodeID(2): loopback(port)], label: "node-3")
        try expired.sendFromLoop(heartbeat(from: 3, to: 2, term: 4), to: NodeID(2))
        assertListenerLogsRefusal(after: warnings)
        expired.shutdown()
        XCTAssertTrue(inbox.received.isEmpty, "delivered: \(inbox.received)")
        try assertGoodPeerGetsThrough(port: port, inbox: inbox, term: 13)
        // Control: node 3 with a current certificate from the same CA is accepted as node 3.
        try fixture.certificates.writeNodeCertificate(nodeID: 3, authority: fixture.authority, overwrite: true)
        let (renewed, _) = try startNode(3, peers: [NodeID(2): loopback(port)], label: "node-3-renewed")
        let message = heartbeat(from: 3, to: 2, term: 5)
        try renewed.sendFromLoop(message, to: NodeID(2))
        XCTAssertTrue(waitUntil { inbox.received.contains { $0.message == message && $0.peer == NodeID(3) } })
    }

    /// Node certificates carry IP 127.0.0.1 for HTTPS clients, which satisfies NIOSSL's host
    /// name check for any node on this host: the dialler must still refuse the wrong node.
    func testDiallingTheWrongNodeIsRefused() throws {
        let inbox = Inbox()
        let port = try startListener(inbox: inbox)
        // Node 1 believes node 3 lives at node 2's address.
        let (dialler, _) = try startNode(1, peers: [NodeID(3): loopback(port)], label: "node-1")
        try dialler.sendFromLoop(heartbeat(from: 1, to: 3, term: 6), to: NodeID(3))
        XCTAssertTrue(waitUntil { logs.warnings(from: "node-1").contains { $0.metadata["peer"] == "3" } },
                      "the dialler logged no refusal: \(logs.records)")
        usleep(300_000)
        XCTAssertTrue(inbox.received.isEmpty, "delivered to the wrong node: \(inbox.received)")
        XCTAssertFalse(try dialler.loop.submit { dialler.linkIsConnected(NodeID(3)) }.wait())
        dialler.shutdown()
        try assertGoodPeerGetsThrough(port: port, inbox: inbox, term: 14)
        XCTAssertEqual(inbox.received.count, 1)
    }

    func testMalformedFramesCloseTheLinkWithoutCrashing() throws {
        let inbox = Inbox()
        let port = try startListener(inbox: inbox)
        let garbage: [(String, [UInt8])] = [
            ("frame over the limit", [0xFF, 0xFF, 0xFF, 0xFF, 0]),
            ("unknown kind", [0, 0, 0, 2, 9, 0]),
            ("empty frame", [0, 0, 0, 0]),
            ("message that does not decode", [0, 0, 0, 5, 0, 0xDE, 0xAD, 0xBE, 0xEF]),
            ("chunk then whole message", [0, 0, 0, 2, 1, 1, 0, 0, 0, 2, 0, 2]),
            ("text", Array("GET / HTTP/1.1\r\nHost: keyraft\r\n\r\n".utf8)),
        ]
        for (index, (name, bytes)) in garbage.enumerated() {
            let warnings = logs.warnings(from: "node-2").count
            let delivered = inbox.received.count
            let client = try RawTLSClient.connect(group: group, port: port, configuration: try nodeOneClientConfiguration(),
                                                  serverHostname: "keyraft-node-2")
            // Control: the certificate is good, so only the bytes are at fault.
            guard case .success = outcome(of: client.handshake) else {
                client.close()
                return XCTFail("\(name): a valid node certificate failed the handshake: \(client.errors)")
            }
            client.write(bytes)
            XCTAssertTrue(waitUntil { !client.channel.isActive }, "\(name): the link stayed open")
            assertListenerLogsRefusal(after: warnings)
            client.close()
            XCTAssertEqual(inbox.received.count, delivered, "\(name): delivered \(inbox.received)")
            try assertGoodPeerGetsThrough(port: port, inbox: inbox, term: 100 + UInt64(index))
        }
        XCTAssertEqual(inbox.received.count, garbage.count, "only the good peers' messages arrived")
    }

    func testClientThatNeverHandshakesIsClosedAfterTheTimeout() throws {
        let inbox = Inbox()
        let (_, port) = try startNode(2, label: "node-2", inbox: inbox) { $0.handshakeTimeoutMs = 200 }
        let channel = try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait()
        defer { try? channel.close().wait() }
        XCTAssertTrue(waitUntil(timeoutMs: 5_000) { !channel.isActive }, "a silent connection was kept open")
        try assertGoodPeerGetsThrough(port: port, inbox: inbox, term: 15)
    }
}
