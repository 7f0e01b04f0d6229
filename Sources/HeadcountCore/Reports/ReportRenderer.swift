/// Renders `teams.csv`, `audiences.csv` and `summary.json` from `ReportData`.
public enum ReportRenderer {
    public static let teamsHeader = ["team_id", "contact_rows", "audiences", "legacy_contacts",
                                     "global_contacts", "duplicate_records", "reduction_pct",
                                     "unsubscribed_contacts", "contacts_without_audience", "rejected_rows"]
    public static let audiencesHeader = ["team_id", "audience_id", "contacts", "shared_contacts",
                                         "exclusive_contacts"]

    /// Every file a report can have.
    public static let reportFiles = ["teams.csv", "audiences.csv", "summary.json", "report.html", "rejects.csv"]

    /// Stages the requested report files in `out`; returns their names.
    public static func stage(_ data: ReportData, formats: [ReportFormat], in out: OutputFolder,
                             keepRejects: Bool) throws -> [String] {
        var jobs: [(name: String, render: () -> [UInt8])] = []
        if formats.contains(.csv) {
            jobs.append(("teams.csv", { teamsCSV(data.teams, extraHeader: data.extraHeader) }))
            jobs.append(("audiences.csv", { audiencesCSV(data.audiences) }))
        }
        if formats.contains(.json) { jobs.append(("summary.json", { summaryJSON(data) })) }
        if formats.contains(.html) { jobs.append(("report.html", { Array(HTMLReport.render(data).utf8) })) }
        // The files are independent: staged here, in order, then each rendered, written and
        // synced on a thread of its own, so that one file's wait for the disk overlaps the
        // others' rendering (M: the four waited 10-20 ms one after another, with a core idle).
        let sinks = try jobs.map { try out.open($0.name) }
        try Workers.forEach(jobs.count) { k in
            try sinks[k].write(jobs[k].render())
            try sinks[k].close()
        }
        var files = jobs.map(\.name)
        if keepRejects {
            files.append("rejects.csv")
        } else {
            out.discard(named: "rejects.csv")
        }
        // An earlier run's report files that this one does not write go when it commits, so that
        // the folder never mixes runs.
        for name in reportFiles where !files.contains(name) { out.replaces(name) }
        return files
    }

    public static func teamsCSV(_ teams: [TeamRow], extraHeader: [String] = []) -> [UInt8] {
        var w = CSVWriter(reserving: teams.count * 48)
        w.row(teamsHeader + extraHeader)
        // Rows borrowed in place, as in `audiencesCSV`: copied out, each row retained and released
        // its id while `report.html`'s thread ranked the same rows (on M within the noise of the
        // 4-19 ms this file takes; BENCHMARKS.md).
        teams.withUnsafeBufferPointer { rows in
            for i in rows.indices {
                let bound = RowBuilder.bound(bytes: rows[i].teamID.count) + 8 * RowBuilder.numberBound
                    + RowBuilder.hundredthsBound + rows[i].extra.reduce(0) { $0 + RowBuilder.bound(bytes: $1.utf8.count) }
                w.row(within: bound) { row in
                    rows[i].teamID.withUnsafeBytes { row.field($0) }
                    row.field(rows[i].contactRows)
                    row.field(rows[i].audiences)
                    row.field(rows[i].legacyContacts)
                    row.field(rows[i].globalContacts)
                    row.field(rows[i].duplicateRecords)
                    row.field(hundredths: rows[i].reductionHundredths)
                    row.field(rows[i].unsubscribedContacts)
                    row.field(rows[i].contactsWithoutAudience)
                    row.field(rows[i].rejectedRows)
                    for f in rows[i].extra { row.field(text: f) }
                }
            }
        }
        return w.bytes
    }

    public static func audiencesCSV(_ audiences: [AudienceRow]) -> [UInt8] {
        var w = CSVWriter(reserving: audiences.count * 32)
        w.row(audiencesHeader)
        // Rows borrowed in place: copied out one by one, each row retained and released its two
        // ids, whose counts the other files' threads were changing at the same time (M: 127,000
        // rows, the longest file).
        audiences.withUnsafeBufferPointer { rows in
            for i in rows.indices {
                let bound = RowBuilder.bound(bytes: rows[i].teamID.count) + RowBuilder.bound(bytes: rows[i].audienceID.count)
                    + 3 * RowBuilder.numberBound
                w.row(within: bound) { row in
                    rows[i].teamID.withUnsafeBytes { row.field($0) }
                    rows[i].audienceID.withUnsafeBytes { row.field($0) }
                    row.field(rows[i].contacts)
                    row.field(rows[i].sharedContacts)
                    row.field(rows[i].exclusiveContacts)
                }
            }
        }
        return w.bytes
    }

    public static func summaryJSON(_ data: ReportData) -> [UInt8] {
        let t = data.totals
        let saving = data.savedRecords
        let reasons = RejectReason.allCases.sorted().map { ($0.rawValue, JSON.int(data.rejectedByReason[$0] ?? 0)) }
        let histogram = data.audiencesPerEmail.enumerated().map { k, n in
            JSON.object([("audiences", .int(k)), ("emails", .int(n))])
        }
        let json = JSON.object([
            ("run_id", .string(data.runID)),
            ("label", data.label.map(JSON.string) ?? .null),
            ("tool", .object([("name", .string("headcount")), ("version", .string(data.toolVersion))])),
            ("started_at", .string(data.startedAt)),
            ("finished_at", .string(data.finishedAt)),
            ("rules", .object(data.rules)),
            ("options", .object(data.options)),
            ("inputs", .array(data.inputs)),
            ("totals", .object([
                ("teams", .int(data.teams.count)),
                ("audiences", .int(t.audiences)),
                ("contact_rows", .int(t.contactRows)),
                ("legacy_contacts", .int(t.legacyContacts)),
                ("global_contacts", .int(t.globalContacts)),
                ("duplicate_records", .int(saving)),
                ("reduction_pct", .number(Decimal2.percent(saving, of: t.legacyContacts))),
                ("unsubscribed_contacts", .int(t.unsubscribedContacts)),
                ("contacts_without_audience", .int(t.contactsWithoutAudience)),
                ("rows_read", .int(data.rowsRead)),
                ("rows_counted", .int(data.rowsRead - data.rowsRejected - data.rowsFiltered)),
                ("rows_rejected", .int(data.rowsRejected)),
                ("rows_filtered", .int(data.rowsFiltered)),
                ("rejected_by_reason", .object(reasons)),
                ("rejected_rows_without_team", .int(data.rejectedWithoutTeam)),
            ])),
            ("audiences_per_email", .array(histogram)),
        ] + (data.billing.map { [("billing", $0)] } ?? []))
        return Array(json.rendered().utf8)
    }
}
