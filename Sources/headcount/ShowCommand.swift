import ArgumentParser
import HeadcountCore

extension Headcount {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a recorded run's reports again, from the history alone.",
            discussion: """
                RUN is a run id or a label (the newest complete run with it). teams.csv, \
                audiences.csv, summary.json, rejects.csv and report.html are byte-identical to \
                the original run's; the dumps are not read. The history keeps a rejects.csv of \
                up to 64 MiB.

                Example:
                  headcount show 2026-11 --out /tmp/november
                """
        )

        @Argument(help: "Run id or label.") var reference: String
        @OptionGroup var history: HistoryOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let result = try HistoryReports.show(reference, store: history.open(), formats: output.formats(),
                                                 directory: output.out)
            FileHandleOutput.standardOutput("run \(result.run.id): \(result.files.joined(separator: ", ")) in \(result.directory)/")
            if let missing = result.rejectsNotKept { FileHandleOutput.standardError("headcount: note: \(missing)") }
        }
    }
}
