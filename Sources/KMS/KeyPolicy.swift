import Foundation

/// A parsed, validated key policy document.
///
/// Evaluation (AWS semantics, without IAM): a request is denied unless some statement
/// allows it, and any matching `Deny` beats every `Allow`. A statement whose principal is
/// the account root (`arn:aws:iam::<account>:root` or the bare account id) stands for
/// every principal of that account, and for an `Allow` it also requires the caller's own
/// identity permissions (from the credential store) to allow the action.
public struct KeyPolicy: Equatable, Sendable {
    public static let documentBytesMax = 32_768
    static let statementsMax = 100

    public enum Effect: Equatable, Sendable { case allow, deny }

    public enum PrincipalMatch: Equatable, Sendable {
        case anyone
        /// Principal ARNs; an account root ARN or bare account id means the whole account.
        case arns([String])
    }

    public enum ConditionOperator: String, Equatable, Sendable, CaseIterable {
        case stringEquals = "StringEquals"
        case stringNotEquals = "StringNotEquals"
        case stringLike = "StringLike"
        case stringNotLike = "StringNotLike"
    }

    public struct Condition: Equatable, Sendable {
        public let op: ConditionOperator
        /// Lowercased condition key, e.g. `kms:encryptioncontext:tenant`.
        public let key: String
        public let values: [String]
    }

    public struct Statement: Equatable, Sendable {
        public let sid: String?
        public let effect: Effect
        public let principal: PrincipalMatch
        public let actions: [String]
        public let resources: [String]
        public let conditions: [Condition]
    }

    public let statements: [Statement]

    /// What a request asks: who, which action (`kms:Decrypt`), on which key, with which context.
    public struct Request: Sendable {
        public let principal: Principal
        public let action: String
        public let keyARN: String
        public let encryptionContext: EncryptionContext

        public init(principal: Principal, action: String, keyARN: String, encryptionContext: EncryptionContext = [:]) {
            self.principal = principal
            self.action = action
            self.keyARN = keyARN
            self.encryptionContext = encryptionContext
        }
    }

    public enum Decision: Equatable, Sendable { case allowed, explicitDeny, implicitDeny }

    /// The condition keys Keyraft evaluates. A policy using any other is refused when it is
    /// put: an unknown key would silently never match, so a Deny on it would never apply.
    public static func isSupportedConditionKey(_ lowercasedKey: String) -> Bool {
        (lowercasedKey.hasPrefix("kms:encryptioncontext:") && lowercasedKey.count > "kms:encryptioncontext:".count)
            || lowercasedKey == "kms:calleraccount" || lowercasedKey == "aws:principalarn"
    }

    /// Refuses policies whose conditions Keyraft cannot evaluate.
    public func checkConditionKeysSupported() throws(KMSError) {
        for statement in statements {
            for condition in statement.conditions where !KeyPolicy.isSupportedConditionKey(condition.key) {
                throw KMSError(.malformedPolicyDocument,
                               "Keyraft does not evaluate the condition key \(condition.key); supported: kms:EncryptionContext:<key>, kms:CallerAccount, aws:PrincipalArn.")
            }
        }
    }

    public func evaluate(_ request: Request) -> Decision {
        var allowed = false
        for statement in statements where matches(statement, request) {
            if statement.effect == .deny { return .explicitDeny }
            allowed = true
        }
        return allowed ? .allowed : .implicitDeny
    }

    private func matches(_ statement: Statement, _ request: Request) -> Bool {
        guard statement.actions.contains(where: { globMatch($0, request.action, caseInsensitive: true) }),
              statement.resources.contains(where: { globMatch($0, request.keyARN, caseInsensitive: false) }),
              principalMatches(statement, request)
        else { return false }
        return statement.conditions.allSatisfy { conditionHolds($0, request) }
    }

    private func principalMatches(_ statement: Statement, _ request: Request) -> Bool {
        switch statement.principal {
        case .anyone:
            return true
        case let .arns(arns):
            return arns.contains { arn in
                if arn == request.principal.arn { return true }
                let rootOfCaller = arn == request.principal.accountRootARN
                    || arn == request.principal.accountID
                guard rootOfCaller else { return false }
                // The account root delegates to the caller's identity permissions, but only to allow.
                return statement.effect == .deny
                    || request.principal.identityActions.contains { globMatch($0, request.action, caseInsensitive: true) }
            }
        }
    }

