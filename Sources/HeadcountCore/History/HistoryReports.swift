/// Report files made from the history alone, without the dumps.
public enum HistoryReports {
    /// Writes a recorded run's `teams.csv`, `audiences.csv` and `summary.json`
    /// (byte-identical to the original run's) into `directory`.
    /// - Throws: `.usage` when the run is unknown or did not complete.
    public static func show(_ reference: String, store: HistoryStore, formats: [ReportFormat],
                            directory: String?) throws -> (run: RunRecord, directory: String, files: [String]) {
        let run = try store.resolve(reference)
        guard run.status == "complete" else {
            throw HeadcountError(.usage, "run \(run.id) is \(run.displayStatus): it has no results to show")
        }
        let out = try OutputFolder(path: directory ?? "Reports/\(run.id)")
        var files: [String] = []
        do {
            if formats.contains(.csv) {
                try out.write("teams.csv", ReportRenderer.teamsCSV(store.teams(of: run.id),
                                                                   extraHeader: store.teamsExtraHeader(of: run.id)))
                try out.write("audiences.csv", ReportRenderer.audiencesCSV(store.audiences(of: run.id)))
                files += ["teams.csv", "audiences.csv"]
            }
            if formats.contains(.json), let summary = try store.summaryJSON(of: run.id) {
                try out.write("summary.json", Array(summary.utf8))
                files.append("summary.json")
            }
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
        return (run, out.path, files)
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
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
        return (comparison, out.path, files)
    }
}
