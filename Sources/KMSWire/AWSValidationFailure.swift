/// One failed input constraint, worded as AWS words it:
/// `Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096`.
///
/// Several failures make one `ValidationException` message through `message(_:)`:
/// `2 validation errors detected: <first>; <second>`.
public struct AWSValidationFailure: Sendable, Hashable {
    /// How the offending value appears in the message.
    public enum ShownValue: Sendable, Hashable {
        /// Not shown: `Value at 'x'`. Use for anything sensitive (plaintext, ciphertext).
        case omitted
        /// The member was absent: `Value null at 'x'`.
        case null
        /// Shown quoted: `Value 'abc' at 'x'`. Only for short, non-sensitive values.
        case shown(String)
    }

    /// The member path in AWS's lower-camel form, e.g. `plaintext`, `keyId`.
    public var member: String
    /// How the value is shown.
    public var value: ShownValue
    /// The constraint text, e.g. `Member must not be null`.
    public var constraint: String

    /// A failure of `member` against `constraint`.
    public init(member: String, value: ShownValue = .omitted, constraint: String) {
        self.member = member
        self.value = value
        self.constraint = constraint
    }

    /// `Value ... at '<member>' failed to satisfy constraint: <constraint>`.
    public var text: String {
        let subject: String
        switch value {
        case .omitted: subject = "Value"
        case .null: subject = "Value null"
        case .shown(let shown): subject = "Value '\(shown)'"
        }
        return "\(subject) at '\(member)' failed to satisfy constraint: \(constraint)"
    }

    /// `N validation error(s) detected: ` followed by each failure's text, joined by `; `.
    ///
    /// - Precondition: `failures` is not empty.
    public static func message(_ failures: [AWSValidationFailure]) -> String {
        precondition(!failures.isEmpty, "a validation message needs at least one failure")
        let noun = failures.count == 1 ? "error" : "errors"
        return "\(failures.count) validation \(noun) detected: " + failures.map(\.text).joined(separator: "; ")
    }

    /// A `ValidationException` body for `failures`.
    public static func errorBody(_ failures: [AWSValidationFailure]) -> AWSErrorBody {
        AWSErrorBody(.validation, message(failures))
    }
}

extension AWSValidationFailure {
    /// `Member must have length less than or equal to <max>`.
    public static func lengthAtMost(_ member: String, _ max: Int, value: ShownValue = .omitted) -> Self {
        Self(member: member, value: value, constraint: "Member must have length less than or equal to \(max)")
    }

    /// `Member must have length greater than or equal to <min>`.
    public static func lengthAtLeast(_ member: String, _ min: Int, value: ShownValue = .omitted) -> Self {
        Self(member: member, value: value, constraint: "Member must have length greater than or equal to \(min)")
    }

    /// `Member must have value less than or equal to <max>`.
    public static func valueAtMost(_ member: String, _ max: Int, value: ShownValue = .omitted) -> Self {
        Self(member: member, value: value, constraint: "Member must have value less than or equal to \(max)")
    }

    /// `Member must have value greater than or equal to <min>`.
    public static func valueAtLeast(_ member: String, _ min: Int, value: ShownValue = .omitted) -> Self {
        Self(member: member, value: value, constraint: "Member must have value greater than or equal to \(min)")
    }

    /// `Member must not be null`, shown with `Value null`.
    public static func notNull(_ member: String) -> Self {
        Self(member: member, value: .null, constraint: "Member must not be null")
    }

    /// `Member must satisfy regular expression pattern: <pattern>`.
    public static func pattern(_ member: String, _ pattern: String, value: ShownValue = .omitted) -> Self {
        Self(member: member, value: value, constraint: "Member must satisfy regular expression pattern: \(pattern)")
    }

    /// `Member must satisfy enum value set: [A, B]`.
    public static func enumValueSet(_ member: String, _ allowed: [String], value: ShownValue = .omitted) -> Self {
        Self(member: member, value: value,
             constraint: "Member must satisfy enum value set: [\(allowed.joined(separator: ", "))]")
    }
}
