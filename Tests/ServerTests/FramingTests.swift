import NIOCore
@testable import Transport
import XCTest

/// Peer link framing: `length: u32, kind: u8, payload`, with chunking above one frame.
final class FramingTests: XCTestCase {
    /// Frames of at most 16 bytes: 15 payload bytes per frame.
    let small = FrameLimits(maxFrameBytes: 16, maxMessageBytes: 1_000)

    private func encode(_ payloads: [[UInt8]], limits: FrameLimits) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        for payload in payloads { FrameEncoder.encode(payload, limits: limits, into: &buffer) }
        return buffer
    }

    /// Every complete message in `buffer`, in order.
    private func decodeAll(_ buffer: inout ByteBuffer, limits: FrameLimits) throws -> [[UInt8]] {
        var decoder = FrameDecoder(limits: limits)
        var out: [[UInt8]] = []
        while let message = try decoder.next(&buffer) { out.append(message) }
        return out
    }

    /// (length, kind) of each frame on the wire.
    private func frameHeaders(_ buffer: ByteBuffer) -> [(length: UInt32, kind: UInt8)] {
        var buffer = buffer
        var headers: [(UInt32, UInt8)] = []
        while let length = buffer.readInteger(as: UInt32.self) {
            let kind = buffer.readInteger(as: UInt8.self)!
            buffer.moveReaderIndex(forwardBy: Int(length) - 1)
            headers.append((length, kind))
        }
        XCTAssertEqual(buffer.readableBytes, 0)
        return headers
    }

    private func bytes(_ count: Int, seed: UInt8 = 0) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) &+ seed } }

    func testSmallMessageIsOneFrameWithTheDocumentedLayout() throws {
        let buffer = encode([[0xAA, 0xBB, 0xCC]], limits: small)
        XCTAssertEqual(Array(buffer.readableBytesView), [0, 0, 0, 4, FrameKind.message.rawValue, 0xAA, 0xBB, 0xCC])
        var copy = buffer
        XCTAssertEqual(try decodeAll(&copy, limits: small), [[0xAA, 0xBB, 0xCC]])
    }

    func testRoundTripAroundTheChunkBoundary() throws {
        // 15 bytes is the largest single frame; 16 is the smallest chunked message.
        let payloads = [[], [1], bytes(14), bytes(15, seed: 1), bytes(16, seed: 2), bytes(30, seed: 3),
                        bytes(31, seed: 4), bytes(200, seed: 5)]
        var buffer = encode(payloads, limits: small)
        XCTAssertEqual(try decodeAll(&buffer, limits: small), payloads)
        XCTAssertEqual(buffer.readableBytes, 0, "nothing left over")
    }

    func testLargeMessageIsChunkedWithinTheFrameLimit() throws {
        let payload = bytes(40)
        let buffer = encode([payload], limits: small)
        let headers = frameHeaders(buffer)
        XCTAssertEqual(headers.map(\.length), [16, 16, 11])
        XCTAssertEqual(headers.map(\.kind), [FrameKind.chunk.rawValue, FrameKind.chunk.rawValue, FrameKind.lastChunk.rawValue])
        XCTAssertTrue(headers.allSatisfy { Int($0.length) <= small.maxFrameBytes })
        var copy = buffer
        XCTAssertEqual(try decodeAll(&copy, limits: small), [payload])
    }

    func testByteAtATimeDelivery() throws {
        let payloads = [bytes(3), bytes(47, seed: 9), [], bytes(15, seed: 4), bytes(16, seed: 5)]
        let wire = Array(encode(payloads, limits: small).readableBytesView)
        var decoder = FrameDecoder(limits: small)
        var buffer = ByteBufferAllocator().buffer(capacity: wire.count)
        var out: [[UInt8]] = []
        for byte in wire {
            buffer.writeInteger(byte)
            while let message = try decoder.next(&buffer) { out.append(message) }
            buffer.discardReadBytes()
        }
        XCTAssertEqual(out, payloads)
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testIncompleteFrameWaitsForMoreBytes() throws {
        var decoder = FrameDecoder(limits: small)
        var buffer = ByteBufferAllocator().buffer(capacity: 8)
        buffer.writeBytes([0, 0, 0, 4, 0, 1, 2])
        XCTAssertNil(try decoder.next(&buffer))
        XCTAssertEqual(buffer.readableBytes, 7, "a partial frame is not consumed")
        buffer.writeInteger(UInt8(3))
        XCTAssertEqual(try decoder.next(&buffer), [1, 2, 3])
    }

    func testOversizeFrameThrowsBeforeItsBodyArrives() {
        var decoder = FrameDecoder(limits: small)
        var buffer = ByteBufferAllocator().buffer(capacity: 8)
        buffer.writeInteger(UInt32(17)) // one over maxFrameBytes; no body sent
        XCTAssertThrowsError(try decoder.next(&buffer)) { XCTAssertEqual($0 as? FramingError, .frameTooLarge(17)) }
        var huge = ByteBufferAllocator().buffer(capacity: 8)
        huge.writeInteger(UInt32.max)
        XCTAssertThrowsError(try decoder.next(&huge)) {
            XCTAssertEqual($0 as? FramingError, .frameTooLarge(Int(UInt32.max)))
        }
    }

    func testUnknownKindThrows() {
        var decoder = FrameDecoder(limits: small)
        var buffer = ByteBufferAllocator().buffer(capacity: 8)
        buffer.writeBytes([0, 0, 0, 2, 7, 0x55])
        XCTAssertThrowsError(try decoder.next(&buffer)) { XCTAssertEqual($0 as? FramingError, .unknownKind(7)) }
    }

    func testEmptyFrameThrows() {
        var decoder = FrameDecoder(limits: small)
        var buffer = ByteBufferAllocator().buffer(capacity: 8)
        buffer.writeBytes([0, 0, 0, 0])
        XCTAssertThrowsError(try decoder.next(&buffer)) { XCTAssertEqual($0 as? FramingError, .emptyFrame) }
    }

    func testReassembledMessageOverMaxMessageBytesThrows() {
        // The sender allows 1,000 bytes; the receiver only 40. Chunks of 15: 15, 30, then 45 > 40.
        var buffer = encode([bytes(60)], limits: small)
        let strict = FrameLimits(maxFrameBytes: 16, maxMessageBytes: 40)
        XCTAssertThrowsError(try decodeAll(&buffer, limits: strict)) {
            XCTAssertEqual($0 as? FramingError, .messageTooLarge(45))
        }
        // Exactly at the limit is accepted.
        var exact = encode([bytes(40)], limits: small)
        XCTAssertEqual(try decodeAll(&exact, limits: strict), [bytes(40)])
    }

    func testWholeMessageInsideAChunkedOneThrows() {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        buffer.writeBytes([0, 0, 0, 2, FrameKind.chunk.rawValue, 1])
        buffer.writeBytes([0, 0, 0, 2, FrameKind.message.rawValue, 2])
        var decoder = FrameDecoder(limits: small)
        XCTAssertThrowsError(try decoder.next(&buffer)) { XCTAssertNotNil($0 as? FramingError) }
    }
}
