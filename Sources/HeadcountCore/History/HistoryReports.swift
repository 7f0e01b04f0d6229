import Foundation

/// Report files made from the history alone, without the dumps.
public enum HistoryReports {
    /// What `show` wrote, and why a file the run wrote is missing (`rejects.csv` not kept).
    public struct Shown {
        public var run: RunRecord
        public var directory: String
        public var files: [String]
        /// Set when the run wrote a `rejects.csv` that the history does not hold.
        public var rejectsNotKept: String?
    }

    /// Writes a recorded run's `teams.csv`, `audiences.csv`, `summary.json` and `rejects.csv`
    /// (byte-identical to the original run's) and `report.html` into `directory`.
    ///
    /// `rejects.csv` is written, whatever the formats, when the run wrote one and the history
    /// kept it (runs recorded by this version, files up to `KeptRejects.limit`).
    /// - Throws: `.usage` when the run is unknown or did not complete.
    public static func show(_ reference: String, store: HistoryStore, formats: [ReportFormat],
                            directory: String?) throws -> Shown {
        let run = try store.resolve(reference)
        guard run.status == "complete" else {
            throw HeadcountError(.usage, "run \(run.id) is \(run.displayStatus): it has no results to show")
        }
        let out = try OutputFolder(path: directory ?? "Reports/\(run.id)")
        var files: [String] = []
        var notKept: String?
        do {
            var data = try reportData(of: run, store: store)
            let rejected = data.rejectedByReason.values.reduce(0, +)
            if rejected > 0 {
                if let kept = try store.rejects(of: run.id), let csv = try kept.csv() {
                    data.rejectExamples = try KeptRejects.examples(in: csv, count: RejectLog.exampleCount)
                    try out.write("rejects.csv", csv)
                } else if let kept = try store.rejects(of: run.id) {
                    notKept = "rejects.csv (\(kept.bytes) bytes) is larger than the history keeps "
                        + "(\(KeptRejects.limit >> 20) MiB): its rows are in the run's own output folder"
                } else {
                    notKept = "rejects.csv is not in the history: the run was recorded by an earlier version"
                }
            }
            if formats.contains(.csv) {
                try out.write("teams.csv", ReportRenderer.teamsCSV(data.teams, extraHeader: data.extraHeader))
                try out.write("audiences.csv", ReportRenderer.audiencesCSV(data.audiences))
                files += ["teams.csv", "audiences.csv"]
            }
            if formats.contains(.json), let summary = try store.summaryJSON(of: run.id) {
                try out.write("summary.json", Array(summary.utf8))
                files.append("summary.json")
            }
            if formats.contains(.html) {
                try out.write("report.html", Array(HTMLReport.render(data).utf8))
                files.append("report.html")
            }
            if rejected > 0 && notKept == nil { files.append("rejects.csv") }
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
        return Shown(run: run, directory: out.path, files: files, rejectsNotKept: notKept)
    }

    /// A complete run's `ReportData`, rebuilt from the history (rules, options and inputs
    /// from its stored `summary.json`; reject examples are not kept).
    public static func reportData(of run: RunRecord, store: HistoryStore) throws -> ReportData {
        let summary = (try store.summaryJSON(of: run.id)).flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        } ?? [:]
        func object(_ key: String, in dict: [String: Any]) -> [(String, JSON)] {
            if case .object(let members) = JSON(any: dict[key] as Any) { return members }
            return []
        }
        let totals = summary["totals"] as? [String: Any] ?? [:]
        var rejected: [RejectReason: Int] = [:]
        for (k, v) in totals["rejected_by_reason"] as? [String: Any] ?? [:] {
            if let reason = RejectReason(rawValue: k), let n = (v as? NSNumber)?.intValue, n > 0 { rejected[reason] = n }
        }
        var data = ReportData(
            runID: run.id, label: run.label, toolVersion: run.toolVersion, startedAt: run.startedAt,
            finishedAt: run.finishedAt ?? run.startedAt, rules: object("rules", in: summary),
            options: object("options", in: summary),
            inputs: (summary["inputs"] as? [Any] ?? []).map { JSON(any: $0) },
            teams: try store.teams(of: run.id), audiences: try store.audiences(of: run.id),
            audiencesPerEmail: try store.audiencesPerEmail(of: run.id), rejectedByReason: rejected,
            rejectedWithoutTeam: (totals["rejected_rows_without_team"] as? NSNumber)?.intValue ?? 0,
            rowsRead: (totals["rows_read"] as? NSNumber)?.intValue ?? 0,
            rowsFiltered: (totals["rows_filtered"] as? NSNumber)?.intValue ?? 0)
        data.extraHeader = try store.teamsExtraHeader(of: run.id)
        data.asOf = run.asOf
        return data
    }

    /// Writes `compare.csv` and `compare.json` for two recorded runs into `directory`.
    public static func compare(_ beforeReference: String, _ afterReference: String, store: HistoryStore,
                               formats: [ReportFormat], directory: String?) throws
        -> (comparison: RunComparison, directory: String, files: [String])
    {
        let before = try store.resolve(beforeReference)
        let after = try store.resolve(afterReference)
        for run in [before, after] where run.status != "complete" {
            throw HeadcountError(.usage, "run \(run.id) is \(run.displayStatus): only complete runs can be compared")
        }
        let comparison = RunComparison(before: before, beforeTeams: try store.teams(of: before.id),
                                       after: after, afterTeams: try store.teams(of: after.id))
        let out = try OutputFolder(path: directory ?? "Reports/compare-\(before.id)-\(after.id)")
        var files: [String] = []
        do {
            if formats.contains(.csv) {
                try out.write("compare.csv", comparison.csv())
                files.append("compare.csv")
            }
            if formats.contains(.json) {
                try out.write("compare.json", comparison.json())
                files.append("compare.json")
            }
            if formats.contains(.html) {
                try out.write("compare.html", Array(HTMLReport.render(comparison).utf8))
                files.append("compare.html")
            }
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
        return (comparison, out.path, files)
    }
}
