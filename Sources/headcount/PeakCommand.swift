import ArgumentParser
import HeadcountCore

extension Headcount {
    struct Peak: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per team, the highest counts of a billing period, from the history.",
            discussion: """
                Looks at the complete runs whose --as-of (or start time) falls between --from \
                and --to, and writes per team the highest legacy and global counts and the run \
                each came from: the high-watermark some plans bill on.

                Example:
                  headcount peak --from 2026-01-01 --to 2026-01-31 --out Reports/peak-2026-01
                """
        )

        @Option(help: ArgumentHelp("First day (or instant) of the period.", valueName: "date")) var from: String
        @Option(help: ArgumentHelp("Last day (or instant) of the period, inclusive.", valueName: "date")) var to: String
        @OptionGroup var history: HistoryOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard let f = parse(from, end: false), let t = parse(to, end: true) else {
                throw ValidationError("--from and --to take dates such as 2026-01-31 or 2026-01-31T12:00:00Z")
            }
            if f > t { throw ValidationError("--from must not be after --to") }
        }

        func parse(_ text: String, end: Bool) -> Int64? {
            Array(text.utf8).withUnsafeBytes { InstantParser.parse($0, dateOnly: end ? .endOfDay : .startOfDay) }
        }

        func run() throws {
            let report = try PeakReport(store: history.open(), from: parse(from, end: false)!, to: parse(to, end: true)!)
            let dir = output.out ?? "Reports/peak-\(from)-\(to)"
            let files = try report.write(formats: output.formats(), to: dir)
            FileHandleOutput.standardOutput("\(report.runs.count) runs, \(report.rows.count) teams: "
                                            + "\(files.joined(separator: ", ")) in \(dir)/")
        }
    }
}
