import Foundation
import Testing

/// End-to-end: the built binary on the committed fixture dumps, exact numbers.
@Suite struct ReportTests {
    let teamsHeader = "team_id,contact_rows,audiences,legacy_contacts,global_contacts,duplicate_records,"
        + "reduction_pct,unsubscribed_contacts,contacts_without_audience,rejected_rows"

    // The legacy fixture, checked by hand: t1 has alice in a1+a2, bob twice in a1 (case), carol in a3;
    // t2 has alice, dave+news in b1+b2 and one invalid address; t3 has erin (tab, blank and no-break
    // space around her address) and frank without an audience.
    let legacyTeams = [
        "t1,5,3,4,3,1,25.00,1,0,0",
        "t2,4,2,3,2,1,33.33,1,0,1",
        "t3,2,1,1,2,0,0.00,0,1,0",
    ]
    let legacyAudiences = [
        "t1,a1,2,1,1", "t1,a2,1,1,0", "t1,a3,1,0,1", "t2,b1,2,1,1", "t2,b2,1,1,0", "t3,c1,1,0,1",
    ]

    @Test func legacyDumpExactCounts() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["legacy.csv.gz"])
        #expect(r.status == 0)
        #expect(r.stdout.isEmpty && r.stderr.isEmpty)
        #expect(r.file("teams.csv")?.hasPrefix(teamsHeader + "\n") == true)
        #expect(body(r.file("teams.csv")) == legacyTeams)
        #expect(r.file("audiences.csv")?.hasPrefix("team_id,audience_id,contacts,shared_contacts,exclusive_contacts\n") == true)
        #expect(body(r.file("audiences.csv")) == legacyAudiences)
        #expect(r.file("rejects.csv") == "file,line,reason,raw\n"
            + "legacy.csv.gz,10,invalid_email,\"t2,b2,9,not-an-email,X,false,2020-01-01\"\n")
        #expect(r.files() == ["audiences.csv", "rejects.csv", "report.html", "summary.json", "teams.csv"])
    }

    @Test func summaryAccountsForEveryRow() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["legacy.csv.gz"])
        let json = try JSONSerialization.jsonObject(with: Data(r.file("summary.json")!.utf8)) as! [String: Any]
        let input = (json["inputs"] as! [[String: Any]])[0]
        #expect(input["rows_read"] as? Int == 11)
        #expect(input["rows_counted"] as? Int == 10)
        #expect(input["rows_rejected"] as? Int == 1)
        #expect(input["rows_filtered"] as? Int == 0)
        #expect(input["format"] as? String == "gzip")
        #expect(input["gzip_members"] as? Int == 1)
        #expect((input["rejected_by_reason"] as! [String: Int])["invalid_email"] == 1)
        let totals = json["totals"] as! [String: Any]
        #expect(totals["legacy_contacts"] as? Int == 8)
        #expect(totals["global_contacts"] as? Int == 7)
        #expect(totals["duplicate_records"] as? Int == 2)
        #expect(totals["teams"] as? Int == 3)
        let histogram = (json["audiences_per_email"] as! [[String: Int]]).map { [$0["audiences"]!, $0["emails"]!] }
        #expect(histogram == [[0, 1], [1, 4], [2, 2]])
        #expect((json["rules"] as! [String: Any])["unsubscribed_policy"] as? String == "any")
    }

    @Test func multiMemberGzipAndPlainTextNamedGzGiveTheSameReport() throws {
        let h = Headcount(); defer { h.cleanup() }
        for fixture in ["legacy-multimember.csv.gz", "legacy-plain-named.csv.gz"] {
            let r = try h.report([fixture])
            #expect(r.status == 0, "\(fixture)")
            #expect(body(r.file("teams.csv")) == legacyTeams, "\(fixture)")
            #expect(body(r.file("audiences.csv")) == legacyAudiences, "\(fixture)")
        }
    }

    @Test(arguments: [
        ("truncated.csv.gz", "truncated gzip stream"),
        ("bad-crc.csv.gz", "incorrect data check"),
        ("bad-data.csv.gz", "corrupt gzip data"),
        ("trailing-garbage.csv.gz", "trailing garbage"),
        ("empty.csv.gz", "empty file"),
    ])
    func brokenInputFailsWithOneLineNamingFileAndOffset(fixture: String, message: String) throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report([fixture])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("headcount: \(fixture): byte "))
        #expect(r.stderr.contains(message))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!r.stderr.contains("@"), "no email address in messages")
        #expect(r.files().isEmpty, "no report file")
    }

    /// A file with no header row says what it holds instead, by path and on standard input (read
    /// by the prefetching thread): gzip members of no data, blank lines, a byte-order mark alone.
    @Test func noHeaderRowSaysWhatTheFileHolds() throws {
        let h = Headcount(); defer { h.cleanup() }
        let emptyMember: [UInt8] = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let files: [(String, [UInt8], String)] = [
            ("members.csv.gz", emptyMember + emptyMember, "its gzip members hold no data"),
            ("blank.csv", Array("\n\r\n\n".utf8), "the file holds only blank lines"),
            ("blank.csv.gz", emptyMember + [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0x03, 0xe3, 0x02, 0, 0x93, 0x06, 0xd7,
                                            0x32, 0x01, 0, 0, 0], "the file holds only blank lines"),
            ("bom.csv", [0xef, 0xbb, 0xbf], "the file holds no line"),
        ]
        for (name, bytes, why) in files {
            #expect(FileManager.default.createFile(atPath: h.dir + "/" + name, contents: Data(bytes)))
            for stdin in [false, true] {
                let r = try h.run(["report", "--contacts", stdin ? "-" : name, "--out", "out", "--quiet"],
                                  stdinFile: stdin ? name : nil)
                #expect(r.status == 1, "\(name)")
                #expect(r.stderr == "headcount: \(stdin ? "-" : name): no header row (\(why))\n")
                #expect(r.files().isEmpty, "no report file")
            }
        }
    }

    /// Many audiences (their rows are built on two threads from 4,096 on): every one in its
    /// place, in byte order, with its own counts, across the halves' boundary.
    @Test func manyAudiencesKeepTheirOrderAndCounts() throws {
        let h = Headcount(); defer { h.cleanup() }
        var rows: [String] = []
        var expected: [(team: String, audience: String, contacts: Int)] = []
        for i in 0..<5_000 {
            let team = "t\(i % 3)", audience = "a\(String(i, radix: 7))"
            let contacts = i % 4 + 1
            expected.append((team, audience, contacts))
            for c in 0..<contacts { rows.append("\(team),\(audience),c\(i)-\(c)@x.io") }
        }
        try ("team_id,audience_id,email\n" + rows.reversed().joined(separator: "\n") + "\n")
            .write(toFile: h.dir + "/c.csv", atomically: false, encoding: .utf8)
        let r = try h.report(["c.csv"], ["--no-history"])
        #expect(r.status == 0)
        let sorted = expected.sorted { a, b in
            a.team != b.team ? Array(a.team.utf8).lexicographicallyPrecedes(Array(b.team.utf8))
                : Array(a.audience.utf8).lexicographicallyPrecedes(Array(b.audience.utf8))
        }
        #expect(body(r.file("audiences.csv")) == sorted.map { "\($0.team),\($0.audience),\($0.contacts),0,\($0.contacts)" })
    }

    /// SPEC §5: `audiences.csv` sorted by team, then audience, in byte order, whatever order the
    /// rows arrive in: ids that agree in their first eight bytes, a prefix before its
    /// extensions, bytes above 0x7F after ASCII, and an audience whose one row was rejected
    /// left out.
    @Test func audiencesSortByTeamThenAudienceInByteOrder() throws {
        let h = Headcount(); defer { h.cleanup() }
        let rows = [
            "team_10,segment-b,a@x.io", "team_9,segment-aa,b@x.io", "team_10,segment-a,c@x.io",
            "team_1,z,d@x.io", "team_9,segment-a,e@x.io", "team_10,segment-ab,f@x.io",
            "team_1,é,g@x.io", "team_10,segment-a,h@x.io", "team_9,segment-a,b@x.io", "team_1,Z,i@x.io",
            "team_10,segment-c,not-an-address", "team_1,z,D@X.IO",
        ]
        try ("team_id,audience_id,email\n" + rows.joined(separator: "\n") + "\n")
            .write(toFile: h.dir + "/c.csv", atomically: false, encoding: .utf8)
        let r = try h.report(["c.csv"], ["--no-history"])
        #expect(r.status == 0)
        #expect(body(r.file("teams.csv")) == [
            "team_1,4,3,3,3,0,0.00,0,0,0", "team_10,5,3,4,4,0,0.00,0,0,1", "team_9,3,2,3,2,1,33.33,0,0,0",
        ])
        #expect(body(r.file("audiences.csv")) == [
            "team_1,Z,1,0,1", "team_1,z,1,0,1", "team_1,é,1,0,1",
            "team_10,segment-a,2,0,2", "team_10,segment-ab,1,0,1", "team_10,segment-b,1,0,1",
            "team_9,segment-a,2,1,1", "team_9,segment-aa,1,1,0",
        ])
    }

    @Test func quotingCRLFAndBOM() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["quoting.csv.gz"])
        #expect(r.status == 0)
        // alice twice (a1, a2; quoted with blanks), bob, carol, erin; the unterminated quote on line 7
        // swallows line 8 up to its next quote, so that record is one malformed row.
        // The malformed row's team column comes before its broken quote: it is t1's rejected row.
        #expect(body(r.file("teams.csv")) == ["t1,6,3,5,4,1,20.00,0,0,1"])
        #expect(body(r.file("audiences.csv")) == ["t1,a1,3,1,2", "t1,a2,1,1,0", "t1,a3,1,0,1"])
        #expect(r.file("rejects.csv") == "file,line,reason,raw\nquoting.csv.gz,7,malformed_row,"
            + "\"t1,a3,\"\"broken@example.com,unterminated\r\nt1,a1,dave@example.com,\"\"after\"\"x\"\n")
    }

    @Test func headerAliasesInAnyOrderAndCase() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["aliases.csv.gz"])
        #expect(r.status == 0)
        #expect(body(r.file("teams.csv")) == ["w1,2,2,2,1,1,50.00,1,0,0", "w2,1,1,1,1,0,0.00,1,0,0"])
        #expect(body(r.file("audiences.csv")) == ["w1,s1,1,1,0", "w1,s2,1,1,0", "w2,s1,1,0,1"])
    }

    @Test func invalidEmailsInvalidUTF8AndUnicodeCase() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["invalid.csv.gz"])
        #expect(r.status == 0)
        // Valid: JOSÉ/josé (a1, a2), ŁUKASZ/łukasz (a2), a@b@example.com (a1).
        // The row of too many fields is t1's too: its team column is readable.
        #expect(body(r.file("teams.csv")) == ["t1,15,2,4,3,1,25.00,0,0,10"])
        let rejects = body(r.file("rejects.csv")).map { $0.split(separator: ",").prefix(3).joined(separator: ",") }
        #expect(rejects == (2...9).map { "invalid.csv.gz,\($0),invalid_email" }
            + ["invalid.csv.gz,10,invalid_utf8", "invalid.csv.gz,16,malformed_row"])
    }

    /// SPEC 5: `rejected_rows` counts a team's rejected rows, malformed ones included; only a
    /// malformed row with no readable team is counted in summary.json alone.
    @Test func aMalformedRowCountsInItsTeamWhenItsTeamIsReadable() throws {
        let h = Headcount(); defer { h.cleanup() }
        var bytes = Array("email,team_id,audience_id\n".utf8)
        bytes += Array("a@x.io,t1,a1\n".utf8)
        bytes += Array("b@x.io,t1,a1,extra\n".utf8)        // too many fields: t1's
        bytes += Array("c@x.io,t2\n".utf8)                 // too few, the team column among them: t2's
        bytes += Array("d@x.io\n".utf8)                    // one field: a stray line, no team
        bytes += Array("e@x.io,t".utf8) + [0xFF] + Array(",a1,extra\n".utf8)   // unreadable team id
        bytes += Array("g@x.io,t3,\"a\"b\n".utf8)          // text after a quote, after the team: t3's
        bytes += Array("\"f@x.io,t1,a1\n".utf8)            // a quote that never closes, before the team
        #expect(FileManager.default.createFile(atPath: h.dir + "/bad.csv", contents: Data(bytes)))
        let r = try h.report(["bad.csv"])
        #expect(r.status == 0)
        #expect(body(r.file("teams.csv")) == ["t1,2,1,1,1,0,0.00,0,0,1", "t2,1,0,0,0,0,0.00,0,0,1",
                                              "t3,1,0,0,0,0,0.00,0,0,1"])
        #expect(body(r.file("rejects.csv")).map { $0.split(separator: ",").prefix(3).joined(separator: ",") }
                == (3...8).map { "bad.csv,\($0),malformed_row" })
        let json = try JSONSerialization.jsonObject(with: Data(r.file("summary.json")!.utf8)) as! [String: Any]
        let totals = json["totals"] as! [String: Any]
        #expect(totals["rejected_rows_without_team"] as? Int == 3)
        #expect(totals["contact_rows"] as? Int == 4)
        #expect(totals["rows_rejected"] as? Int == 6)

        // Without a team column every row is in --team's team, a malformed one too.
        #expect(FileManager.default.createFile(atPath: h.dir + "/noteam.csv",
                                               contents: Data("email,audience_id\na@x.io,a1\nb@x.io,a1,x\n\"c\n".utf8)))
        let fixed = try h.report(["noteam.csv"], ["--team", "acme"])
        #expect(fixed.status == 0)
        #expect(body(fixed.file("teams.csv")) == ["acme,3,1,1,1,0,0.00,0,0,2"])
    }

    @Test func contactsPlusMembershipsBothPolicies() throws {
        let h = Headcount(); defer { h.cleanup() }
        let any = try h.report(["global-contacts.csv.gz"], ["--memberships", "global-memberships.csv.gz"])
        #expect(any.status == 0)
        #expect(body(any.file("teams.csv")) == ["t1,4,2,3,3,0,0.00,1,1,0", "t2,2,1,1,1,0,0.00,0,0,1"])
        #expect(body(any.file("audiences.csv")) == ["t1,a1,2,1,1", "t1,a2,1,1,0", "t2,b1,1,0,1"])
        #expect(body(any.file("rejects.csv")) == [
            "global-contacts.csv.gz,7,invalid_email,\"t2,c6,bad-address,false\"",
            "global-memberships.csv.gz,7,unknown_contact,\"c99,a1\"",
            "global-memberships.csv.gz,8,unknown_contact,\"c6,b1\"",
            "global-memberships.csv.gz,9,invalid_value,\"c3,\"",
        ])
        // The totals' row accounting covers both files, as the rejects do, and balances.
        let json = try JSONSerialization.jsonObject(with: Data(any.file("summary.json")!.utf8)) as! [String: Any]
        let inputs = (json["inputs"] as! [[String: Any]]).map { i in
            ["rows_read", "rows_counted", "rows_rejected", "rows_filtered"].map { i[$0] as! Int }
        }
        #expect(inputs == [[6, 5, 1, 0], [8, 5, 3, 0]])
        let totals = json["totals"] as! [String: Any]
        #expect(["rows_read", "rows_counted", "rows_rejected", "rows_filtered"].map { totals[$0] as? Int }
                == [14, 10, 4, 0])
        #expect((totals["rejected_by_reason"] as? [String: Int])?["unknown_contact"] == 2)
        let all = try h.report(["global-contacts.csv.gz"], ["--memberships", "global-memberships.csv.gz",
                                                            "--unsubscribed-policy", "all"])
        #expect(body(all.file("teams.csv")) == ["t1,4,2,3,3,0,0.00,0,1,0", "t2,2,1,1,1,0,0.00,0,0,1"])
    }

    @Test func standardInputAndTabsWithoutTeamColumn() throws {
        let h = Headcount(); defer { h.cleanup() }
        let tsv = Array(try String(contentsOfFile: h.dir + "/tabs.tsv", encoding: .utf8).utf8)
        let r = try h.run(["report", "--contacts", "-", "--out", "out", "--quiet", "--team", "acme"], stdin: tsv)
        #expect(r.status == 0)
        #expect(body(r.file("teams.csv")) == ["acme,3,2,3,2,1,33.33,0,0,0"])
        let gz = try h.run(["report", "--contacts", "-", "--out", "out2", "--quiet"],
                           stdin: Array(try Data(contentsOf: URL(fileURLWithPath: h.dir + "/legacy.csv.gz"))))
        #expect(gz.status == 0)
        #expect(body(gz.file("teams.csv", in: "out2")) == legacyTeams)
    }

    /// `-` when the shell gives a file as standard input (`< dump.csv.gz`), not a pipe: the run
    /// read the header, then failed ("the file shrank while it was read") when it went on, since
    /// standard input cannot be opened again from its start as a file named by its path is.
    @Test func standardInputRedirectedFromAFile() throws {
        let h = Headcount(); defer { h.cleanup() }
        for (k, name) in ["legacy.csv.gz", "tabs.tsv"].enumerated() {
            let byPath = try h.run(["report", "--contacts", name, "--out", "path\(k)", "--quiet", "--no-history"])
            let r = try h.run(["report", "--contacts", "-", "--out", "stdin\(k)", "--quiet", "--no-history"],
                              stdinFile: name)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.file("teams.csv", in: "stdin\(k)") == byPath.file("teams.csv", in: "path\(k)"))
        }
        #expect(body(try h.run(["report", "--contacts", "-", "--out", "out", "--quiet"], stdinFile: "legacy.csv.gz")
            .file("teams.csv")) == legacyTeams)
    }

    @Test func explicitDelimiterAndColumnOverrides() throws {
        let h = Headcount(); defer { h.cleanup() }
        #expect(FileManager.default.createFile(atPath: h.dir + "/semi.csv",
                                               contents: Data("mail;org;grp\nA@x.io;o1;g1\na@x.io;o1;g2\n".utf8)))
        let r = try h.report(["semi.csv"], ["--delimiter", ";", "--email-column", "MAIL", "--team-column", "org",
                                            "--audience-column", "grp"])
        #expect(r.status == 0)
        #expect(body(r.file("teams.csv")) == ["o1,2,2,2,1,1,50.00,0,0,0"])
    }

    @Test func headerOnlyFileIsAnEmptyReport() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["header-only.csv.gz"])
        #expect(r.status == 0)
        #expect(r.file("teams.csv") == teamsHeader + "\n")
        #expect(r.file("rejects.csv") == nil)
    }

    @Test func headerOnlyFileWithoutTeamColumnHasNoTeam() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.run(["report", "--contacts", "-", "--out", "out", "--quiet", "--team", "acme"],
                          stdin: Array("email,audience_id\n".utf8))
        #expect(r.status == 0)
        #expect(r.file("teams.csv") == teamsHeader + "\n")
        let json = try JSONSerialization.jsonObject(with: Data(try #require(r.file("summary.json")).utf8)) as! [String: Any]
        let totals = json["totals"] as! [String: Any]
        #expect(totals["teams"] as? Int == 0)
        #expect(totals["contact_rows"] as? Int == 0)
    }

    @Test func hostileIdsAreQuotedInCSV() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["hostile.csv.gz"])
        #expect(body(r.file("teams.csv")) == ["plain,1,1,1,1,0,0.00,0,0,0", "\"team, \"\"one\"\"\",2,2,2,2,0,0.00,0,0,0"])
        #expect(body(r.file("audiences.csv")) == [
            "plain,a,1,0,1",
            "\"team, \"\"one\"\"\",\"\"\"><img src=x onerror=alert(1)>\",1,0,1",
            "\"team, \"\"one\"\"\",<script>alert(1)</script>,1,0,1",
        ])
    }

    @Test func outputIsTheSameWhateverTheFileOrder() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["report", "--contacts", "part-a.csv", "part-b.csv.gz", "--out", "ab", "--quiet"])
        try h.run(["report", "--contacts", "part-b.csv.gz", "part-a.csv", "--out", "ba", "--quiet"])
        for name in ["teams.csv", "audiences.csv", "rejects.csv"] {
            let ab = h.dir + "/ab/" + name, ba = h.dir + "/ba/" + name
            #expect(FileManager.default.contentsEqual(atPath: ab, andPath: ba), "\(name)")
        }
        let ab = try String(contentsOfFile: h.dir + "/ab/teams.csv", encoding: .utf8)
        #expect(body(ab) == legacyTeams)
        let epoch = ["SOURCE_DATE_EPOCH": "1767225600"]
        // Without history the fixed clock fixes the run id too; with it, a second run in the
        // same second gets a "-2" id, the one difference the SPEC allows.
        try h.run(["report", "--contacts", "part-a.csv", "part-b.csv.gz", "--out", "j1", "--quiet", "--no-history"],
                  env: epoch)
        try h.run(["report", "--contacts", "part-b.csv.gz", "part-a.csv", "--out", "j2", "--quiet", "--threads", "1",
                   "--no-history"], env: epoch)
        #expect(FileManager.default.contentsEqual(atPath: h.dir + "/j1/summary.json", andPath: h.dir + "/j2/summary.json"))
    }

    @Test func tooManyRejectsFailsWithNoReport() throws {
        let h = Headcount(); defer { h.cleanup() }
        let strict = try h.report(["invalid.csv.gz"], ["--strict"])
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("more than 0 rows rejected"))
        #expect(strict.stderr.contains("invalid.csv.gz line 2"))
        #expect(strict.files().isEmpty)
        let nine = try h.report(["invalid.csv.gz"], ["--max-rejects", "9"])
        #expect(nine.status == 1)
        let ten = try h.report(["invalid.csv.gz"], ["--max-rejects", "10"])
        #expect(ten.status == 0)
    }

    @Test func missingColumnIsAUsageErrorListingTheHeader() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["legacy.csv.gz"], ["--email-column", "mail"])
        #expect(r.status == 2)
        #expect(r.stderr == "headcount: legacy.csv.gz: line 1: no email column: looked for mail; the header has: "
            + "team_id, audience_id, contact_id, email, first_name, unsubscribed, created_at\n")
        let m = try h.report(["tabs.tsv"], ["--memberships", "global-memberships.csv.gz"])
        #expect(m.status == 2)
        #expect(m.stderr.contains("no contact_id column"))
    }

    /// A first line that is no header: UTF-16 text, a row of data (its address is not shown),
    /// one column of another delimiter. Each is one line and exit 2 (a NUL byte in the header
    /// once cut the message short, line feed included).
    @Test func aFirstLineThatIsNoHeaderSaysWhy() throws {
        let h = Headcount(); defer { h.cleanup() }
        let files: [(String, [UInt8], String)] = [
            ("utf16.csv", [0xFF, 0xFE] + Array("email,team_id\na@b.c,t\n".utf8).flatMap { [$0, 0] },
             "the header holds NUL bytes, as UTF-16 text does: Headcount reads UTF-8 (iconv -f UTF-16 -t UTF-8 converts a file)"),
            ("data.csv", Array("t1,someone@example.com\n".utf8),
             "the first line holds an @, as a row of data would (not shown): the file needs a header row"),
            ("semicolons.csv", Array("email;team_id\na@b.c;t\n".utf8),
             "the header has: email;team_id (one column: for a file separated by ';', use --delimiter ';')"),
            ("escape.csv", Array("e\u{1B}[2Jmail,x\n".utf8), "the header has: e\\u{1B}[2Jmail, x"),
        ]
        for (name, bytes, why) in files {
            #expect(FileManager.default.createFile(atPath: h.dir + "/" + name, contents: Data(bytes)))
            let r = try h.report([name])
            #expect(r.status == 2, "\(name)")
            #expect(r.stderr == "headcount: \(name): line 1: no email column: looked for email, email_address, "
                    + "Email Address; \(why)\n")
            #expect(!r.stderr.contains("someone"))
        }
        let semicolons = try h.report(["semicolons.csv"], ["--delimiter", ";"])
        #expect(semicolons.status == 0)
    }

    @Test func usageErrorsExitTwo() throws {
        let h = Headcount(); defer { h.cleanup() }
        #expect(try h.report(["no-such-file.csv.gz"]).status == 2)
        #expect(try h.report(["legacy.csv.gz"], ["--unsubscribed-policy", "some"]).status == 2)
        #expect(try h.report(["legacy.csv.gz"], ["--bogus"]).status == 2)
        #expect(try h.run(["report"]).status == 2)
        // A file named twice for one role, by one path or by two (a link), is refused before any
        // work: its rows would be counted twice in contact_rows.
        try FileManager.default.createSymbolicLink(atPath: h.dir + "/link.csv.gz", withDestinationPath: "legacy.csv.gz")
        for (files, message) in [(["legacy.csv.gz", "legacy.csv.gz"], "legacy.csv.gz: given twice for --contacts"),
                                 (["link.csv.gz", "tabs.tsv", "legacy.csv.gz"],
                                  "legacy.csv.gz: given twice for --contacts (as link.csv.gz)")] {
            let r = try h.run(["report", "--contacts"] + files + ["--out", "twice", "--no-history"])
            #expect(r.status == 2)
            #expect(r.stderr == "headcount: \(message): each file is read once\n", "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: h.dir + "/twice"))
        }
        #expect(try h.run(["report", "--contacts", "legacy.csv.gz", "--memberships", "global-memberships.csv.gz",
                           "global-memberships.csv.gz", "--out", "twice", "--no-history"]).stderr
                == "headcount: global-memberships.csv.gz: given twice for --memberships: each file is read once\n")
        // `generate`'s numbers too: each refused with exit 2, nothing written.
        for (args, message) in [(["--teams", "-1"], "--teams must be at least 1"),
                                (["--teams", "5", "--rows", "-50"], "--rows must be at least --teams"),
                                (["--seed", "-3"], "The value '-3' is invalid for '--seed <seed>'")] {
            let r = try h.run(["generate"] + args + ["--out", "g"])
            #expect(r.status == 2)
            #expect(r.stderr == "headcount: \(message) (see headcount --help)\n", "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: h.dir + "/g"))
        }
        // Negative numbers are read as values, and every usage error points to --help.
        for (flag, value, rule) in [("--max-rejects", "-1", "must be 0 or more"), ("--threads", "0", "must be 1 or more"),
                                    ("--threads", "-2", "must be 1 or more"),
                                    ("--label", "a\tb", "must be text on one line, without control characters such as a tab"),
                                    ("--label", "jan\nfeb", "must be text on one line, without control characters such as a tab"),
                                    ("--label", "", "must be text on one line, without control characters such as a tab")] {
            let r = try h.report(["legacy.csv.gz"], [flag, value])
            #expect(r.status == 2)
            #expect(r.stderr == "headcount: \(flag) \(rule) (see headcount --help)\n", "\(r.stderr)")
        }
        let missing = try h.report(["no-such-file.csv.gz"])
        #expect(missing.stderr == "headcount: no-such-file.csv.gz: no such file\n")
        // Where spill files would go is checked before any work, not when the first spill comes.
        let noTemp = try h.report(["legacy.csv.gz"], ["--temp-dir", "no-such-folder"])
        #expect(noTemp.status == 2)
        #expect(noTemp.stderr == "headcount: no-such-folder: --temp-dir: no such folder\n")
        let fileTemp = try h.report(["legacy.csv.gz"], ["--temp-dir", "legacy.csv.gz"])
        #expect(fileTemp.status == 2)
        #expect(fileTemp.stderr == "headcount: legacy.csv.gz: --temp-dir: not a folder\n")
        #expect(noTemp.files().isEmpty)
    }

    @Test func aStaleRejectsFileIsRemovedWhenTheNewRunHasNone() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.report(["legacy.csv.gz"])
        #expect(FileManager.default.fileExists(atPath: h.dir + "/out/rejects.csv"))
        let r = try h.report(["header-only.csv.gz"])
        #expect(r.status == 0)
        #expect(r.files() == ["audiences.csv", "report.html", "summary.json", "teams.csv"])
    }

    /// A run that writes fewer formats than the one before it into the same folder removes the
    /// earlier run's other report files too: a folder never mixes runs. Other files stay.
    @Test func reportFilesOfAnEarlierRunInOtherFormatsAreRemoved() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.report(["legacy.csv.gz"])
        #expect(FileManager.default.createFile(atPath: h.dir + "/out/notes.txt", contents: Data("mine".utf8)))
        #expect(try h.report(["header-only.csv.gz"], ["--format", "csv"]).status == 0)
        let r = try h.report(["header-only.csv.gz"], ["--format", "json"])
        #expect(r.status == 0)
        #expect(r.files() == ["notes.txt", "summary.json"])
    }

    @Test func summaryLineOnStandardOutput() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.run(["report", "--contacts", "legacy.csv.gz", "--out", "out"])
        #expect(r.stdout.contains("legacy contacts  8"))
        #expect(r.stdout.contains("global contacts  7"))
        #expect(r.stdout.contains("reports          out/"))
    }
}

