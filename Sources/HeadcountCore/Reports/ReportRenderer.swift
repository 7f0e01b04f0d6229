/// Renders `teams.csv`, `audiences.csv` and `summary.json` from `ReportData`.
public enum ReportRenderer {
    public static let teamsHeader = ["team_id", "contact_rows", "audiences", "legacy_contacts",
                                     "global_contacts", "duplicate_records", "reduction_pct",
                                     "unsubscribed_contacts", "contacts_without_audience", "rejected_rows"]
    public static let audiencesHeader = ["team_id", "audience_id", "contacts", "shared_contacts",
                                         "exclusive_contacts"]

    /// Stages the requested report files in `out`; returns their names.
    public static func stage(_ data: ReportData, formats: [ReportFormat], in out: OutputFolder,
                             keepRejects: Bool) throws -> [String] {
        var files: [String] = []
        if formats.contains(.csv) {
            try out.write("teams.csv", teamsCSV(data.teams, extraHeader: data.extraHeader))
            try out.write("audiences.csv", audiencesCSV(data.audiences))
            files += ["teams.csv", "audiences.csv"]
        }
        if formats.contains(.json) {
            try out.write("summary.json", summaryJSON(data))
            files.append("summary.json")
        }
        if formats.contains(.html) {
            try out.write("report.html", Array(HTMLReport.render(data).utf8))
            files.append("report.html")
        }
        if keepRejects {
            files.append("rejects.csv")
        } else {
            out.discard(named: "rejects.csv")
            out.removeStale("rejects.csv")
        }
        return files
    }

    public static func teamsCSV(_ teams: [TeamRow], extraHeader: [String] = []) -> [UInt8] {
        var w = CSVWriter()
        w.row(teamsHeader + extraHeader)
        for t in teams {
            var fields: [[UInt8]] = [t.teamID]
            for n in [t.contactRows, t.audiences, t.legacyContacts, t.globalContacts, t.duplicateRecords] {
                fields.append(Array(String(n).utf8))
            }
            fields.append(Array(t.reductionPct.utf8))
            for n in [t.unsubscribedContacts, t.contactsWithoutAudience, t.rejectedRows] {
                fields.append(Array(String(n).utf8))
            }
            for f in t.extra { fields.append(Array(f.utf8)) }
            w.row(fields)
        }
        return w.bytes
    }

    public static func audiencesCSV(_ audiences: [AudienceRow]) -> [UInt8] {
        var w = CSVWriter()
        w.row(audiencesHeader)
        for a in audiences {
            w.row([a.teamID, a.audienceID, Array(String(a.contacts).utf8), Array(String(a.sharedContacts).utf8),
                   Array(String(a.exclusiveContacts).utf8)])
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