    private func conditionHolds(_ condition: Condition, _ request: Request) -> Bool {
        let value = requestValue(condition.key, request)
        switch condition.op {
        case .stringEquals:
            return value.map { v in condition.values.contains(v) } ?? false
        case .stringNotEquals:
            return value.map { v in !condition.values.contains(v) } ?? true
        case .stringLike:
            return value.map { v in condition.values.contains { globMatch($0, v, caseInsensitive: false) } } ?? false
        case .stringNotLike:
            return value.map { v in !condition.values.contains { globMatch($0, v, caseInsensitive: false) } } ?? true
        }
    }

    private func requestValue(_ key: String, _ request: Request) -> String? {
        let contextPrefix = "kms:encryptioncontext:"
        if key.hasPrefix(contextPrefix) {
            let contextKey = key.dropFirst(contextPrefix.count)
            // Condition key names are case-insensitive; pick the context key that matches,
            // preferring an exact match, and the smallest one for determinism otherwise.
            let candidates = request.encryptionContext.keys.filter { $0.lowercased() == contextKey }.sorted()
            return candidates.first.flatMap { request.encryptionContext[$0] }
        }
        switch key {
        case "kms:calleraccount": return request.principal.accountID
        case "aws:principalarn": return request.principal.arn
        default: return nil
        }
    }
}

// MARK: - Parsing

extension KeyPolicy {
    /// The policy CreateKey installs when none is given: the account root may do everything.
    public static func defaultDocument(_ config: KMSConfig) -> String {
        """
        {"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",\
        "Effect":"Allow","Principal":{"AWS":"\(config.accountRootARN)"},"Action":"kms:*","Resource":"*"}]}
        """
    }

    /// Parses and validates a policy document, or throws `MalformedPolicyDocumentException`.
    public static func parse(_ document: String) throws(KMSError) -> KeyPolicy {
        let utf8 = Array(document.utf8)
        guard !utf8.isEmpty else { throw malformed("The policy document is empty.") }
        guard utf8.count <= documentBytesMax else {
            throw KMSError.validation([KMSError.constraint(
                "policy", "Member must have length less than or equal to \(documentBytesMax)")])
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(utf8)),
              let root = object as? [String: Any]
        else { throw malformed("The policy document is not a JSON object.") }
        if let version = root["Version"] {
            guard let text = version as? String, text == "2012-10-17" || text == "2008-10-17" else {
                throw malformed("Unsupported policy Version.")
            }
        }
        let rawStatements: [Any]
        if let list = root["Statement"] as? [Any] {
            rawStatements = list
        } else if let single = root["Statement"] as? [String: Any] {
            rawStatements = [single]
        } else {
            throw malformed("The policy document has no Statement.")
        }
        guard !rawStatements.isEmpty, rawStatements.count <= statementsMax else {
            throw malformed("The policy must have between 1 and \(statementsMax) statements.")
        }
        var statements: [Statement] = []
        for raw in rawStatements {
            guard let object = raw as? [String: Any] else { throw malformed("A Statement is not an object.") }
            statements.append(try parseStatement(object))
        }
        return KeyPolicy(statements: statements)
    }

    private static func parseStatement(_ object: [String: Any]) throws(KMSError) -> Statement {
        let sid = object["Sid"] as? String
        let effect: Effect
        switch object["Effect"] as? String {
        case "Allow": effect = .allow
        case "Deny": effect = .deny
        default: throw malformed("Statement Effect must be Allow or Deny.")
        }
        guard object["NotAction"] == nil, object["NotPrincipal"] == nil, object["NotResource"] == nil else {
            throw malformed("NotAction, NotPrincipal and NotResource are not supported.")
        }
        let principal = try parsePrincipal(object["Principal"])
        let actions = try stringList(object["Action"], field: "Action")
        let resources = try stringList(object["Resource"], field: "Resource")
        let conditions = try parseConditions(object["Condition"])
        return Statement(sid: sid, effect: effect, principal: principal, actions: actions,
                         resources: resources, conditions: conditions)
    }

