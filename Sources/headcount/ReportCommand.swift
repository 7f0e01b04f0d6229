import ArgumentParser
import Foundation
import HeadcountCore

extension Headcount {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count contacts in the dumps and write the reports.",
            discussion: """
                Reads every --contacts file (and --memberships file), counts per team the \
                legacy contacts (distinct audience + email pairs) and the global contacts \
                (distinct emails), and writes teams.csv, audiences.csv, summary.json, \
                report.html and, when rows were rejected, rejects.csv into --out.

                Cost: one pass over the inputs; memory grows with the number of distinct \
                contacts (about 45 bytes each), not with the size of the files.

                Example:
                  headcount report --contacts contacts.csv.gz \\
                      --memberships memberships.csv.gz \\
                      --out Reports/2026-11 --max-rejects 100
                """
        )

        @Option(name: .customLong("contacts"), parsing: .upToNextOption,
                help: ArgumentHelp("Contacts dump(s): CSV, gzip or plain; - for standard input.", valueName: "file"))
        var contacts: [String] = []

        @Option(name: .customLong("memberships"), parsing: .upToNextOption,
                help: ArgumentHelp("Membership dump(s): contact_id,audience_id rows.", valueName: "file"))
        var memberships: [String] = []

        @Option(help: ArgumentHelp("Quotas: team_id,plan,contact_limit per team.", valueName: "file"))
        var quotas: String?

        @Option(help: ArgumentHelp("Price tiers: tier,contact_limit,monthly_price, ascending.", valueName: "file"))
        var tiers: String?

        @Option(help: ArgumentHelp("Count only contacts created at or before DATE (a date alone: the end of that day, UTC).",
                                   valueName: "date"))
        var asOf: String?

        @Option(name: [.customShort("o"), .long],
                help: ArgumentHelp("Output folder (default: Reports/<run id>/).", valueName: "dir"))
        var out: String?

        @Option(help: ArgumentHelp("Report files to write: csv, json, html (comma-separated).", valueName: "list"))
        var format: String = "csv,json,html"

        @Option(help: "A label for this run, shown in the reports.")
        var label: String?

        @Option(help: ArgumentHelp("Unsubscribed when any record is, or only when all are.", valueName: "any|all"))
        var unsubscribedPolicy: String = "any"

        // Unconditional (so is `--threads`): `--max-rejects -1` takes -1 and says it must be 0 or
        // more, where the parser read -1 as a flag and answered "Missing value".
        @Option(parsing: .unconditional,
                help: ArgumentHelp("Fail (exit 1) when more than N rows are rejected.", valueName: "N"))
        var maxRejects: Int?

        @Flag(help: "Fail on the first rejected row (--max-rejects 0).")
        var strict = false

        @Option(help: ArgumentHelp("The team of every row when the contacts have no team column.", valueName: "id"))
        var team: String = "default"

        @Option(help: ArgumentHelp("Field delimiter: a single character or 'tab' (default: detected).", valueName: "char"))
        var delimiter: String?

        @Option(help: ArgumentHelp("Header of the email column.", valueName: "name"))
        var emailColumn: String?
        @Option(help: ArgumentHelp("Header of the team column.", valueName: "name"))
        var teamColumn: String?
        @Option(help: ArgumentHelp("Header of the contact id column.", valueName: "name"))
        var contactIdColumn: String?
        @Option(help: ArgumentHelp("Header of the audience column.", valueName: "name"))
        var audienceColumn: String?

        @Option(name: [.customShort("j"), .long], parsing: .unconditional,
                help: ArgumentHelp("Input files read at once, each on its own inflating and scanning threads, "
                                   + "and threads for the tally and a join on disk (default: the number of "
                                   + "cores). Never changes the reports.", valueName: "N"))
        var threads: Int?

        @Option(help: ArgumentHelp("Memory for the counting, id and contact tables before counting spills to "
                                   + "disk, e.g. 256MiB, 4GiB.", valueName: "size"))
        var memoryLimit: String = "1GiB"

        @Option(help: ArgumentHelp("Folder for spill files (default: the system's temporary folder).", valueName: "dir"))
        var tempDir: String?

        @Option(help: ArgumentHelp("The run history database (default: Reports/headcount.sqlite).", valueName: "file"))
        var db: String?

        @Flag(help: "Do not record this run in the history.")
        var noHistory = false

        @Flag(name: [.customShort("q"), .long], help: "Print nothing on success.")
        var quiet = false

        func validate() throws {
            if contacts.isEmpty { throw ValidationError("--contacts needs at least one file") }
            if strict && maxRejects != nil { throw ValidationError("--strict and --max-rejects cannot be combined") }
            if noHistory && db != nil { throw ValidationError("--db and --no-history cannot be combined") }
            if let maxRejects, maxRejects < 0 { throw ValidationError("--max-rejects must be 0 or more") }
            if let threads, threads < 1 { throw ValidationError("--threads must be 1 or more") }
            // A label names the run on one line of `runs`' table, and in `show` and `compare`.
            if let label, label.isEmpty || label.unicodeScalars.contains(where: ColumnMap.isControl) {
                throw ValidationError("--label must be text on one line, without control characters such as a tab")
            }
            if UnsubscribedPolicy(rawValue: unsubscribedPolicy) == nil {
                throw ValidationError("--unsubscribed-policy must be any or all")
            }
            _ = try parsedFormats()
            guard let limit = ByteSize.parse(memoryLimit) else {
                throw ValidationError("--memory-limit: '\(memoryLimit)' is not a size (e.g. 512MiB, 2GiB)")
            }
            if limit < 1 << 20 { throw ValidationError("--memory-limit must be at least 1MiB") }
            if let asOf, InstantParser.parseAsOf(asOf) == nil {
                throw ValidationError("--as-of: unknown date format '\(asOf)' (use 2026-01-31, 2026-01-31T23:59:59Z, "
                                      + "2026-01-31 23:59:59+01 or 2026-01-31 23:59:59)")
            }
            _ = try parsedDelimiter()
        }

        func parsedFormats() throws -> [ReportFormat] { try ReportFormat.parseList(format) }

        func parsedDelimiter() throws -> UInt8? {
            guard let delimiter else { return nil }
            switch delimiter {
            case "tab", "\\t", "\t": return 0x09
            default:
                let bytes = Array(delimiter.utf8)
                guard bytes.count == 1, bytes[0] != 0x22, bytes[0] != 0x0A, bytes[0] != 0x0D else {
                    throw ValidationError("--delimiter must be one ASCII character (not a quote or newline), or 'tab'")
                }
                return bytes[0]
            }
        }

        func run() throws {
            var config = ReportConfiguration(contacts: contacts)
            config.memberships = memberships
            config.outputDirectory = out
            config.formats = try parsedFormats()
            config.label = label
            config.unsubscribedPolicy = UnsubscribedPolicy(rawValue: unsubscribedPolicy)!
            config.maxRejects = strict ? 0 : maxRejects
            config.defaultTeam = team
            config.delimiter = try parsedDelimiter()
            config.columnOverrides[.email] = emailColumn
            config.columnOverrides[.team] = teamColumn
            config.columnOverrides[.contactID] = contactIdColumn
            config.columnOverrides[.audience] = audienceColumn
            if let threads { config.threads = threads }
            config.memoryLimit = ByteSize.parse(memoryLimit)!
            if let tempDir { config.temporaryDirectory = tempDir }
            config.quotasPath = quotas
            config.tiersPath = tiers
            config.asOf = asOf.flatMap(InstantParser.parseAsOf)
            config.historyPath = noHistory ? nil : (db ?? HistoryStore.defaultPath)
            config.fixedEpoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { Int($0) }

            let progress = ProgressLine.make(quiet: quiet)
            if let progress { config.progress = { progress.update($0) } }
            defer { progress?.finish() }
            let job = ReportJob(configuration: config)
            let outcome = try job.run()
            progress?.finish()
            if !quiet { FileHandleOutput.standardOutput(Summary.text(outcome)) }
            // Done: the report is in place and the history closed. The job's tables and the
            // report's rows go back to the system with the process; freed one object at a time
            // first, they kept it alive 11 ms longer on M (127,000 audience rows, the id tables).
            withExtendedLifetime((job, outcome)) { Glibc.exit(0) }
        }
    }
}

