import Foundation
import JSONText
import KeyraftCryptoDeterministic
import Testing

/// The hand-written JSON reader and writer against Foundation as the oracle.
@Suite("JSONText: reader and writer against Foundation")
struct JSONTextTests {
    /// Foundation's reading of `bytes` as a `JSONValue`, or nil when it refuses them: the
    /// `JSONDecoder` path the request decoder used before the reader replaced it.
    static func foundation(_ bytes: [UInt8]) -> JSONValue? {
        (try? JSONDecoder().decode(Oracle.self, from: Data(bytes)))?.value
    }

    struct Oracle: Decodable {
        let value: JSONValue

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { value = .null }
            else if let flag = try? container.decode(Bool.self) { value = .bool(flag) }
            else if let number = try? container.decode(Double.self) { value = .number(number) }
            else if let text = try? container.decode(String.self) { value = .string(text) }
            else if let list = try? container.decode([Oracle].self) { value = .array(list.map(\.value)) }
            else { value = .object(try container.decode([String: Oracle].self).mapValues(\.value)) }
        }
    }

    static let alphabet: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{1F}", "\u{7F}",
                                     "é", "€", "😀", "\u{2028}", "\u{FEFF}", "KeyId", "arn:aws:kms:"]

    static func randomString(_ random: SeededEntropy) -> String {
        (0..<Int(random.next() % 8)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined()
    }

    static func randomValue(_ random: SeededEntropy, depth: Int) -> JSONValue {
        switch random.next() % (depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2:
            let choices: [Double] = [0, -0.5, 1, 42, 1_700_000_000, 1_700_000_000.25, -3e-7, 1e300, 123_456_789_012]
            return .number(choices[Int(random.next() % UInt64(choices.count))])
        case 3, 4: return .string(randomString(random))
        case 5: return .array((0..<Int(random.next() % 4)).map { _ in randomValue(random, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int(random.next() % 4) { members[randomString(random)] = randomValue(random, depth: depth + 1) }
            return .object(members)
        }
    }

    /// Serialises with Foundation (the oracle for the reader's input), plus random whitespace.
    static func foundationText(_ value: JSONValue) -> [UInt8] {
        func any(_ value: JSONValue) -> Any {
            switch value {
            case .null: return NSNull()
            case let .bool(flag): return flag
            case let .number(number): return number
            case let .string(text): return text
            case let .array(values): return values.map(any)
            case let .object(members): return members.mapValues(any)
            }
        }
        return [UInt8](try! JSONSerialization.data(withJSONObject: any(value), options: [.fragmentsAllowed, .prettyPrinted]))
    }

    @Test("random documents read the same as Foundation reads them")
    func readsLikeFoundation() throws {
        let random = SeededEntropy(seed: 8)
        for _ in 0..<2_000 {
            let value = Self.randomValue(random, depth: 0)
            let text = Self.foundationText(value)
            #expect((try? JSONReader.parse(text)) == Self.foundation(text))
            #expect((try? JSONReader.parse(text)) == value)
        }
    }

    @Test("mutated documents: accepted only when Foundation accepts them, with the same value; refused where Foundation is lenient")
    func mutationsAgreeWithFoundation() {
        let random = SeededEntropy(seed: 9)
        let pieces: [[UInt8]] = ["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud83d", "\\ude00", "0", "-", ".",
                                 "e", "+", "01", "1.", "nul", "true", " ", "\u{0}", "\u{1F}", "\u{FF}", "\u{C3}"]
            .map { Array($0.utf8) } + [[0xFF], [0xC3], [0xED, 0xA0, 0x80]]
        var accepted = 0
        for _ in 0..<20_000 {
            var text = Self.foundationText(Self.randomValue(random, depth: 0))
            for _ in 0...Int(random.next() % 3) {
                let at = Int(random.next() % UInt64(text.count + 1))
                switch random.next() % 3 {
                case 0: text.insert(contentsOf: pieces[Int(random.next() % UInt64(pieces.count))], at: at)
                case 1: if at < text.count { text.remove(at: at) }
                default: if at < text.count { text[at] = pieces[Int(random.next() % UInt64(pieces.count))].first! }
                }
            }
            let theirs = Self.foundation(text)
            do {
                #expect(try JSONReader.parse(text) == theirs, "\(String(decoding: text, as: UTF8.self).debugDescription)")
                accepted += 1
            } catch {
                #expect(theirs == nil || Self.isFoundationLeniency(error, in: text),
                        "\(error): \(String(decoding: text, as: UTF8.self).debugDescription)")
            }
        }
        #expect(accepted > 1_000, "the mutations should leave a fair share of documents valid")
    }

    /// Where Foundation's decoder is more lenient than RFC 8259 and the reader is not: a
    /// trailing comma before `]` or `}`, a NUL byte taken for the end of the text, a raw
    /// control character inside a string.
    static func isFoundationLeniency(_ failure: JSONReader.Failure, in text: [UInt8]) -> Bool {
        if failure.reason == "control character in a string" { return true }
        guard failure.offset < text.count else { return false }
        if text[failure.offset] == 0 { return true }
        guard text[failure.offset] == UInt8(ascii: "]") || text[failure.offset] == UInt8(ascii: "}") else { return false }
        let before = text[..<failure.offset].last { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
        return before == UInt8(ascii: ",")
    }

    @Test("refusals: everything RFC 8259 does not allow")
    func refusals() {
        let refused = ["", " ", "{", "{\"a\":1,}", "[1,]", "01", "1.", ".5", "+1", "1e", "NaN", "Infinity", "'a'",
                       "\"a", "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "\"\u{1}\"", "{\"a\" 1}", "[1 2]", "true false",
                       "/* c */ 1", "1e999", "tru", "nulll", "{1:2}"]
        for text in refused {
            #expect(throws: JSONReader.Failure.self, "\(text.debugDescription)") { try JSONReader.parse(Array(text.utf8)) }
        }
        #expect(throws: JSONReader.Failure.self) { try JSONReader.parse([0x22, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: JSONReader.depthMax + 1) + String(repeating: "]", count: JSONReader.depthMax + 1)
        #expect(throws: JSONReader.Failure.self) { try JSONReader.parse(Array(deep.utf8)) }
        let deepest = String(repeating: "[", count: JSONReader.depthMax) + String(repeating: "]", count: JSONReader.depthMax)
        #expect((try? JSONReader.parse(Array(deepest.utf8))) != nil)
        #expect((try? JSONReader.parse(Array(#" {"a":"\ud83d\ude00\u00e9\/"} "#.utf8))) == .object(["a": .string("😀é/")]))
    }

    @Test("the writer writes strings, numbers and base64 byte-for-byte as JSONEncoder does")
    func writerMatchesJSONEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let random = SeededEntropy(seed: 10)
        var strings = (0..<128).map { String(UnicodeScalar(UInt8($0))) }
        strings += (0..<2_000).map { _ in Self.randomString(random) }
        for text in strings {
            var writer = JSONWriter()
            writer.string(text)
            #expect(writer.bytes == [UInt8](try encoder.encode(text)), "\(text.debugDescription)")
        }
        let numbers: [Double] = [0, 1, -1, 0.5, 1_700_000_000, 1_700_000_000.123, 1_732_888_888.5, 1e-7, 123_456_789_012_345,
                                 1e15, 1e16, 4.0e20, -2.5e-300, Double(Int64.max), 0.1 + 0.2]
        for number in numbers {
            var writer = JSONWriter()
            writer.number(number)
            #expect(writer.bytes == [UInt8](try encoder.encode(number)), "\(number)")
        }
        for integer in [0, 1, -1, Int.max, Int.min] {
            var writer = JSONWriter()
            writer.integer(integer)
            #expect(writer.bytes == [UInt8](try encoder.encode(integer)))
        }
        for count in 0..<70 {
            let data = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            var writer = JSONWriter()
            writer.base64String(data)
            #expect(writer.bytes == [UInt8](try encoder.encode(Data(data).base64EncodedString())))
        }
        let keys = ["Arn", "AWSAccountId", "KeyId", "Keys", "keyARN", "a", "B", "_x"]
        var writer = JSONWriter()
        writer.byte(UInt8(ascii: "{"))
        for (index, key) in keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.string(key)
            writer.raw(":1")
        }
        writer.byte(UInt8(ascii: "}"))
        #expect(writer.bytes == [UInt8](try encoder.encode(Dictionary(uniqueKeysWithValues: keys.map { ($0, 1) }))),
                "sorted keys in JSONEncoder's order")
    }

    @Test("Base64.decode: what it accepts, Data(base64Encoded:) accepts with the same bytes; it refuses only malformed padding Foundation lets through")
    func base64AgreesWithFoundation() {
        let random = SeededEntropy(seed: 11)
        let noise: [UInt8] = Array("=+/ \n\rA_-".utf8) + [0x00, 0xC3, 0xFF]
        for round in 0..<20_000 {
            let data = (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            var text = Array(Data(data).base64EncodedString().utf8)
            if round % 2 == 1 {
                for _ in 0...Int(random.next() % 2) {
                    let at = Int(random.next() % UInt64(text.count + 1))
                    let byte = noise[Int(random.next() % UInt64(noise.count))]
                    switch random.next() % 3 {
                    case 0: text.insert(byte, at: at)
                    case 1: if at < text.count { text.remove(at: at) }
                    default: if at < text.count { text[at] = byte }
                    }
                }
            }
            let string = String(decoding: text, as: UTF8.self)
            let theirs = Data(base64Encoded: string).map { [UInt8]($0) }
            if let ours = Base64.decode(string) {
                #expect(ours == theirs, "\(string.debugDescription)")
            } else if let theirs {
                // Foundation also takes some malformed padding (`…g==` on a 22-character text);
                // the decoder refuses it: only a text that is the encoding of what it means.
                #expect(Data(theirs).base64EncodedString() != string, "\(string.debugDescription)")
            }
            if round % 2 == 0 { #expect(Base64.decode(string) == data) }
        }
    }
}