/// End-to-end: the HTML report is written by default and escapes hostile ids.
@Suite struct HTMLEndToEndTests {
    @Test func defaultFormatsIncludeHTMLAndHostileIdsAreEscaped() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.report(["hostile.csv.gz"])
        #expect(r.status == 0)
        #expect(r.files() == ["audiences.csv", "report.html", "summary.json", "teams.csv"])
        let html = r.file("report.html")!
        #expect(!html.contains("<script>alert") && !html.contains("<img src=x"))
        #expect(html.contains("team, &quot;one&quot;"))
        let csvOnly = try h.report(["hostile.csv.gz"], ["--format", "csv", "--out", "csv"])
        #expect(csvOnly.status == 0)
    }

    @Test func showAndCompareWriteHTMLToo() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["report", "--contacts", "legacy.csv.gz", "--label", "before", "--quiet", "--out", "a"])
        try h.run(["report", "--contacts", "part-a.csv", "--label", "after", "--quiet", "--out", "b"])
        let c = try h.run(["compare", "before", "after", "--out", "cmp"])
        #expect(c.files(in: "cmp") == ["compare.csv", "compare.html", "compare.json"])
        let s = try h.run(["show", "before", "--out", "again"])
        // The same files as the run wrote, its rejects.csv included.
        #expect(s.files(in: "again") == ["audiences.csv", "rejects.csv", "report.html", "summary.json", "teams.csv"])
        #expect(s.files(in: "again") == s.files(in: "a"))
        #expect(s.file("report.html", in: "again")?.contains(">8</div><div class=\"k\">legacy contacts") == true)
    }
}

