#if canImport(Glibc)
import Glibc
#endif

/// A certificate's validity period, in seconds since the Unix epoch (UTC).
public struct CertificateValidity: Sendable, Equatable {
    public var notBefore: Int64
    public var notAfter: Int64

    /// Back-dating of `notBefore`, so a peer whose clock is slightly behind accepts a
    /// certificate issued a moment ago.
    public static let clockSkewSeconds: Int64 = 60
    public static let leafLifetimeDays: Int64 = 825
    public static let authorityLifetimeDays: Int64 = 3_653
    static let secondsPerDay: Int64 = 86_400

    public init(notBefore: Int64, notAfter: Int64) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// Node and client certificates: `now - 60 s` to `now + 825 days`.
    public static func leaf(now: Int64 = currentTime()) -> CertificateValidity {
        CertificateValidity(notBefore: now - clockSkewSeconds, notAfter: now + leafLifetimeDays * secondsPerDay)
    }

    /// The cluster CA: `now - 60 s` to `now + 10 years`.
    public static func authority(now: Int64 = currentTime()) -> CertificateValidity {
        CertificateValidity(notBefore: now - clockSkewSeconds, notAfter: now + authorityLifetimeDays * secondsPerDay)
    }

    /// The wall clock, in whole seconds since the epoch.
    public static func currentTime() -> Int64 {
        Int64(time(nil))
    }

    func check() throws(CertificateError) {
        // 1970-01-01 through 9999-12-31 23:59:59, the last instant GeneralizedTime can express.
        let representable: ClosedRange<Int64> = 0...253_402_300_799
        guard representable.contains(notBefore), representable.contains(notAfter) else {
            throw .invalidArgument("validity must lie between 1970 and 9999")
        }
        guard notBefore < notAfter else {
            throw .invalidArgument("notBefore (\(notBefore)) must be earlier than notAfter (\(notAfter))")
        }
    }
}
