import ArgumentParser
import HeadcountCore

extension Headcount {
    struct Runs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the recorded runs, newest first.",
            discussion: """
                A run whose process ended without finishing (killed) shows as abandoned; a failed
                run's error is on the line below it.

                Example:
                  headcount runs --db Reports/headcount.sqlite
                  headcount runs --json | jq '.[0].id'
                """
        )

        @OptionGroup var history: HistoryOptions
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let runs = try history.open().runs()
            if json {
                let items: [JSON] = runs.map { r in
                    .object([
                        ("id", .string(r.id)), ("label", r.label.map(JSON.string) ?? .null),
                        ("started_at", .string(r.startedAt)), ("finished_at", r.finishedAt.map(JSON.string) ?? .null),
                        ("status", .string(r.displayStatus)), ("error", r.error.map(JSON.string) ?? .null),
                        ("tool_version", .string(r.toolVersion)),
                        ("inputs", .array(r.inputs.map(JSON.string))),
                        ("teams", r.teams.map(JSON.int) ?? .null),
                        ("legacy_contacts", r.legacyContacts.map(JSON.int) ?? .null),
                        ("global_contacts", r.globalContacts.map(JSON.int) ?? .null),
                    ])
                }
                FileHandleOutput.standardOutput(JSON.array(items).rendered())
                return
            }
            var rows = [["ID", "LABEL", "STARTED", "STATUS", "INPUTS", "TEAMS", "LEGACY", "GLOBAL"]]
            for r in runs {
                rows.append([r.id, r.label ?? "", r.startedAt, r.displayStatus, r.inputs.joined(separator: " "),
                             r.teams.map(NumberFormat.grouped) ?? "", r.legacyContacts.map(NumberFormat.grouped) ?? "",
                             r.globalContacts.map(NumberFormat.grouped) ?? ""])
            }
            // A failed run's error on a line of its own under it: too long for a column.
            var lines: [String] = []
            for (i, line) in Table.lines(rows, rightAligned: [5, 6, 7]).enumerated() {
                lines.append(line)
                if i > 0, runs[i - 1].status == "failed", let error = runs[i - 1].error {
                    lines.append("  error: " + Table.oneLine(error))
                }
            }
            FileHandleOutput.standardOutput(lines.joined(separator: "\n"))
        }
    }
}

/// A plain text table with columns padded to their widest cell.
enum Table {
    /// `cell` with its control characters written as `\u{9}` (`ColumnMap.printable`): a file
    /// name may hold a tab or a line feed, and a row must stay one line.
    static func oneLine(_ cell: String) -> String {
        cell.unicodeScalars.contains(where: ColumnMap.isControl) ? ColumnMap.printable(cell, maxLength: .max) : cell
    }

    /// The table's lines, one a row, without trailing blanks (empty cells at the end of a row).
    static func lines(_ rows: [[String]], rightAligned: Set<Int> = []) -> [String] {
        let rows = rows.map { $0.map(oneLine) }
        guard let first = rows.first else { return [] }
        var widths = [Int](repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? pad + cell : (i == row.count - 1 ? cell : cell + pad)
            }.joined(separator: "  ")
        }.map { line in
            var line = line
            while line.last == " " { line.removeLast() }
            return line
        }
    }
}
