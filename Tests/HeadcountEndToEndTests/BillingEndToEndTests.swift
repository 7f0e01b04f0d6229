import Foundation
import Testing

/// End-to-end: quotas, tiers, --as-of and period peaks with exact values.
@Suite struct BillingEndToEndTests {
    func write(_ h: Headcount, _ name: String, _ text: String) {
        #expect(FileManager.default.createFile(atPath: h.dir + "/" + name, contents: Data(text.utf8)))
    }

    @Test func quotasAndTiersColumnsAndRevenue() throws {
        let h = Headcount(); defer { h.cleanup() }
        // t1: legacy 4, global 3; t2: legacy 3, global 2; t3: legacy 1, global 2 (no quota).
        write(h, "quotas.csv", "team_id,plan,contact_limit\nt1,pro,3\nt2,starter,2\n")
        write(h, "tiers.csv", "tier,contact_limit,monthly_price\nfree,2,0\nstarter,3,9.90\npro,3.5e0,1\n")
        #expect(try h.report(["legacy.csv.gz"], ["--tiers", "tiers.csv"]).status == 2, "a bad limit is refused")
        write(h, "tiers.csv", "tier,contact_limit,monthly_price\nfree,1,0\nstarter,3,9.90\n")
        let r = try h.report(["legacy.csv.gz"], ["--quotas", "quotas.csv", "--tiers", "tiers.csv"])
        #expect(r.status == 0)
        let header: String = "team_id,contact_rows,audiences,legacy_contacts,"
            + "global_contacts,duplicate_records,reduction_pct,unsubscribed_contacts,contacts_without_audience,"
            + "rejected_rows,plan,contact_limit,legacy_usage_pct,global_usage_pct,legacy_over_limit,global_over_limit,"
            + "legacy_tier,global_tier,legacy_price,global_price,price_change"
        let firstLine = r.file("teams.csv")?.split(separator: "\n").first.map(String.init)
        #expect(firstLine == header)
        // t1 is exactly at its limit under the global model (3 of 3): not over. t1's legacy 4 is above
        // the top tier (3): it gets the top tier and is listed in summary.json.
        #expect(body(r.file("teams.csv")) == [
            "t1,5,3,4,3,1,25.00,1,0,0,pro,3,133.33,100.00,true,false,starter,starter,9.90,9.90,0.00",
            "t2,4,2,3,2,1,33.33,1,0,1,starter,2,150.00,100.00,true,false,starter,starter,9.90,9.90,0.00",
            "t3,2,1,1,2,0,0.00,0,1,0,,,,,,,free,starter,0.00,9.90,9.90",
        ])
        let json = try JSONSerialization.jsonObject(with: Data(r.file("summary.json")!.utf8)) as! [String: Any]
        let billing = json["billing"] as! [String: Any]
        let quotas = billing["quotas"] as! [String: Any]
        #expect(quotas["teams_over_limit_legacy"] as? Int == 2)
        #expect(quotas["teams_over_limit_global"] as? Int == 0)
        #expect(quotas["teams_over_to_under"] as? Int == 2)
        let tiers = billing["tiers"] as! [String: Any]
        #expect((tiers["monthly_revenue_legacy"] as? NSNumber)?.stringValue == "19.8")
        #expect(r.file("summary.json")!.contains("\"monthly_revenue_legacy\": 19.80,"))
        #expect(r.file("summary.json")!.contains("\"monthly_revenue_global\": 29.70,"))
        #expect(r.file("summary.json")!.contains("\"monthly_revenue_change\": 9.90,"))
        #expect(tiers["teams_changing_tier"] as? Int == 1)
        #expect(tiers["teams_above_top_tier_legacy"] as? [String] == ["t1"])
        #expect(tiers["teams_above_top_tier_global"] as? [String] == [])
        // The history keeps the billing columns: show writes the same teams.csv.
        let shown = try h.run(["show", try h.runs()[0]["id"] as! String, "--out", "again"])
        #expect(shown.status == 0)
        #expect(FileManager.default.contentsEqual(atPath: h.dir + "/out/teams.csv", andPath: h.dir + "/again/teams.csv"))
    }

    /// A limit of 0: no usage percentage (its cells empty), and any contact is over it.
    @Test func aZeroLimitHasNoUsagePercentage() throws {
        let h = Headcount(); defer { h.cleanup() }
        write(h, "c.csv", "team_id,email\nt1,a@x.io\nt2,b@x.io\n")
        write(h, "quotas.csv", "team_id,plan,contact_limit\nt1,trial,0\nt3,trial,0\n")
        let r = try h.report(["c.csv"], ["--quotas", "quotas.csv"])
        #expect(r.status == 0)
        #expect(body(r.file("teams.csv")) == ["t1,1,0,0,1,0,0.00,0,1,0,trial,0,,,false,true", "t2,1,0,0,1,0,0.00,0,1,0,,,,,,"])
    }

    @Test func badBillingInputsAreUsageErrorsWithFileAndLine() throws {
        let h = Headcount(); defer { h.cleanup() }
        write(h, "dup.csv", "team_id,plan,contact_limit\nt1,a,5\nt1,b,6\n")
        let r = try h.report(["legacy.csv.gz"], ["--quotas", "dup.csv"])
        #expect(r.status == 2)
        #expect(r.stderr == "headcount: dup.csv: line 3: team 't1' appears again (first on line 2)\n")
        #expect(r.files().isEmpty)
        let date = try h.report(["legacy.csv.gz"], ["--as-of", "31/01/2026"])
        #expect(date.status == 2)
        #expect(date.stderr.hasPrefix("headcount: --as-of: unknown date format '31/01/2026'"))
        #expect(date.stderr.split(separator: "\n").count == 1)
    }

    @Test func asOfCountsContactsCreatedAtOrBeforeTheBoundarySecond() throws {
        let h = Headcount(); defer { h.cleanup() }
        write(h, "c.csv", """
            team_id,audience_id,email,created_at
            t1,a1,on-the-second@x.io,2026-01-31T12:00:00Z
            t1,a1,one-second-later@x.io,2026-01-31T12:00:01Z
            t1,a1,same-instant-other-zone@x.io,2026-01-31 13:00:00+01
            t1,a1,earlier-day@x.io,2026-01-30
            t1,a1,no-date@x.io,
            t1,a1,bad-date@x.io,31/01/2026
            t1,a2,later-day@x.io,2026-02-01

            """)
        let r = try h.report(["c.csv"], ["--as-of", "2026-01-31T12:00:00Z"])
        #expect(r.status == 0)
        #expect(body(r.file("teams.csv")) == ["t1,7,1,3,3,0,0.00,0,0,2"])
        #expect(try r.accounting() == [7, 3, 2, 2])
        let json = try JSONSerialization.jsonObject(with: Data(r.file("summary.json")!.utf8)) as! [String: Any]
        #expect((json["rules"] as! [String: Any])["as_of"] as? String == "2026-01-31T12:00:00Z")
        #expect(r.rejectedLines == ["c.csv,6,invalid_value", "c.csv,7,invalid_value"])
        // A date alone means the end of that day.
        let day = try h.report(["c.csv"], ["--as-of", "2026-01-31", "--out", "day"])
        #expect(body(day.file("teams.csv", in: "day")) == ["t1,7,1,4,4,0,0.00,0,0,2"])
        // Without a created_at column --as-of is a usage error.
        #expect(try h.report(["legacy-plain-named.csv.gz", "tabs.tsv"], ["--as-of", "2026-01-01"]).status == 2)
    }

    /// A row with several faults gets one reason, the first of: its shape, its team id, its
    /// created_at under --as-of (a row created later is filtered whatever else is wrong with
    /// it), its unsubscribed value, its audience id, its address.
    @Test func aRowWithSeveralFaultsIsRejectedForTheFirstInTheReadmesOrder() throws {
        let h = Headcount(); defer { h.cleanup() }
        let rows: [[UInt8]] = [
            Array("team_id,audience_id,email,unsubscribed,created_at\n".utf8),
            Array("t1,a1,ok@x.io,false,2026-01-01\n".utf8),                 // 2 counted
            Array("t1,a1,no-at,maybe,2026-02-01\n".utf8),                   // 3 filtered: created later
            Array("t1,a1,no-at,maybe,bogus\n".utf8),                        // 4 invalid_value: created_at
            Array("t1,a1,no-at,maybe,2026-01-01\n".utf8),                   // 5 invalid_value: unsubscribed
            Array("t1,a".utf8) + [0xFF] + Array(",no-at,false,2026-01-01\n".utf8),   // 6 invalid_utf8: audience
            Array("t1,a1,no-at,false,2026-01-01\n".utf8),                   // 7 invalid_email
            Array("t1,a1,no-at,false\n".utf8),                              // 8 malformed_row
            [0x74, 0xFE] + Array(",a1,no-at,maybe,bogus\n".utf8),           // 9 invalid_utf8, no team
        ]
        try Data(rows.flatMap { $0 }).write(to: URL(fileURLWithPath: h.dir + "/c.csv"))
        let r = try h.report(["c.csv"], ["--as-of", "2026-01-31"])
        #expect(r.status == 0)
        #expect(r.rejectedLines == ["c.csv,4,invalid_value", "c.csv,5,invalid_value", "c.csv,6,invalid_utf8",
                                    "c.csv,7,invalid_email", "c.csv,8,malformed_row", "c.csv,9,invalid_utf8"])
        #expect(body(r.file("teams.csv")) == ["t1,7,1,1,1,0,0.00,0,0,5"])
        // Read, counted, rejected, filtered.
        #expect(try r.accounting() == [8, 1, 6, 1])
    }

    @Test func asOfFiltersTheMembershipsOfLaterContacts() throws {
        let h = Headcount(); defer { h.cleanup() }
        write(h, "c.csv", "contact_id,email,created_at\nc1,a@x.io,2026-01-01\nc2,b@x.io,2026-03-01\n")
        write(h, "m.csv", "contact_id,audience_id\nc1,l1\nc2,l1\nc3,l1\n")
        let r = try h.report(["c.csv"], ["--memberships", "m.csv", "--as-of", "2026-02-01"])
        #expect(body(r.file("teams.csv")) == ["default,2,1,1,1,0,0.00,0,0,0"])
        let json = try JSONSerialization.jsonObject(with: Data(r.file("summary.json")!.utf8)) as! [String: Any]
        let m = (json["inputs"] as! [[String: Any]]).first { $0["role"] as? String == "memberships" }!
        #expect(m["rows_read"] as? Int == 3 && m["rows_counted"] as? Int == 1)
        #expect(m["rows_filtered"] as? Int == 1 && m["rows_rejected"] as? Int == 1)
    }

    @Test func peakOfAPeriodFromTheHistory() throws {
        let h = Headcount(); defer { h.cleanup() }
        write(h, "c.csv", """
            team_id,audience_id,email,created_at
            t1,a1,a@x.io,2026-01-01
            t1,a2,a@x.io,2026-01-10
            t1,a1,b@x.io,2026-01-20
            t2,b1,c@x.io,2026-01-05

            """)
        for asOf in ["2026-01-05", "2026-01-15", "2026-01-25", "2026-02-10"] {
            #expect(try h.report(["c.csv"], ["--as-of", asOf, "--label", asOf, "--out", asOf]).status == 0)
        }
        // Deleted contacts would lower a later count; here counts only grow, so January's peak is its last run.
        let r = try h.run(["peak", "--from", "2026-01-01", "--to", "2026-01-31", "--out", "peak"])
        #expect(r.status == 0)
        let runs = try h.runs()
        let id = { (label: String) in runs.first { $0["label"] as? String == label }!["id"] as! String }
        #expect(body(r.file("peak.csv", in: "peak")) == [
            "t1,3,\(id("2026-01-25")),2,\(id("2026-01-25"))",
            "t2,1,\(id("2026-01-05")),1,\(id("2026-01-05"))",
        ])
        #expect(r.stdout == "3 runs, 2 teams: peak.csv, peak.json, peak.html in peak/\n")
        #expect(r.file("peak.html", in: "peak")?.contains("<td>t1</td><td class=\"n\" data-v=\"3\">3</td>") == true)
        // Each format alone: html was accepted and silently wrote nothing.
        let html = try h.run(["peak", "--from", "2026-01-01", "--to", "2026-01-31", "--out", "only-html", "--format", "html"])
        #expect(html.status == 0 && html.files(in: "only-html") == ["peak.html"])
        let early = try h.run(["peak", "--from", "2026-01-01", "--to", "2026-01-10", "--out", "early"])
        #expect(body(early.file("peak.csv", in: "early")) == ["t1,1,\(id("2026-01-05")),1,\(id("2026-01-05"))",
                                                               "t2,1,\(id("2026-01-05")),1,\(id("2026-01-05"))"])
    }
}
