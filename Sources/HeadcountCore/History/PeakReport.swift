/// The high-watermark of each team over a billing period, from the history:
/// the highest legacy and global counts among the complete runs whose
/// `--as-of` (or start time, without one) falls in the period.
public struct PeakReport: Sendable {
    public struct Row: Sendable, Equatable {
        public var teamID: [UInt8]
        public var peakLegacy: Int
        public var peakLegacyRun: String
        public var peakGlobal: Int
        public var peakGlobalRun: String
    }

    public var from: Int64
    public var to: Int64
    public var runs: [RunRecord]
    public var rows: [Row]

    public static let header = ["team_id", "peak_legacy", "peak_legacy_run", "peak_global", "peak_global_run"]

    /// The peaks of `runs` as given (for the tests of the pages).
    init(from: Int64, to: Int64, runs: [RunRecord], rows: [Row]) {
        (self.from, self.to, self.runs, self.rows) = (from, to, runs, rows)
    }

    /// Computes the peaks from `store` for the period [from, to] (µs since 1970, inclusive).
    /// Ties go to the earlier run.
    public init(store: HistoryStore, from: Int64, to: Int64) throws {
        self.from = from
        self.to = to
        func when(_ r: RunRecord) -> Int64? {
            (r.asOf ?? r.startedAt).withCString { p in
                InstantParser.parse(UnsafeRawBufferPointer(start: p, count: strlen(p)))
            }
        }
        runs = try store.runs().filter { r in
            guard r.status == "complete", let t = when(r) else { return false }
            return t >= from && t <= to
        }.sorted { (when($0) ?? 0, $0.id) < (when($1) ?? 0, $1.id) }
        var peaks: [[UInt8]: Row] = [:]
        for run in runs {
            for t in try store.teams(of: run.id) {
                var row = peaks[t.teamID] ?? Row(teamID: t.teamID, peakLegacy: -1, peakLegacyRun: "", peakGlobal: -1,
                                                 peakGlobalRun: "")
                if t.legacyContacts > row.peakLegacy { row.peakLegacy = t.legacyContacts; row.peakLegacyRun = run.id }
                if t.globalContacts > row.peakGlobal { row.peakGlobal = t.globalContacts; row.peakGlobalRun = run.id }
                peaks[t.teamID] = row
            }
        }
        rows = peaks.values.sorted { $0.teamID.lexicographicallyPrecedes($1.teamID) }
    }

    public func csv() -> [UInt8] {
        var w = CSVWriter()
        w.row(Self.header)
        for r in rows {
            w.row([r.teamID] + [String(r.peakLegacy), r.peakLegacyRun, String(r.peakGlobal), r.peakGlobalRun]
                .map { Array($0.utf8) })
        }
        return w.bytes
    }

    public func json() -> [UInt8] {
        let json = JSON.object([
            ("from", .string(InstantParser.format(from))),
            ("to", .string(InstantParser.format(to))),
            ("runs", .array(runs.map { r in
                .object([("id", .string(r.id)), ("label", r.label.map(JSON.string) ?? .null),
                         ("as_of", r.asOf.map(JSON.string) ?? .null), ("started_at", .string(r.startedAt))])
            })),
            ("teams", .array(rows.map { r in
                .object([("team_id", .string(String(decoding: r.teamID, as: UTF8.self))),
                         ("peak_legacy", .int(r.peakLegacy)), ("peak_legacy_run", .string(r.peakLegacyRun)),
                         ("peak_global", .int(r.peakGlobal)), ("peak_global_run", .string(r.peakGlobalRun))])
            })),
        ])
        return Array(json.rendered().utf8)
    }

    /// Writes `peak.csv`, `peak.json` and `peak.html` (as `formats` asks) into `directory`.
    public func write(formats: [ReportFormat], to directory: String) throws -> [String] {
        let out = try OutputFolder(path: directory)
        var files: [String] = []
        do {
            if formats.contains(.csv) { try out.write("peak.csv", csv()); files.append("peak.csv") }
            if formats.contains(.json) { try out.write("peak.json", json()); files.append("peak.json") }
            if formats.contains(.html) {
                try out.write("peak.html", Array(HTMLReport.render(self).utf8))
                files.append("peak.html")
            }
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
        return files
    }
}

import Foundation
