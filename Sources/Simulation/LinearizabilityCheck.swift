/// Placeholder until the checker lands; replaced in the next step.
enum LinearizabilityCheck {
    static func run(history: [KeyStateOp], parameters: SimParameters) -> (String, SimFailure?) {
        ("not checked", nil)
    }
}
