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
            throw HeadcountError(.usage, "run \(run.id) \(run.ending): it has no results to show")
        }
        let out = try OutputFolder(path: directory ?? "Reports/\(run.id)")
        var files: [String] = []
        var notKept: String?
        do {
            var data = try reportData(of: run, store: store)
            let rejected = data.rejectedByReason.values.reduce(0, +)
            if rejected > 0 {
                let kept = try store.rejects(of: run.id)
                if let csv = try kept?.csv() {
                    data.rejectExamples = try KeptRejects.examples(in: csv, count: RejectLog.exampleCount)
                    try out.write("rejects.csv", csv)
                } else if let kept {
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
        let summaryText = try store.summaryJSON(of: run.id) ?? "{}"
        let summary = (try? JSONSerialization.jsonObject(with: Data(summaryText.utf8)) as? [String: Any]) ?? [:]
        func object(_ key: String, in dict: [String: Any]) -> [(String, JSON)] {
            if case .object(let members) = JSON(any: dict[key] as Any) { return members }
            return []
        }
        let totals = summary["totals"] as? [String: Any] ?? [:]
        var rejected: [RejectReason: Int] = [:]
        for (k, v) in totals["rejected_by_reason"] as? [String: Any] ?? [:] {
            if let reason = RejectReason(rawValue: k), let n = (v as? NSNumber)?.intValue, n > 0 { rejected[reason] = n }
        }
        // JSONSerialization forgets the order of an object's keys; report.html lists the rules
        // in the order the run wrote them.
        let ruleOrder = keyOrder(ofMember: "rules", in: summaryText)
        let rules = object("rules", in: summary).sorted {
            (ruleOrder.firstIndex(of: $0.0) ?? Int.max, $0.0) < (ruleOrder.firstIndex(of: $1.0) ?? Int.max, $1.0)
        }
        var data = ReportData(
            runID: run.id, label: run.label, toolVersion: run.toolVersion, startedAt: run.startedAt,
            finishedAt: run.finishedAt ?? run.startedAt, rules: rules,
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

    /// The keys of the object that is member `name` of the top-level JSON object `text`, in
    /// the order they are written; empty when there is no such object.
    /// - Complexity: O(text), one pass over its bytes.
    static func keyOrder(ofMember name: String, in text: String) -> [String] {
        let bytes = Array(text.utf8)
        var keys: [String] = []
        var depth = 0, i = 0
        var inside = false            // within the member's object
        var lastString: [UInt8]?      // the last string read, a key if a colon follows
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x22 {
                var j = i + 1, s: [UInt8] = []
                while j < bytes.count && bytes[j] != 0x22 {
                    if bytes[j] == 0x5C { s.append(bytes[j]); j += 1 }   // an escape: keep both bytes
                    if j < bytes.count { s.append(bytes[j]) }
                    j += 1
                }
                lastString = s
                i = j + 1
                continue
            }
            switch c {
            case 0x3A:   // a colon: the string before it was a key
                if let key = lastString {
                    if inside && depth == 2 { keys.append(String(decoding: key, as: UTF8.self)) }
                    if !inside && depth == 1 && key == Array(name.utf8) {
                        // The member's value: an object starts at the next non-blank byte.
                        var j = i + 1
                        while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x0A || bytes[j] == 0x09) { j += 1 }
                        if j < bytes.count && bytes[j] == 0x7B { inside = true }
                    }
                }
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                depth -= 1
                if inside && depth == 1 { return keys }
            default: break
            }
            if c != 0x20 && c != 0x0A && c != 0x09 && c != 0x0D { lastString = nil }
            i += 1
        }
        return keys
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
