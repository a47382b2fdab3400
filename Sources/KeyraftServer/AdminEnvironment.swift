import Foundation
import KMSWire
import NIOCore
import NIOPosix

/// How `keyraft cluster …` finds the cluster: the aws CLI's environment variables
/// (`AWS_ENDPOINT_URL_KMS`, `AWS_CA_BUNDLE`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_REGION`), plus `KEYRAFT_ENDPOINTS` (comma-separated URLs of every node) when set.
public struct AdminEnvironment {
    public struct Endpoint: Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var description: String { "https://\(host):\(port)" }
    }

    public let endpoints: [Endpoint]
    public let client: SignedClient

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func required(_ name: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else {
                throw SignedClient.Failure(description: "\(name) is not set (source the cluster's env file)")
            }
            return value
        }
        let list = try environment["KEYRAFT_ENDPOINTS"].flatMap { $0.isEmpty ? nil : $0 } ?? required("AWS_ENDPOINT_URL_KMS")
        endpoints = try list.split(separator: ",").map { text in
            guard let url = URL(string: text.trimmingCharacters(in: .whitespaces)), url.scheme == "https",
                  let host = url.host, let port = url.port
            else { throw SignedClient.Failure(description: "'\(text)' is not an https URL with a port") }
            return Endpoint(host: host, port: port)
        }
        let credentials = SigV4Credentials(accessKeyID: try required("AWS_ACCESS_KEY_ID"),
                                           secretAccessKey: try required("AWS_SECRET_ACCESS_KEY"),
                                           sessionToken: environment["AWS_SESSION_TOKEN"])
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        client = try SignedClient(credentials: credentials, region: region, caPath: try required("AWS_CA_BUNDLE"))
    }

    /// The endpoint whose node says it leads, or nil.
    public func leader(group: any EventLoopGroup) -> Endpoint? {
        endpoints.first { endpoint in
            (try? call("GetNodeStatus", on: endpoint, group: group))?["Role"] as? String == "Leader"
        }
    }

    /// Calls `KeyraftAdmin.<operation>` on one endpoint; returns the decoded JSON object or
    /// throws with the server's error.
    public func call(_ operation: String, body: [String: Any] = [:], on endpoint: Endpoint,
                     group: any EventLoopGroup, timeoutMs: Int64 = 5_000,
                     answerBytesMax: Int = SignedClient.answerBytesMaxDefault) throws -> [String: Any] {
        let bytes = try JSONSerialization.data(withJSONObject: body)
        let answer = try client.post(host: endpoint.host, port: endpoint.port, target: "KeyraftAdmin." + operation,
                                     body: Array(bytes), timeoutMs: timeoutMs, group: group, answerBytesMax: answerBytesMax)
        let object = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any] ?? [:]
        guard answer.status == 200 else {
            let name = object["__type"] as? String ?? "HTTP \(answer.status)"
            let message = object["message"] as? String ?? ""
            throw SignedClient.Failure(description: "\(endpoint): \(name): \(message)")
        }
        return object
    }
}
