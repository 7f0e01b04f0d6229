import ArgumentParser
import HeadcountCore

/// Flags shared by the commands that read the run history.
struct HistoryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The run history database.", valueName: "file"))
    var db: String = HistoryStore.defaultPath

    /// The history, which must exist: these commands only read it.
    func open() throws -> HistoryStore {
        try HistoryStore(path: db, mustExist: true)
    }
}

/// `--out` and `--format` for the commands that write report files.
struct OutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output folder.", valueName: "dir"))
    var out: String?

    @Option(help: ArgumentHelp("Files to write: csv, json, html (comma-separated).", valueName: "list"))
    var format: String = "csv,json,html"

    func formats() throws -> [ReportFormat] { try ReportFormat.parseList(format) }
}
