import Foundation
import Mustache
import Testing
@testable import HeadcountCore

@Suite struct HTMLReportTests {
    func team(_ id: String, _ legacy: Int, _ global: Int) -> TeamRow {
        TeamRow(teamID: Array(id.utf8), contactRows: legacy, audiences: 1, legacyContacts: legacy, globalContacts: global,
                unsubscribedContacts: 0, contactsWithoutAudience: 0, rejectedRows: 0)
    }

    func data(_ teams: [TeamRow]) -> ReportData {
        ReportData(runID: "r1", label: "<b>label</b>", toolVersion: "0.1.0", startedAt: "2026-01-01T00:00:00Z",
                   finishedAt: "2026-01-01T00:00:01Z", rules: [("unsubscribed_policy", .string("any"))], options: [],
                   inputs: [.object([("role", .string("contacts")), ("path", .string("a<b>.csv"))])], teams: teams,
                   audiences: [], audiencesPerEmail: [0, 3, 1], rejectedByReason: [:], rejectedWithoutTeam: 0,
                   rowsRead: 10, rowsFiltered: 0)
    }

    @Test func textFromTheDataIsEscapedEverywhere() {
        let hostile = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "'&amp;"]
        let html = HTMLReport.render(data(hostile.enumerated().map { team($0.1, 10 + $0.0, 5) }))
        #expect(!html.contains("<script>alert"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>label"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"))
        #expect(html.contains("a&lt;b&gt;.csv"))
        // The one script is the inline table sorter.
        #expect(html.components(separatedBy: "<script>").count == 2)
    }

    /// The all-teams table's rows are written without the template engine; they must be what the
    /// template made of them: the same markup, the same numbers, the same escaping.
    @Test func allTeamsRowsAreTheTemplates() throws {
        let template = try MustacheTemplate(string: """
            {{#teams}}<tr><td>{{team}}</td><td class="n" data-v="{{contactRows.v}}">{{contactRows.text}}</td>\
            <td class="n" data-v="{{audiences.v}}">{{audiences.text}}</td><td class="n" data-v="{{legacy.v}}">\
            {{legacy.text}}</td><td class="n" data-v="{{global.v}}">{{global.text}}</td><td class="n" \
            data-v="{{saving.v}}">{{saving.text}}</td><td class="n">{{pct}}</td><td class="n" \
            data-v="{{unsubscribed.v}}">{{unsubscribed.text}}</td><td class="n" data-v="{{withoutAudience.v}}">\
            {{withoutAudience.text}}</td><td class="n" data-v="{{rejected.v}}">{{rejected.text}}</td></tr>
            {{/teams}}
            """)
        let ids = ["t1", "<script>alert(1)</script>", "a&b", "\"quoted\"", "it's", "Zoë", "日本", "&amp;", "><'\"&", ""]
        let teams = ids.enumerated().map { k, id in
            TeamRow(teamID: Array(id.utf8), contactRows: k * 1_234_567, audiences: k, legacyContacts: 1000 * k + 7,
                    globalContacts: 999 * k, unsubscribedContacts: k % 3, contactsWithoutAudience: 12_345 * k,
                    rejectedRows: k == 4 ? 1_000_000 : 0)
        }
        func number(_ n: Int) -> [String: Any] { ["v": n, "text": NumberFormat.grouped(n)] }
        let rows = teams.map { t -> [String: Any] in
            ["team": String(decoding: t.teamID, as: UTF8.self), "contactRows": number(t.contactRows),
             "audiences": number(t.audiences), "legacy": number(t.legacyContacts), "global": number(t.globalContacts),
             "saving": number(t.duplicateRecords), "pct": t.reductionPct, "unsubscribed": number(t.unsubscribedContacts),
             "withoutAudience": number(t.contactsWithoutAudience), "rejected": number(t.rejectedRows)]
        }
        #expect(HTMLReport.allTeamsRows(teams) == template.render(["teams": rows]))
        #expect(HTMLReport.allTeamsRows(teams).contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"))
        #expect(HTMLReport.allTeamsRows(teams).contains("<td>&gt;&lt;&#39;&quot;&amp;</td>"))
        #expect(HTMLReport.allTeamsRows([]) == "")
        #expect(HTMLReport.escaped("plain") == "plain")
    }

    @Test func selfContainedWithHeadlineNumbers() {
        let html = HTMLReport.render(data([team("t1", 1_234_567, 1_000_000), team("t2", 10, 10)]))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<link"))
        #expect(html.contains("1,234,577"), "legacy total with thousands separators")
        #expect(html.contains("1,000,010"))
        #expect(html.contains("234,567 (19.00%)"))
        #expect(html.contains("<svg"))
        #expect(html.contains("@page { size: A4"))
    }

    /// A report that counted no email (an empty dump, or every row rejected) says so instead of
    /// drawing an empty histogram.
    @Test func noEmailCountedIsASentenceNotAnEmptyChart() {
        var empty = data([])
        empty.audiencesPerEmail = [0]
        let html = HTMLReport.render(empty)
        #expect(html.contains("None: no email was counted."))
        #expect(!html.contains("Emails by number of audiences"))
        let counted = HTMLReport.render(data([team("t1", 4, 4)]))
        #expect(!counted.contains("None: no email was counted."))
        #expect(counted.contains("Emails by number of audiences"))
    }

    @Test func largeReportsListTheLargestTeamsOnly() {
        let teams = (0..<3000).map { team(String(format: "t%05d", $0), $0 + 1, 1) }
        let html = HTMLReport.render(data(teams))
        #expect(html.contains("The 2,000 largest of 3,000 teams"))
        #expect(html.contains("<td>t02999</td>"))
        #expect(!html.contains("<td>t00000</td>"), "the smallest team is left to teams.csv")
    }

    /// The tables of the largest teams: larger values first, equal values in byte order of the
    /// team id (a prefix first), whatever order the rows come in.
    @Test func teamsRankByValueThenIdBytes() {
        let rows: [(id: [UInt8], n: Int)] = [(Array("b".utf8), 5), (Array("ab".utf8), 5), (Array("z".utf8), 9),
                                             (Array("a".utf8), 5), (Array("é".utf8), 5), (Array("c".utf8), 1)]
        let order = HTMLReport.ranked(rows, by: \.n, id: \.id)
        #expect(order.map { String(decoding: rows[$0].id, as: UTF8.self) } == ["z", "a", "ab", "b", "é", "c"])
        #expect(HTMLReport.ranked([(id: [UInt8], n: Int)](), by: \.n, id: \.id).isEmpty)
    }

    /// Rows already in id order (a report's teams) are ranked by their values and positions packed
    /// into numbers; the order must be the one the ids give, equal ids and all, and values that
    /// span too much for the numbers go the other way, to the same order.
    @Test func rowsInIdOrderRankAsTheirIdsSay() {
        var seed: UInt64 = 11
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int(seed >> 33) % n
        }
        func reference(_ rows: [(id: [UInt8], n: Int)]) -> [Int] {
            rows.indices.sorted { a, b in   // stable: equal ids keep their order
                rows[a].n != rows[b].n ? rows[a].n > rows[b].n : rows[a].id.lexicographicallyPrecedes(rows[b].id)
            }
        }
        let ids = (0..<3000).map { _ in Array(String(next(900)).utf8) + (next(4) == 0 ? [0xC3, 0xA9] : []) }
            .sorted { $0.lexicographicallyPrecedes($1) }
        for spread in [1, 7, 1_000_000] {
            let rows = ids.map { (id: $0, n: next(spread)) }
            #expect(HTMLReport.ranked(rows, by: \.n, id: \.id) == reference(rows))
            #expect(HTMLReport.ranked(rows, by: \.n, id: \.id, limit: 2000) == Array(reference(rows).prefix(2000)))
            #expect(HTMLReport.ranked(rows, by: \.n, id: \.id, limit: 1000, including: { $0.n % 2 == 0 })
                    == Array(reference(rows).filter { rows[$0].n % 2 == 0 }.prefix(1000)))
        }
        #expect(HTMLReport.byValueThenPosition([3, 1, 3, 2], [0, 1, 2, 3]) == [0, 2, 3, 1])
        let extremes = [(id: [UInt8]([0x61]), n: Int.min), (id: [0x62], n: Int.max), (id: [0x63], n: 0)]
        #expect(HTMLReport.byValueThenPosition(extremes.map(\.n), [0, 1, 2]) == nil)
        #expect(HTMLReport.ranked(extremes, by: \.n, id: \.id) == [1, 2, 0])
    }

    /// Numbers written as bytes read as `String` writes them, and grouped by threes with commas.
    @Test func numbersAreWrittenAsTheirText() {
        for n in [0, 7, -7, 999, 1000, -1000, 12_345, 1_234_567, -999_999, Int.max, Int.min] {
            var plain: [UInt8] = [], grouped: [UInt8] = []
            NumberFormat.append(n, to: &plain)
            NumberFormat.append(n, grouped: true, to: &grouped)
            #expect(String(decoding: plain, as: UTF8.self) == String(n))
            let digits = String(n.magnitude)
            var expected = n < 0 ? "-" : ""
            for (i, c) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { expected.append(",") }
                expected.append(c)
            }
            #expect(String(decoding: grouped, as: UTF8.self) == expected)
        }
        #expect(NumberFormat.grouped(-1_234_567) == "-1,234,567" && NumberFormat.grouped(100) == "100")
    }

    /// A short list (the largest-saving teams) is picked in one pass; it is the same list, in the
    /// same order, as the first rows of the full ranking with the same rows left out.
    @Test func aShortRankingIsTheFullRankingsFirstRows() {
        var seed: UInt64 = 7
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int(seed >> 33) % n
        }
        // Few distinct values, so that most comparisons are ties settled by the ids.
        let rows: [(id: [UInt8], n: Int)] = (0..<1000).map { _ in
            (Array(String(next(500)).utf8) + (next(3) == 0 ? [0xC3, 0xA9] : []), next(12))
        }
        for limit in [0, 1, 20, 50] {
            let full = HTMLReport.ranked(rows, by: \.n, id: \.id).filter { rows[$0].n % 3 != 0 }
            let short = HTMLReport.ranked(rows, by: \.n, id: \.id, limit: limit, including: { $0.n % 3 != 0 })
            #expect(short.count == limit)
            #expect(short.map { rows[$0].n } == full.prefix(limit).map { rows[$0].n })
            #expect(short.map { rows[$0].id } == full.prefix(limit).map { rows[$0].id })
        }
        #expect(HTMLReport.ranked(rows, by: \.n, id: \.id, limit: 20).map { rows[$0].id }
                == HTMLReport.ranked(rows, by: \.n, id: \.id).prefix(20).map { rows[$0].id })
    }

    @Test func chartsEscapeLabelsAndUseReadableAxes() {
        let svg = SVGChart.groupedBars(title: "a<b", categories: ["<x>", String(repeating: "y", count: 40)],
                                       series: [.init(name: "legacy", color: SVGChart.legacyColor, values: [12_345, 7]),
                                                .init(name: "global", color: SVGChart.globalColor, values: [10_000, 7])],
                                       unit: "contacts")
        #expect(svg.contains("&lt;x&gt;") && !svg.contains("<x>"))
        #expect(svg.contains("a&lt;b"))
        #expect(svg.contains("yyyyyyyyyyyyyyyyyyyyyyy…"), "long labels are shortened")
        #expect(svg.contains(">15k<"), "axis rounded up to a round step")
        #expect(svg.contains("12,345"), "exact values in tooltips")
        #expect(svg.contains(">contacts<"), "the unit is on the axis")
        #expect(SVGChart.step(for: 9_243) == 2000)
        #expect(SVGChart.step(for: 23_000, ticks: 4) == 10_000)
        #expect(NumberFormat.short(2500) == "2.5k" && NumberFormat.short(3_000_000) == "3M")
        let hist = SVGChart.histogram(title: "h", bins: [("none", 0), ("1", 23_000)], xLabel: "audiences per email",
                                      yLabel: "emails")
        #expect(hist.contains(">audiences per email<") && hist.contains(">emails<") && hist.contains("23,000"))
    }

    /// The page scales a chart to its width: a histogram of one bin drawn one bin wide was
    /// scaled up five-fold. Up to ten bins, every histogram is as wide as ten.
    @Test func aHistogramOfFewBinsKeepsTheScaleOfTen() {
        func width(bins: Int) -> String? {
            let svg = SVGChart.histogram(title: "h", bins: (0..<bins).map { (String($0), 10 * $0 + 1) },
                                         xLabel: "x", yLabel: "y")
            return svg.firstRange(of: "viewBox=\"0 0 ").map { String(svg[$0.upperBound...].prefix { $0 != " " }) }
        }
        #expect(width(bins: 1) == "640")
        #expect(width(bins: 3) == "640")
        #expect(width(bins: 10) == "640")
        #expect(width(bins: 12) == "752")
    }

    @Test func comparisonPageEscapesAndSummarises() {
        let run = RunRecord(id: "b", label: "<jan>", startedAt: "s", finishedAt: nil, status: "complete", error: nil,
                            toolVersion: "", asOf: nil, pid: nil, host: nil, inputs: [], teams: nil,
                            legacyContacts: nil, globalContacts: nil)
        var after = run
        after.id = "a"
        after.label = nil
        let c = RunComparison(before: run, beforeTeams: [team("<t>", 100, 80)], after: after,
                              afterTeams: [team("<t>", 90, 70), team("new", 1, 1)])
        let html = HTMLReport.render(c)
        #expect(html.contains("&lt;jan&gt;") && !html.contains("<jan>"))
        #expect(html.contains("&lt;t&gt;") && !html.contains("<t>"))
        #expect(html.contains("Teams added (1)"))
        #expect(html.contains("Show the teams only in the later run"))
        #expect(html.contains("None: every team of the earlier run is in the later one."),
                "no team removed: a sentence, not an empty table to open")
        #expect(!html.contains("Show the teams only in the earlier run"))
        #expect(html.contains("-29 (-29.00%)"), "global after against legacy before")
    }

    @Test func peakPageEscapesAndSums() {
        let run = RunRecord(id: "r<1>", label: "<jan>", startedAt: "s", finishedAt: nil, status: "complete", error: nil,
                            toolVersion: "", asOf: "2026-01-31", pid: nil, host: nil, inputs: [], teams: nil,
                            legacyContacts: nil, globalContacts: nil)
        let rows = [PeakReport.Row(teamID: Array("<t>".utf8), peakLegacy: 1_200, peakLegacyRun: "r<1>", peakGlobal: 900,
                                   peakGlobalRun: "r<1>"),
                    PeakReport.Row(teamID: Array("u".utf8), peakLegacy: 3, peakLegacyRun: "r<1>", peakGlobal: 2,
                                   peakGlobalRun: "r<1>")]
        let html = HTMLReport.render(PeakReport(from: 1_767_225_600_000_000, to: 1_769_903_999_999_999, runs: [run],
                                                rows: rows))
        #expect(html.contains("&lt;jan&gt;") && !html.contains("<jan>"))
        #expect(html.contains("&lt;t&gt;") && !html.contains("<t>"))
        #expect(html.contains("r&lt;1&gt;") && !html.contains("r<1>"))
        #expect(html.contains(">1,203<") && html.contains(">902<"), "the sums of the teams' peaks")
        #expect(html.contains("2026-01-01") && html.contains("2026-01-31"))
        #expect(!html.contains("http"), "self-contained")
        let none = HTMLReport.render(PeakReport(from: 0, to: 1, runs: [], rows: []))
        #expect(none.contains("None: no complete run falls in the period."))
    }
}

@Suite struct JSONWriterTests {
    @Test func prettyAndCompactRenderTheSameValue() {
        let v = JSON.object([("a", .int(1)), ("b", .array([.string("x  y"), .null, .number("2.50")])), ("c", .object([]))])
        #expect(v.compact() == "{\"a\":1,\"b\":[\"x  y\",null,2.50],\"c\":{}}")
        #expect(v.rendered() == "{\n  \"a\": 1,\n  \"b\": [\n    \"x  y\",\n    null,\n    2.50\n  ],\n  \"c\": {}\n}\n")
    }
}
