/// Parses `created_at` values and `--as-of` dates into microseconds since 1970 (UTC).
///
/// Accepted: ISO 8601 (`2023-10-06T23:47:56.678Z`, `…+02:00`), the platform
/// API's form (`2023-10-06 23:47:56.678+00`), no zone (`2015-03-16 14:40:47`,
/// taken as UTC) and a date (`2026-01-01`). Works on bytes: it runs once per
/// row when `--as-of` is set.
public enum InstantParser {
    /// A date alone as a `created_at` is its first microsecond; as `--as-of`, its last.
    public enum DateOnly { case startOfDay, endOfDay }

    public static let microsPerSecond: Int64 = 1_000_000
    static let microsPerDay: Int64 = 86_400 * microsPerSecond

    @inline(__always)
    static func digits(_ p: UnsafeRawBufferPointer, _ at: Int, _ n: Int) -> Int? {
        guard at + n <= p.count else { return nil }
        var v = 0
        for i in at..<(at + n) {
            let d = Int(p[i]) &- 48
            guard d >= 0 && d <= 9 else { return nil }
            v = v * 10 + d
        }
        return v
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The instant `bytes` names, or nil when it is not one of the accepted forms.
    public static func parse(_ raw: UnsafeRawBufferPointer, dateOnly: DateOnly = .startOfDay) -> Int64? {
        var start = 0, end = raw.count
        while start < end && (raw[start] == 0x20 || raw[start] == 0x09) { start += 1 }
        while end > start && (raw[end - 1] == 0x20 || raw[end - 1] == 0x09) { end -= 1 }
        let p = UnsafeRawBufferPointer(rebasing: raw[start..<end])
        guard let year = digits(p, 0, 4), p.count >= 10, p[4] == 0x2D, let month = digits(p, 5, 2), p[7] == 0x2D,
              let day = digits(p, 8, 2), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        let date = days(year: year, month: month, day: day) * microsPerDay
        if p.count == 10 { return dateOnly == .startOfDay ? date : date + microsPerDay - 1 }
        guard p[10] == 0x54 || p[10] == 0x74 || p[10] == 0x20,    // T, t or a blank
              let hour = digits(p, 11, 2), p.count >= 16, p[13] == 0x3A, let minute = digits(p, 14, 2),
              hour <= 23, minute <= 59
        else { return nil }
        var i = 16
        var second = 0
        var micros: Int64 = 0
        if i < p.count && p[i] == 0x3A {
            guard let s = digits(p, i + 1, 2), s <= 60 else { return nil }
            second = s
            i += 3
            if i < p.count && (p[i] == 0x2E || p[i] == 0x2C) {   // fraction, . or ,
                i += 1
                var scale: Int64 = 100_000
                let fracStart = i
                while i < p.count, p[i] >= 0x30, p[i] <= 0x39 {
                    micros += Int64(p[i] - 0x30) * scale
                    scale /= 10
                    i += 1
                }
                if i == fracStart { return nil }
            }
        }
        var offsetMinutes = 0
        if i < p.count {
            let c = p[i]
            if (c == 0x5A || c == 0x7A) && i + 1 == p.count {          // Z
                i += 1
            } else if c == 0x2B || c == 0x2D {                          // +hh, +hhmm, +hh:mm
                guard let oh = digits(p, i + 1, 2), oh <= 23 else { return nil }
                var om = 0
                var j = i + 3
                if j < p.count {
                    if p[j] == 0x3A { j += 1 }
                    guard let m = digits(p, j, 2), m <= 59, j + 2 == p.count else { return nil }
                    om = m
                    j += 2
                }
                offsetMinutes = (oh * 60 + om) * (c == 0x2D ? -1 : 1)
                i = j
            } else {
                return nil
            }
        }
        guard i == p.count else { return nil }
        let seconds = Int64(hour * 3600 + minute * 60 + second - offsetMinutes * 60)
        return date + seconds * microsPerSecond + micros
    }

    /// Parses a `--as-of` value (a date means the end of that day, UTC).
    public static func parseAsOf(_ text: String) -> Int64? {
        Array(text.utf8).withUnsafeBytes { parse($0, dateOnly: .endOfDay) }
    }
}

extension InstantParser {
    /// "2026-01-31T23:59:59.999999Z" (the fraction only when not zero).
    public static func format(_ micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / microsPerSecond : (micros - microsPerSecond + 1) / microsPerSecond
        let fraction = micros - seconds * microsPerSecond
        let base = Timestamp.iso8601(Date(timeIntervalSince1970: TimeInterval(seconds)))
        guard fraction != 0 else { return base }
        var f = String(fraction)
        f = String(repeating: "0", count: 6 - f.count) + f
        return String(base.dropLast()) + "." + f + "Z"
    }
}

import Foundation
