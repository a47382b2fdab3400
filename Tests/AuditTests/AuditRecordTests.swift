@testable import Audit
import Foundation
import Testing

@Suite struct AuditRecordTests {
    @Test func contextValuesNeverSerialized() throws {
        let record = AuditRecord(
            event: event(1, context: ["ssn": "123-45-6789", "department": "hr"]),
            previousHash: AuditRecord.genesisHash, sequence: 0)
        let line = String(decoding: try record.serializedLine(), as: UTF8.self)
        #expect(!line.contains("123-45-6789"))
        #expect(!line.contains("\"hr\""))
        #expect(line.contains(#""contextKeys":["department","ssn"]"#))
    }

    @Test func serializationIsCompactSortedAndRoundTrips() throws {
        let record = AuditRecord(event: event(7), previousHash: AuditRecord.genesisHash, sequence: 42)
        let line = try record.serializedLine()
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.hasPrefix(#"{"contextKeys":["purpose"],"keyARN":"arn:aws:kms:us-east-1:111122223333:key/"#))
        #expect(text.contains(#""outcome":"NotFoundException""#))
        #expect(!text.contains(" ") && !text.contains("\n") && !text.contains("\\/"))
        #expect(try AuditRecord.parse(line: line) == record)
        #expect(AuditChain.hash(line: line).count == 64)
        #expect(AuditRecord.genesisHash == String(repeating: "0", count: 64))
    }

    /// The hand-written line is byte-for-byte what `JSONEncoder` writes for the record, so
    /// chains written before and after the change verify alike.
    @Test func lineEqualsJSONEncoderForAwkwardValues() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let awkward = ["", "plain", "quote \" backslash \\ slash /", "\n\r\t\u{8}\u{C}\u{0}\u{1F}\u{7F}", "é€😀\u{2028}",
                       "arn:aws:iam::111122223333:user/dev", "TrentService.Decrypt"]
        for (index, text) in awkward.enumerated() {
            let event = AuditEvent(
                timeMs: UInt64(index) * 1_234_567_891, node: text, principal: text, operation: text,
                keyARN: index % 2 == 0 ? text : nil, encryptionContext: [text: "v", "k\(index)": "w"],
                outcome: index % 3 == 0 ? .success : .failure(awsErrorName: text), requestID: text)
            let record = AuditRecord(event: event, previousHash: AuditRecord.genesisHash, sequence: UInt64(index) << 40)
            #expect(try record.serializedLine() == [UInt8](try encoder.encode(record)), "\(text.debugDescription)")
        }
    }

    @Test func successOutcomeAndMissingKeyARN() throws {
        var e = event(1)
        e.keyARN = nil
        let record = AuditRecord(event: e, previousHash: AuditRecord.genesisHash, sequence: 0)
        let line = try record.serializedLine()
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""outcome":"success""#))
        #expect(!text.contains("keyARN"))
        #expect(try AuditRecord.parse(line: line) == record)
    }
}