/// End-to-end: what a person at a terminal meets.
@Suite struct CommandLineMannersTests {
    @Test func helpHasAWorkedExampleForEveryCommand() throws {
        let h = Headcount(); defer { h.cleanup() }
        for command in ["report", "runs", "show", "compare", "peak", "generate", "demo"] {
            let r = try h.run([command, "--help"])
            #expect(r.status == 0, "\(command)")
            #expect(r.stdout.contains("Example:"), "\(command) --help shows an example")
            #expect(r.stdout.contains("headcount"), "\(command)")
        }
        let version = try h.run(["--version"])
        #expect(version.status == 0 && version.stdout.split(separator: ".").count == 3)
    }

    /// `-o`, `-j` and `-q`, the short forms a user of xsv or ripgrep types by habit, are `--out`,
    /// `--threads` and `--quiet`, in every command that has them.
    @Test func shortOptionsDoWhatTheLongOnesDo() throws {
        let h = Headcount(); defer { h.cleanup() }
        let long = try h.run(["report", "--contacts", "legacy.csv.gz", "--out", "long", "--threads", "1", "--quiet",
                              "--label", "jan"])
        let short = try h.run(["report", "--contacts", "legacy.csv.gz", "-o", "short", "-j", "1", "-q", "--no-history"])
        #expect(long.status == 0 && short.status == 0)
        #expect(short.stdout.isEmpty && short.stderr.isEmpty, "\(short.stdout)\(short.stderr)")
        #expect(short.files(in: "short") == ["audiences.csv", "rejects.csv", "report.html", "summary.json", "teams.csv"])
        for name in ["teams.csv", "audiences.csv", "rejects.csv"] {
            #expect(short.file(name, in: "short") != nil && short.file(name, in: "short") == long.file(name, in: "long"),
                    "\(name)")
        }
        // A number after -j is checked as after --threads.
        let zero = try h.run(["report", "--contacts", "legacy.csv.gz", "-j", "0", "--no-history"])
        #expect(zero.status == 2 && zero.stderr == "headcount: --threads must be 1 or more (see headcount --help)\n",
                "\(zero.stderr)")
        let shown = try h.run(["show", "jan", "-o", "shown", "--format", "csv"])
        #expect(shown.status == 0 && shown.file("teams.csv", in: "shown") == long.file("teams.csv", in: "long"))
        let generated = try h.run(["generate", "--teams", "3", "--rows", "40", "-o", "generated"])
        #expect(generated.status == 0 && generated.files(in: "generated") == ["contacts.csv.gz"],
                "\(generated.files(in: "generated"))")
    }

    @Test func pipedIntoHeadEndsQuietly() throws {
        let h = Headcount(); defer { h.cleanup() }
        let script = "set -o pipefail; '\(Headcount.binary)' --generate-completion-script bash | head -c 10 >/dev/null"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(message.isEmpty)
    }

    @Test func noColourWhenNotATerminal() throws {
        let h = Headcount(); defer { h.cleanup() }
        let r = try h.run(["report", "--contacts", "legacy.csv.gz", "--out", "out", "--no-history"])
        #expect(!r.stdout.contains("\u{1B}["))
        let e = try h.run(["report", "--contacts", "missing.csv"])
        #expect(!e.stderr.contains("\u{1B}["))
    }

    @Test func generateIsDeterministicForASeedAndMakesBothLayouts() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["generate", "--teams", "20", "--rows", "3000", "--seed", "9", "--out", "a"])
        try h.run(["generate", "--teams", "20", "--rows", "3000", "--seed", "9", "--out", "b"])
        #expect(FileManager.default.contentsEqual(atPath: h.dir + "/a/contacts.csv.gz", andPath: h.dir + "/b/contacts.csv.gz"))
        let g = try h.run(["generate", "--teams", "20", "--rows", "3000", "--seed", "9", "--layout", "global", "--out", "g"])
        #expect(g.stdout.contains("memberships.csv.gz"))
        let legacy = try h.run(["report", "--contacts", "a/contacts.csv.gz", "--out", "ra", "--no-history", "--quiet"])
        #expect(body(legacy.file("teams.csv", in: "ra")).count == 20)
        let global = try h.run(["report", "--contacts", "g/contacts.csv.gz", "--memberships", "g/memberships.csv.gz",
                                "--out", "rg", "--no-history", "--quiet"])
        #expect(global.status == 0)
        #expect(body(global.file("teams.csv", in: "rg")).count == 20)
        // A legacy dump written over a global one replaces its memberships file too.
        try h.run(["generate", "--teams", "20", "--rows", "3000", "--seed", "9", "--out", "g"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir + "/g") == ["contacts.csv.gz"])
    }

    /// `generate` writes as `report` does: an interrupted one leaves no truncated dump (which a
    /// later report would read as corrupt), nor the folder it made.
    @Test func anInterruptedGenerateLeavesNoDump() throws {
        let h = Headcount(); defer { h.cleanup() }
        let (p, _, stderr) = try h.spawn(["generate", "--teams", "100", "--rows", "50000000", "--out", "big"])
        #expect(h.waitFor({
            ((try? FileManager.default.contentsOfDirectory(atPath: h.dir + "/big")) ?? []).contains { $0.hasPrefix(".contacts") }
        }))
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130)
        #expect(String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                == "headcount: interrupted by SIGINT; no dump written\n")
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/big"))
    }

    /// On a terminal, standard error shows the progress line (bytes read of the total, rows a
    /// second, an ETA); nothing with `--quiet`, nor when standard error is not a terminal.
    @Test func progressShowsOnATerminalOnly() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script")
        let h = Headcount(); defer { h.cleanup() }
        let args = ["report", "--contacts", "legacy.csv.gz", "--out", "out", "--no-history"]
        let shown = try h.runOnTerminal(args)
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.output.contains("rows/s") && shown.output.contains(" of ") && shown.output.contains("(100%)"),
                "\(shown.output)")
        // The line is cleared before the summary is printed.
        #expect(shown.output.contains("\u{1B}[2K"), "\(shown.output)")
        let quiet = try h.runOnTerminal(args + ["--quiet"])
        #expect(quiet.status == 0 && quiet.output.isEmpty, "\(quiet.output)")
        let piped = try h.run(args)
        #expect(piped.status == 0 && !piped.stderr.contains("rows/s"), "\(piped.stderr)")
    }
}

