import NIOCore

/// Peer link framing.
///
/// A frame is `length: u32 (big-endian, counts kind and payload), kind: u8, payload`.
/// A message that fits in one frame travels as `.message`; a larger one (a snapshot) is
/// streamed as `.chunk` frames and a final `.lastChunk`, and reassembled up to
/// `maxMessageBytes`. Anything else — an unknown kind, an empty or oversized frame, a
/// message over the bound — is a protocol error that closes the link.
enum FrameKind: UInt8 {
    case message = 0
    case chunk = 1
    case lastChunk = 2
}

enum FramingError: Error, Equatable, CustomStringConvertible {
    case frameTooLarge(Int)
    case emptyFrame
    case unknownKind(UInt8)
    case messageTooLarge(Int)

    var description: String {
        switch self {
        case let .frameTooLarge(bytes): return "frame of \(bytes) bytes is over the limit"
        case .emptyFrame: return "empty frame"
        case let .unknownKind(kind): return "unknown frame kind \(kind)"
        case let .messageTooLarge(bytes): return "reassembled message of \(bytes) bytes is over the limit"
        }
    }
}

struct FrameLimits: Sendable {
    /// The largest frame on the wire (kind byte included).
    var maxFrameBytes: Int
    /// The largest message after reassembling chunks.
    var maxMessageBytes: Int

    init(maxFrameBytes: Int, maxMessageBytes: Int) {
        precondition(maxFrameBytes >= 2 && maxMessageBytes >= maxFrameBytes - 1, "frame limits out of order")
        self.maxFrameBytes = maxFrameBytes
        self.maxMessageBytes = maxMessageBytes
    }
}

enum FrameEncoder {
    static let headerBytes = 5

    /// Frames one message, chunked when it exceeds one frame. Appends to `buffer`.
    static func encode(_ payload: [UInt8], limits: FrameLimits, into buffer: inout ByteBuffer) {
        precondition(payload.count <= limits.maxMessageBytes, "message over the sender's own limit")
        let chunkBytes = limits.maxFrameBytes - 1
        if payload.count <= chunkBytes {
            append(.message, payload[...], into: &buffer)
            return
        }
        var start = 0
        while start < payload.count {
            let end = min(start + chunkBytes, payload.count)
            append(end == payload.count ? .lastChunk : .chunk, payload[start..<end], into: &buffer)
            start = end
        }
        assert(start == payload.count, "every byte framed")
    }

    private static func append(_ kind: FrameKind, _ bytes: ArraySlice<UInt8>, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(bytes.count + 1))
        buffer.writeInteger(kind.rawValue)
        buffer.writeBytes(bytes)
    }
}

/// Splits the byte stream into frames and reassembles chunked messages.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    let limits: FrameLimits
    /// Chunks received so far of a message being reassembled.
    private var partial: [UInt8] = []

    init(limits: FrameLimits) { self.limits = limits }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try next(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// The next complete message in `buffer`, or nil when more bytes are needed. Also used
    /// directly by the tests.
    mutating func next(_ buffer: inout ByteBuffer) throws -> [UInt8]? {
        while true {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
            let frameBytes = Int(length)
            guard frameBytes >= 1 else { throw FramingError.emptyFrame }
            guard frameBytes <= limits.maxFrameBytes else { throw FramingError.frameTooLarge(frameBytes) }
            guard buffer.readableBytes >= 4 + frameBytes else { return nil }
            buffer.moveReaderIndex(forwardBy: 4)
            let kindByte = buffer.readInteger(as: UInt8.self)!
            guard let kind = FrameKind(rawValue: kindByte) else { throw FramingError.unknownKind(kindByte) }
            let payload = buffer.readBytes(length: frameBytes - 1)!
            switch kind {
            case .message:
                // A whole message in the middle of a chunked one is a protocol error.
                guard partial.isEmpty else { throw FramingError.unknownKind(kindByte) }
                return payload
            case .chunk, .lastChunk:
                guard partial.count + payload.count <= limits.maxMessageBytes else {
                    throw FramingError.messageTooLarge(partial.count + payload.count)
                }
                partial.append(contentsOf: payload)
                if kind == .lastChunk {
                    defer { partial = [] }
                    return partial
                }
            }
        }
    }
}