extension ReportFormat {
    /// "csv,json,html" → formats, in order, without repeats.
    static func parseList(_ list: String) throws -> [ReportFormat] {
        var formats: [ReportFormat] = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            guard let f = ReportFormat(rawValue: name) else {
                throw ValidationError("--format: unknown format '\(name)' (csv, json, html)")
            }
            if !formats.contains(f) { formats.append(f) }
        }
        if formats.isEmpty { throw ValidationError("--format needs at least one of csv, json, html") }
        return formats
    }
}

/// The few lines `report` prints on success.
enum Summary {
    static func text(_ outcome: ReportOutcome) -> String {
        let d = outcome.data
        let t = d.totals
        let saving = d.savedRecords
        let rows: [(String, String)] = [
            ("teams", NumberFormat.grouped(d.teams.count)),
            ("contact rows", NumberFormat.grouped(t.contactRows)),
            ("legacy contacts", NumberFormat.grouped(t.legacyContacts)),
            ("global contacts", NumberFormat.grouped(t.globalContacts)),
            ("saving", "\(NumberFormat.grouped(saving)) (\(Decimal2.percent(saving, of: t.legacyContacts))%)"),
            ("rejected rows", NumberFormat.grouped(d.rowsRejected)),
            ("reports", outcome.outputDirectory + "/"),
        ]
        return rows.map { Terminal.dim($0.0.padding(toLength: 17, withPad: " ", startingAt: 0)) + Terminal.bold($0.1) }
            .joined(separator: "\n")
    }

}
