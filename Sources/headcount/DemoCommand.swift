import ArgumentParser
import Foundation
import HeadcountCore

extension Headcount {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a small sample dump, report on it, and say where the reports are.",
            discussion: """
                Writes about 50,000 rows for 200 teams into a temporary folder and runs \
                `report` on them into Reports/demo/.

                Example:
                  swift run -c release headcount demo
                """
        )

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output folder.", valueName: "dir"))
        var out: String = "Reports/demo"

        func run() throws {
            let sample = NSTemporaryDirectory() + "headcount-demo-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: sample) }
            let dump = try DumpGenerator(teams: 200, rows: 50_000, seed: 2026).write(to: sample)
            var config = ReportConfiguration(contacts: dump.files)
            config.outputDirectory = out
            config.label = "demo"
            let outcome = try ReportJob(configuration: config).run()
            FileHandleOutput.standardOutput(Summary.text(outcome))
            FileHandleOutput.standardOutput("\nOpen the report: \(out)/report.html")
        }
    }
}