/// End-to-end: the same reports whatever the memory limit, thread count and file order.
@Suite struct ScaleTests {
    /// A file is opened (its header checked) before any is read, and opened again when its turn
    /// comes: one that changed in between fails the run instead of being read with the columns
    /// of another header. The first input is a pipe, which holds the run until the second has
    /// been opened and changed.
    @Test func aFileChangedBeforeItsTurnFailsTheRun() throws {
        let h = Headcount(); defer { h.cleanup() }
        #expect(mkfifo(h.dir + "/a.fifo", 0o644) == 0)
        try "team_id,email\nt1,a@x.io\n".write(toFile: h.dir + "/b.csv", atomically: false, encoding: .utf8)
        let (p, _, stderr) = try h.spawn(["report", "--contacts", "a.fifo", "b.csv", "--threads", "1", "--out", "out",
                                          "--no-history", "--quiet"])
        let fifo = try #require(FileHandle(forWritingAtPath: h.dir + "/a.fifo"))
        fifo.write(Data("team_id,email\n".utf8))
        // The output folder is made once every input is open.
        #expect(h.waitFor({ FileManager.default.fileExists(atPath: h.dir + "/out") }))
        try "email,team_id\na@x.io,t1\n".write(toFile: h.dir + "/b.csv", atomically: false, encoding: .utf8)
        fifo.write(Data("t1,b@x.io\n".utf8))
        try fifo.close()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        #expect(message == "headcount: b.csv: the file changed after the run opened it (its size or header is not "
                + "the same)\n", "\(message)")
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/out"))
    }

    @Test func spillingGivesByteIdenticalReports() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["generate", "--teams", "50", "--rows", "200000", "--seed", "4", "--out", "g"])
        try FileManager.default.createDirectory(atPath: h.dir + "/tmp", withIntermediateDirectories: true)
        let free = try h.run(["report", "--contacts", "g/contacts.csv.gz", "--out", "free", "--no-history", "--quiet"])
        let tight = try h.run(["report", "--contacts", "g/contacts.csv.gz", "--out", "tight", "--no-history", "--quiet",
                               "--memory-limit", "1MiB", "--temp-dir", "tmp", "--threads", "1"])
        #expect(free.status == 0 && tight.status == 0)
        for name in ["teams.csv", "audiences.csv"] {
            #expect(FileManager.default.contentsEqual(atPath: h.dir + "/free/" + name, andPath: h.dir + "/tight/" + name))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir + "/tmp").isEmpty, "spill files removed")
        #expect(try h.report(["legacy.csv.gz"], ["--memory-limit", "lots"]).status == 2)
    }
}
