import ArgumentParser
import HeadcountCore

extension Headcount {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write realistic synthetic dumps for demos and benchmarks.",
            discussion: """
                Skewed team sizes, overlapping audiences, case and whitespace variants of \
                addresses, a few invalid rows. The same seed gives the same files.

                Example:
                  headcount generate --teams 2000 --rows 1000000 --seed 7 --out /tmp/sample
                  headcount report --contacts /tmp/sample/contacts.csv.gz
                """
        )

        // Unconditional, as `report`'s numbers: `--teams -1` says it must be at least 1, where the
        // parser read -1 as a flag and answered "Missing value".
        @Option(parsing: .unconditional, help: "Number of teams.") var teams: Int = 200
        @Option(parsing: .unconditional, help: "Number of membership records (rows of a legacy dump).")
        var rows: Int = 50_000
        @Option(parsing: .unconditional, help: "Random seed (0 or more).") var seed: UInt64 = 1
        @Option(help: "legacy: one row per audience membership; global: contacts + memberships.")
        var layout: String = "legacy"
        @Option(name: [.customShort("o"), .long],
                help: ArgumentHelp("Folder to write contacts.csv.gz (and memberships.csv.gz) into.", valueName: "dir"))
        var out: String

        func validate() throws {
            if teams < 1 { throw ValidationError("--teams must be at least 1") }
            if rows < teams { throw ValidationError("--rows must be at least --teams") }
            if DumpLayout(rawValue: layout) == nil { throw ValidationError("--layout must be legacy or global") }
        }

        func run() throws {
            Interrupts.nothingWritten = "no dump written"
            let output = try DumpGenerator(teams: teams, rows: rows, seed: seed, layout: DumpLayout(rawValue: layout)!)
                .write(to: out)
            for file in output.files { FileHandleOutput.standardOutput(file) }
        }
    }
}
