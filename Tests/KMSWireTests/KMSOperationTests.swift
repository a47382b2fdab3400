import KMSWire
import Testing

@Suite struct KMSOperationTests {
    @Test func parsesEveryOperationTarget() throws {
        #expect(KMSOperation.allCases.count == 26)
        for operation in KMSOperation.allCases {
            #expect(try KMSOperation(target: "TrentService.\(operation.rawValue)") == operation)
            #expect(operation.target == "TrentService.\(operation.rawValue)")
        }
        #expect(try KMSOperation(target: " TrentService.Encrypt ") == .encrypt)
        #expect(try KMSOperation(target: "TrentService.GenerateDataKeyWithoutPlaintext") == .generateDataKeyWithoutPlaintext)
    }

    @Test(arguments: [
        "TrentService.encrypt", "TrentService.CreateGrant", "TrentService.", "Encrypt", "trentservice.Encrypt",
        "DynamoDB_20120810.Encrypt", "TrentService.Encrypt.Extra", "", "TrentService.Encrypt;",
    ])
    func refusesUnknownTargets(target: String) {
        do {
            _ = try KMSOperation(target: target)
            Issue.record("accepted \(target)")
        } catch {
            #expect(error.errorBody.name.rawValue == "UnknownOperationException")
            #expect(error.errorBody.httpStatus == 400)
            #expect(!error.errorBody.message.contains(target) || target.isEmpty)
        }
    }

    @Test func refusesMissingTarget() {
        do {
            _ = try KMSOperation(target: nil)
            Issue.record("accepted a missing target")
        } catch {
            #expect(error.target == nil)
            #expect(error.errorBody.name == .unknownOperation)
            #expect(error.errorBody.message == "The request has no X-Amz-Target header.")
        }
    }
}
