/// A point in time, in milliseconds since 1970-01-01T00:00:00Z (UTC, no leap seconds).
///
/// Written as RFC 3339 / ISO 8601 in UTC: `2023-12-28T15:00:00Z`, with `.mmm` only when the
/// milliseconds are not zero. That written form is what event hashes cover.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    /// The current time of the system clock.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    /// Parses `2023-12-28`, `2023-12-28T15:00Z`, `2023-12-28T15:00:00Z`, `2023-12-28T15:00:00.123+01:00`
    /// (also with a space instead of `T`). A date alone means its start in UTC; a date and time must
    /// name its zone (`Z` or an offset), since a guessed zone would make evidence wrong by hours.
    /// Digits past milliseconds are truncated.
    public init?(iso8601 text: String) {
        let b = Array(text.utf8)
        var p = 0
        func number(_ digits: Int) -> Int? {
            guard p + digits <= b.count else { return nil }
            var v = 0
            for k in 0..<digits {
                let c = b[p + k]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            p += digits
            return v
        }
        func expect(_ c: Character) -> Bool {
            guard p < b.count, b[p] == c.asciiValue! else { return false }
            p += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            (1...12).contains(month), (1...Timestamp.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var seconds = Int64(Timestamp.daysFromCivil(year: year, month: month, day: day)) * 86_400
        var millis: Int64 = 0
        if p < b.count {
            guard b[p] == UInt8(ascii: "T") || b[p] == UInt8(ascii: " ") || b[p] == UInt8(ascii: "t") else { return nil }
            p += 1
            guard let hour = number(2), expect(":"), let minute = number(2), hour < 24, minute < 60 else { return nil }
            var second = 0
            if expect(":") {
                guard let s = number(2), s < 60 else { return nil }
                second = s
                if expect(".") || expect(",") {
                    var digits = 0
                    while p < b.count, b[p] >= 0x30, b[p] <= 0x39 {
                        if digits < 3 { millis = millis * 10 + Int64(b[p] - 0x30) }
                        digits += 1
                        p += 1
                    }
                    guard digits > 0 else { return nil }
                    for _ in digits..<max(digits, 3) { millis *= 10 }
                }
            }
            seconds += Int64(hour * 3600 + minute * 60 + second)
            guard p < b.count else { return nil }  // no zone
            if expect("Z") || expect("z") {
                // UTC
            } else if b[p] == UInt8(ascii: "+") || b[p] == UInt8(ascii: "-") {
                let sign: Int64 = b[p] == UInt8(ascii: "+") ? 1 : -1
                p += 1
                guard let oh = number(2), oh < 24 else { return nil }
                _ = expect(":")
                guard let om = number(2), om < 60 else { return nil }
                seconds -= sign * Int64(oh * 3600 + om * 60)
            } else {
                return nil
            }
        }
        guard p == b.count else { return nil }
        milliseconds = seconds * 1000 + millis
    }

    /// `2023-12-28T15:00:00Z`, or `2023-12-28T15:00:00.250Z` when there are milliseconds.
    public var iso8601: String {
        let totalSeconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let millis = Int(milliseconds - totalSeconds * 1000)
        let days = totalSeconds >= 0 ? totalSeconds / 86_400 : (totalSeconds - 86_399) / 86_400
        let secondOfDay = Int(totalSeconds - days * 86_400)
        let (y, m, d) = Timestamp.civilFromDays(Int(days))
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        var out = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if millis != 0 { out += ".\(pad(millis, 3))" }
        return out + "Z"
    }

    public var description: String { iso8601 }

    // Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian calendar.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
