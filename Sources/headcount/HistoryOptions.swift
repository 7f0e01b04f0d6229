import ArgumentParser
import HeadcountCore

/// Flags shared by the commands that read the run history.
struct HistoryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The run history database.", valueName: "file"))
    var db: String = HistoryStore.defaultPath

    func open() throws -> HistoryStore {
        try HistoryStore(path: db)
    }
}

/// `--out` and `--format` for the commands that write report files.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Output folder.", valueName: "dir"))
    var out: String?

    @Option(help: ArgumentHelp("Files to write: csv, json (comma-separated).", valueName: "list"))
    var format: String = "csv,json"

    func formats() throws -> [ReportFormat] {
        var formats: [ReportFormat] = []
        for name in format.split(separator: ",").map({ String($0).lowercased().filter { $0 != " " } }) {
            if name == "html" {
                throw ValidationError("--format html is not available in this version; use csv,json")
            }
            guard let f = ReportFormat(rawValue: name) else {
                throw ValidationError("--format: unknown format '\(name)' (csv, json)")
            }
            if !formats.contains(f) { formats.append(f) }
        }
        if formats.isEmpty { throw ValidationError("--format needs at least one of csv, json") }
        return formats
    }
}
