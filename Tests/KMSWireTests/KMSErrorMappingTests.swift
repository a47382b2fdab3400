import KMS
import KMSWire
import Testing

/// `KMSError.Code` (the domain's errors) and `AWSErrorName` (the wire table) name the same
/// AWS errors; the API maps one to the other by raw value. This keeps them in step.
@Suite("KMS errors on the wire")
struct KMSErrorMappingTests {
    @Test("every KMS error code has a wire name with the status clients expect")
    func everyCodeMaps() {
        for code in KMSError.Code.allCases {
            guard let name = AWSErrorName(rawValue: code.rawValue) else {
                Issue.record("\(code.rawValue) has no AWSErrorName")
                continue
            }
            switch code {
            case .internalError: #expect(name.httpStatus == 500)
            case .dependencyTimeout: #expect(name.httpStatus == 503 && name.isRetryable)
            default: #expect(name.httpStatus == 400, "\(code.rawValue)")
            }
        }
    }
}
