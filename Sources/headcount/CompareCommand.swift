import ArgumentParser
import HeadcountCore

extension Headcount {
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-team change between two recorded runs.",
            discussion: """
                BEFORE and AFTER are run ids or labels. compare.csv has, per team: \
                before_legacy, before_global, after_legacy, after_global, change_global, \
                change_pct, and legacy_to_global_change/_pct (the global count after against \
                the legacy count before: the migration question); presence says whether the \
                team is in both runs, added or removed.

                Example:
                  headcount compare before-migration after-migration --out Reports/migration
                """
        )

        @Argument(help: "The earlier run (id or label).") var before: String
        @Argument(help: "The later run (id or label).") var after: String
        @OptionGroup var history: HistoryOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let result = try HistoryReports.compare(before, after, store: history.open(), formats: output.formats(),
                                                    directory: output.out)
            let t = result.comparison.totals
            FileHandleOutput.standardOutput("""
                before        \(result.comparison.before.id)  legacy \(NumberFormat.grouped(t.beforeLegacy))  global \(NumberFormat.grouped(t.beforeGlobal))
                after         \(result.comparison.after.id)  legacy \(NumberFormat.grouped(t.afterLegacy))  global \(NumberFormat.grouped(t.afterGlobal))
                teams         \(t.teamsBefore) → \(t.teamsAfter) (\(t.added) added, \(t.removed) removed)
                reports       \(result.directory)/
                """)
        }
    }
}