    private static func parsePrincipal(_ value: Any?) throws(KMSError) -> PrincipalMatch {
        if let star = value as? String, star == "*" { return .anyone }
        guard let object = value as? [String: Any], let aws = object["AWS"] else {
            throw malformed("Statement Principal must be \"*\" or {\"AWS\": ...}.")
        }
        let arns = try stringList(aws, field: "Principal")
        if arns.contains("*") { return .anyone }
        for arn in arns where !(arn.hasPrefix("arn:aws:") || (arn.count == 12 && arn.allSatisfy(\.isNumber))) {
            throw malformed("Policy contains a statement with one or more invalid principals.")
        }
        return .arns(arns)
    }

    private static func parseConditions(_ value: Any?) throws(KMSError) -> [Condition] {
        guard let value else { return [] }
        guard let object = value as? [String: Any] else { throw malformed("Condition must be an object.") }
        var conditions: [Condition] = []
        for name in object.keys.sorted() {
            guard let op = ConditionOperator(rawValue: name) else {
                throw malformed("Policy contains an unsupported condition operator.")
            }
            guard let clauses = object[name] as? [String: Any] else {
                throw malformed("Condition operator \(name) must map condition keys to values.")
            }
            for key in clauses.keys.sorted() {
                let values = try stringList(clauses[key], field: "Condition")
                conditions.append(Condition(op: op, key: key.lowercased(), values: values))
            }
        }
        return conditions
    }

    private static func stringList(_ value: Any?, field: String) throws(KMSError) -> [String] {
        if let single = value as? String, !single.isEmpty { return [single] }
        if let list = value as? [Any], !list.isEmpty, list.count <= 1000 {
            var strings: [String] = []
            for item in list {
                guard let text = item as? String, !text.isEmpty else { break }
                strings.append(text)
            }
            if strings.count == list.count { return strings }
        }
        throw malformed("Statement \(field) must be a non-empty string or list of strings.")
    }

    private static func malformed(_ message: String) -> KMSError {
        KMSError(.malformedPolicyDocument, message)
    }
}

/// Glob match with `*` (any run) and `?` (one character), iteratively (no recursion blow-up).
///
/// Runs on every authorization, several times: ASCII text (every action name, ARN and
/// almost every context value) is matched in place on its UTF-8 bytes, anything else on
/// lowercased Unicode scalars. Both paths compute the same answer: for ASCII, Unicode
/// lowercasing is exactly A–Z to a–z, and scalars are bytes.
func globMatch(_ pattern: String, _ text: String, caseInsensitive: Bool) -> Bool {
    if pattern == "*" { return true }
    var pattern = pattern
    var text = text
    let ascii = pattern.withUTF8 { p in
        text.withUTF8 { t -> Bool? in
            guard p.allSatisfy({ $0 < 0x80 }), t.allSatisfy({ $0 < 0x80 }) else { return nil }
            return caseInsensitive
                ? globMatch(p, t, wildcardOne: UInt8(ascii: "?"), wildcardAny: UInt8(ascii: "*"), fold: asciiLowercased)
                : globMatch(p, t, wildcardOne: UInt8(ascii: "?"), wildcardAny: UInt8(ascii: "*"), fold: { $0 })
        }
    }
    if let ascii { return ascii }
    let p = Array((caseInsensitive ? pattern.lowercased() : pattern).unicodeScalars)
    let t = Array((caseInsensitive ? text.lowercased() : text).unicodeScalars)
    return globMatch(p, t, wildcardOne: "?", wildcardAny: "*", fold: { $0 })
}

private func asciiLowercased(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}

/// The matcher itself, over any random-access sequence of comparable characters.
private func globMatch<C: RandomAccessCollection>(_ p: C, _ t: C, wildcardOne: C.Element, wildcardAny: C.Element,
                                                  fold: (C.Element) -> C.Element) -> Bool
where C.Element: Equatable, C.Index == Int {
    var pi = p.startIndex, ti = t.startIndex
    var starP = -1, starT = 0
    while ti < t.endIndex {
        if pi < p.endIndex, p[pi] == wildcardOne || fold(p[pi]) == fold(t[ti]) {
            pi += 1
            ti += 1
        } else if pi < p.endIndex, p[pi] == wildcardAny {
            starP = pi
            starT = ti
            pi += 1
        } else if starP >= 0 {
            pi = starP + 1
            starT += 1
            ti = starT
        } else {
            return false
        }
    }
    while pi < p.endIndex, p[pi] == wildcardAny { pi += 1 }
    return pi == p.endIndex
}
