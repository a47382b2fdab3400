import Foundation

/// A whole-second UTC instant in SigV4's ISO 8601 basic form, `YYYYMMDDTHHMMSSZ`.
///
/// Conversion is done by civil-calendar arithmetic rather than a date formatter, so it is
/// exact, locale-free and never reads the clock.
struct SigV4Timestamp: Sendable, Hashable, Comparable {
    /// Seconds since 1970-01-01T00:00:00Z.
    // Invariant: within years 1970...9999, so the basic form always has 16 characters.
    let epochSeconds: Int64

    static let epochSecondsMax: Int64 = 253_402_300_799 // 9999-12-31T23:59:59Z

    init?(epochSeconds: Int64) {
        guard epochSeconds >= 0, epochSeconds <= Self.epochSecondsMax else { return nil }
        self.epochSeconds = epochSeconds
    }

    /// `epochSeconds` clamped into 1970...9999.
    init(clampingEpochSeconds seconds: Int64) {
        epochSeconds = min(max(seconds, 0), Self.epochSecondsMax)
    }

    /// `date` truncated to the second and clamped into 1970...9999.
    init(clamping date: Date) {
        let seconds = date.timeIntervalSince1970
        if seconds.isNaN || seconds < 0 {
            self.init(clampingEpochSeconds: 0)
        } else if seconds >= Double(Self.epochSecondsMax) {
            self.init(clampingEpochSeconds: Self.epochSecondsMax)
        } else {
            self.init(clampingEpochSeconds: Int64(seconds.rounded(.down)))
        }
    }

    /// The instant `date`, truncated to the second; nil outside 1970...9999.
    init?(date: Date) {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds >= 0, seconds <= Double(Self.epochSecondsMax) else { return nil }
        self.init(epochSeconds: Int64(seconds))
    }

    /// Parses exactly `YYYYMMDDTHHMMSSZ`; nil for anything else, impossible dates included.
    init?(basic text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == 0x54, bytes[15] == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              year >= 1970, (1...12).contains(month), hour < 24, minute < 60, second < 60,
              (1...Self.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        let days = Self.daysFromCivil(year: year, month: month, day: day)
        self.init(epochSeconds: days * 86_400 + hour * 3_600 + minute * 60 + second)
    }

    /// `YYYYMMDDTHHMMSSZ`.
    var basic: String { String(decoding: basicBytes, as: UTF8.self) }

    /// `YYYYMMDDTHHMMSSZ` as ASCII bytes.
    var basicBytes: [UInt8] {
        let days = epochSeconds / 86_400
        let secondOfDay = epochSeconds % 86_400
        let (year, month, day) = Self.civilFromDays(days)
        var out: [UInt8] = []
        out.reserveCapacity(16)
        Self.appendDigits(year, 4, to: &out)
        Self.appendDigits(month, 2, to: &out)
        Self.appendDigits(day, 2, to: &out)
        out.append(UInt8(ascii: "T"))
        Self.appendDigits(secondOfDay / 3_600, 2, to: &out)
        Self.appendDigits(secondOfDay % 3_600 / 60, 2, to: &out)
        Self.appendDigits(secondOfDay % 60, 2, to: &out)
        out.append(UInt8(ascii: "Z"))
        assert(out.count == 16, "the basic form has 16 characters")
        return out
    }

    /// `YYYYMMDD`, the date of the credential scope.
    var dateStamp: String { String(decoding: basicBytes[..<8], as: UTF8.self) }

    /// The instant as a Foundation date.
    var date: Date { Date(timeIntervalSince1970: TimeInterval(epochSeconds)) }

    static func < (a: SigV4Timestamp, b: SigV4Timestamp) -> Bool { a.epochSeconds < b.epochSeconds }

    /// `value` in decimal, zero-padded to `width` digits. `value` is in 0..<10^width.
    private static func appendDigits(_ value: Int64, _ width: Int, to out: inout [UInt8]) {
        assert(value >= 0, "no negative fields")
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days, restricted to years >= 0.
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
