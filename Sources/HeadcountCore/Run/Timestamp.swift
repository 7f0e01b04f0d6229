import Foundation

/// UTC timestamps for run ids and reports, independent of the locale.
enum Timestamp {
    /// "2026-11-27T05:41:39Z".
    static func iso8601(_ date: Date) -> String {
        let (d, t) = parts(date)
        return "\(d)T\(t)Z"
    }

    /// "20261127T054139Z": a run id that sorts by time.
    static func compact(_ date: Date) -> String {
        let (d, t) = parts(date)
        return d.replacingOccurrences(of: "-", with: "") + "T" + t.replacingOccurrences(of: ":", with: "") + "Z"
    }

    private static func parts(_ date: Date) -> (String, String) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        gmtime_r(&seconds, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return ("\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))",
                "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))")
    }
}
