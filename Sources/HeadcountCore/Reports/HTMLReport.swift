import Mustache

/// `report.html` and `compare.html`: one self-contained file each (inline CSS,
/// inline SVG, a few lines of inline script that only sort tables), made from
/// Mustache templates that HTML-escape every value by default. The SVG charts
/// come from `SVGChart`, which escapes its own text.
public enum HTMLReport {
    /// Rows of the all-teams table; beyond this the largest teams are shown and the
    /// rest are left to teams.csv, so that a 100k-team report opens quickly.
    public static let maxTableRows = 2000
    /// Teams in the legacy-vs-global chart and the largest-saving table.
    public static let topTeams = 20

    static func value(_ t: TeamRow, _ header: [String], _ name: String) -> String {
        guard let i = header.firstIndex(of: name), i < t.extra.count else { return "" }
        return t.extra[i]
    }

    /// The indices of `rows` that `including` keeps (all without it), largest `value` first, ties
    /// by id bytes, so the order is stable; the first `limit` of them.
    /// The sort moves indices and compares numbers (and ids on a tie, which many small teams
    /// share), not whole rows, each copied with its arrays: `report.html` of M's 20,000 teams
    /// 27-29 ms of CPU with those, about 21 ms without (`perf`). A short list (the top 20) is
    /// picked in one pass instead: sorting all of M's teams for it took 3-8 ms.
    static func ranked<Row>(_ rows: [Row], by value: (Row) -> Int, id: (Row) -> [UInt8], limit: Int = .max,
                            including: ((Row) -> Bool)? = nil) -> [Int] {
        ranked(values: rows.map(value), ids: rows.map(id),
               kept: including.map { keeps in rows.indices.filter { keeps(rows[$0]) } }, limit: limit)
    }

    /// `ranked` of each row's value and id, read out of the rows by the caller; `kept`: the
    /// positions to rank (nil: all). A report's rows are read with closures that the compiler
    /// sees: passed to a function as a row, each row was copied, retaining and releasing its
    /// arrays (M's 20,000 teams: 3-4 ms of `report.html`'s rendering).
    static func ranked(values: [Int], ids: [[UInt8]], kept: [Int]? = nil, limit: Int = .max) -> [Int] {
        let kept = kept ?? Array(values.indices)
        func precedes(_ a: Int, _ b: Int) -> Bool {
            values[a] != values[b] ? values[a] > values[b] : ids[a].lexicographicallyPrecedes(ids[b])
        }
        guard limit < values.count / 16 else {
            // Rows in id order already (a report's teams are), so that of two equal values the
            // one first in the rows comes first: M's 20,000 teams sorted by a closure that
            // compared ids on every tie took 6 ms of the 18 that `report.html` took to render.
            if ids.indices.dropFirst().allSatisfy({ !ids[$0].lexicographicallyPrecedes(ids[$0 - 1]) }),
               let order = byValueThenPosition(values, kept) {
                return Array(order.prefix(limit))
            }
            return Array(kept.sorted(by: precedes).prefix(limit))
        }
        guard limit > 0 else { return [] }
        var best: [Int] = []
        best.reserveCapacity(limit + 1)
        for i in kept {
            if best.count == limit && !precedes(i, best[limit - 1]) { continue }
            var at = best.count
            while at > 0 && precedes(i, best[at - 1]) { at -= 1 }
            best.insert(i, at: at)
            if best.count > limit { best.removeLast() }
        }
        return best
    }

    /// The `kept` positions of `values`, larger values first, equal values in position order; each
    /// position and its value packed into one number and the numbers sorted. nil when the values
    /// span too much for the number.
    static func byValueThenPosition(_ values: [Int], _ kept: [Int]) -> [Int]? {
        guard let low = values.min(), let high = values.max() else { return [] }
        let positionBits = Int.bitWidth - values.count.leadingZeroBitCount
        let (span, overflow) = high.subtractingReportingOverflow(low)
        guard !overflow && positionBits < 63 && span >> (63 - positionBits) == 0 else { return nil }
        let mask = UInt64(1) << UInt64(positionBits) - 1
        return kept.map { UInt64(high - values[$0]) << UInt64(positionBits) | UInt64($0) }.sorted()
            .map { Int(truncatingIfNeeded: $0 & mask) }
    }

    static func number(_ n: Int) -> [String: Any] { ["v": n, "text": NumberFormat.grouped(n)] }

    static func id(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The HTML report of a run.
    public static func render(_ data: ReportData) -> String {
        let totals = data.totals
        let saving = data.savedRecords
        let teamIDs = data.teams.map { $0.teamID }
        let byLegacy = ranked(values: data.teams.map { $0.legacyContacts }, ids: teamIDs, limit: maxTableRows)
        let top = byLegacy.prefix(topTeams).map { data.teams[$0] }
        let chart = SVGChart.groupedBars(
            title: "Legacy and global contacts of the \(top.count) largest teams",
            categories: top.map { id($0.teamID) },
            series: [SVGChart.Series(name: "legacy (per audience)", color: SVGChart.legacyColor, values: top.map(\.legacyContacts)),
                     SVGChart.Series(name: "global (per email)", color: SVGChart.globalColor, values: top.map(\.globalContacts))],
            unit: "contacts")
        let histogram = SVGChart.histogram(
            title: "Emails by number of audiences",
            bins: data.audiencesPerEmail.enumerated().map { (k, n) in (k == 0 ? "none" : String(k), n) },
            xLabel: "audiences per email", yLabel: "emails")
        let savingOf = data.teams.map { $0.duplicateRecords }
        let savings = ranked(values: savingOf, ids: teamIDs, kept: savingOf.indices.filter { savingOf[$0] > 0 },
                             limit: topTeams).map { data.teams[$0] }
        func teamRow(_ t: TeamRow) -> [String: Any] {
            ["team": id(t.teamID), "contactRows": number(t.contactRows), "audiences": number(t.audiences),
             "legacy": number(t.legacyContacts), "global": number(t.globalContacts),
             "saving": number(t.duplicateRecords), "pct": t.reductionPct, "unsubscribed": number(t.unsubscribedContacts),
             "withoutAudience": number(t.contactsWithoutAudience), "rejected": number(t.rejectedRows)]
        }
        let shown = byLegacy.prefix(maxTableRows).map { data.teams[$0] }
        var context: [String: Any] = [
            "title": "Headcount report — \(data.label ?? data.runID)",
            "runID": data.runID, "startedAt": data.startedAt, "finishedAt": data.finishedAt,
            "version": data.toolVersion,
            "contactRows": NumberFormat.grouped(totals.contactRows),
            "legacy": NumberFormat.grouped(totals.legacyContacts), "global": NumberFormat.grouped(totals.globalContacts),
            "saving": NumberFormat.grouped(saving), "savingPct": Decimal2.percent(saving, of: totals.legacyContacts),
            "teamCount": NumberFormat.grouped(data.teams.count), "audienceCount": NumberFormat.grouped(totals.audiences),
            "rejected": NumberFormat.grouped(data.rowsRejected), "rowsRead": NumberFormat.grouped(data.rowsRead),
            "chart": chart, "histogram": histogram, "hasTeams": !data.teams.isEmpty,
            "hasEmails": data.audiencesPerEmail.contains { $0 > 0 },
            "savings": savings.map(teamRow), "hasSavings": !savings.isEmpty,
            "teamRows": allTeamsRows(shown),
            "truncated": data.teams.count > shown.count,
            "shownCount": NumberFormat.grouped(shown.count),
            "rules": data.rules.map { ["name": $0.0, "value": plain($0.1)] },
            "inputs": data.inputs.map { input -> [String: Any] in
                var m: [String: Any] = [:]
                if case .object(let members) = input {
                    for (k, v) in members { m[k] = plain(v) }
                }
                return m
            },
            "reasons": data.rejectedByReason.sorted { $0.key < $1.key }.map { ["reason": $0.key.rawValue, "count": NumberFormat.grouped($0.value)] },
            "hasRejects": data.rowsRejected > 0,
            "examples": data.rejectExamples.map { ["file": $0.file, "line": $0.line, "reason": $0.reason.rawValue] },
        ]
        // Absent keys, not empty strings: a Mustache section shows for any present value.
        if let label = data.label { context["label"] = label }
        if let asOf = data.asOf { context["asOf"] = asOf }
        if data.rowsFiltered > 0 { context["filtered"] = true }
        if data.extraHeader.contains("plan") {
            let over = data.teams.filter {
                value($0, data.extraHeader, "legacy_over_limit") == "true" || value($0, data.extraHeader, "global_over_limit") == "true"
            }
            context["quotas"] = [
                "overLegacy": NumberFormat.grouped(over.filter { value($0, data.extraHeader, "legacy_over_limit") == "true" }.count),
                "overGlobal": NumberFormat.grouped(over.filter { value($0, data.extraHeader, "global_over_limit") == "true" }.count),
                "teams": over.prefix(maxTableRows).map { t -> [String: Any] in
                    ["team": id(t.teamID), "plan": value(t, data.extraHeader, "plan"),
                     "limit": NumberFormat.grouped(Int(value(t, data.extraHeader, "contact_limit")) ?? 0),
                     "legacy": NumberFormat.grouped(t.legacyContacts), "global": NumberFormat.grouped(t.globalContacts),
                     "legacyOver": value(t, data.extraHeader, "legacy_over_limit") == "true" ? "over" : "",
                     "globalOver": value(t, data.extraHeader, "global_over_limit") == "true" ? "over" : ""]
                },
            ] as [String: Any]
        }
        if data.extraHeader.contains("legacy_tier") {
            let changing = data.teams.filter { value($0, data.extraHeader, "legacy_tier") != value($0, data.extraHeader, "global_tier") }
            // Revenue from the price columns themselves: exact decimals, and the same from the history.
            var legacy = Money.zero, global = Money.zero
            for t in data.teams {
                legacy = legacy + (Money(parsing: value(t, data.extraHeader, "legacy_price")) ?? .zero)
                global = global + (Money(parsing: value(t, data.extraHeader, "global_price")) ?? .zero)
            }
            context["tiers"] = [
                "revenueLegacy": legacy.text, "revenueGlobal": global.text, "revenueChange": (global - legacy).text,
                "changingCount": NumberFormat.grouped(changing.count),
                "teams": changing.prefix(maxTableRows).map { t -> [String: Any] in
                    ["team": id(t.teamID), "legacyTier": value(t, data.extraHeader, "legacy_tier"),
                     "globalTier": value(t, data.extraHeader, "global_tier"),
                     "legacyPrice": value(t, data.extraHeader, "legacy_price"),
                     "globalPrice": value(t, data.extraHeader, "global_price"),
                     "change": value(t, data.extraHeader, "price_change")]
                },
            ] as [String: Any]
        }
        return reportTemplate.render(context)
    }

    /// The rows of the all-teams table, written here instead of by the template: the template
    /// engine looks each of a row's 19 values up by name in a dictionary of `Any`, and its
    /// 2,000 rows took 0.1 s, the longest step of a large run after counting (M). The markup
    /// and the escaping are the template's (`HTMLReportTests.allTeamsRowsAreTheTemplates`).
    ///
    /// Written as bytes, each number's two forms straight into them: built from `String`s, a
    /// number's text and its grouped text for each of a row's 18 cells, M's 2,000 rows took 8 ms
    /// of the 18 that `report.html` took to render, the longest of the report files.
    static func allTeamsRows(_ teams: some Sequence<TeamRow>) -> String {
        var html: [UInt8] = []
        html.reserveCapacity(teams.underestimatedCount * 400)
        func append(_ text: StaticString) {
            text.withUTF8Buffer { html.append(contentsOf: $0) }
        }
        func numberCell(_ n: Int) {
            append("<td class=\"n\" data-v=\"")
            NumberFormat.append(n, to: &html)
            append("\">")
            NumberFormat.append(n, grouped: true, to: &html)
            append("</td>")
        }
        for t in teams {
            append("<tr><td>")
            // As text, as the template shows it: an id that is not UTF-8 (which no report's team
            // can be) shows its bytes decoded with replacement characters.
            if t.teamID.contains(where: { $0 >= 0x80 }) {
                appendEscaped(Array(id(t.teamID).utf8), to: &html)
            } else {
                appendEscaped(t.teamID, to: &html)
            }
            append("</td>")
            numberCell(t.contactRows)
            numberCell(t.audiences)
            numberCell(t.legacyContacts)
            numberCell(t.globalContacts)
            numberCell(t.duplicateRecords)
            append("<td class=\"n\">")
            html.append(contentsOf: t.reductionPct.utf8)
            append("</td>")
            numberCell(t.unsubscribedContacts)
            numberCell(t.contactsWithoutAudience)
            numberCell(t.rejectedRows)
            append("</tr>\n")
        }
        return String(decoding: html, as: UTF8.self)
    }

    /// `text` with the five characters that mean something in HTML replaced by entities, as the
    /// template escapes `{{value}}`. Byte by byte: a quote followed by a combining mark is
    /// escaped too, where the template, reading characters, would leave it.
    static func escaped(_ text: String) -> String {
        let utf8 = text.utf8
        guard utf8.contains(where: needsEscape) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count + 16)
        appendEscaped(utf8, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    private static func needsEscape(_ b: UInt8) -> Bool { b == 0x3C || b == 0x3E || b == 0x26 || b == 0x22 || b == 0x27 }

    /// Appends UTF-8 `text` escaped as `escaped` escapes it.
    static func appendEscaped(_ text: some Collection<UInt8>, to out: inout [UInt8]) {
        guard text.contains(where: needsEscape) else {
            out.append(contentsOf: text)
            return
        }
        for b in text {
            switch b {
            case 0x3C: out += "&lt;".utf8
            case 0x3E: out += "&gt;".utf8
            case 0x26: out += "&amp;".utf8
            case 0x22: out += "&quot;".utf8
            case 0x27: out += "&#39;".utf8
            default: out.append(b)
            }
        }
    }

    /// A JSON value as plain text for a table cell.
    static func plain(_ json: JSON) -> String {
        switch json {
        case .null: return "—"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return NumberFormat.grouped(i)
        case .number(let s), .string(let s): return s
        case .array(let items): return items.map(plain).joined(separator: ", ")
        case .object(let members): return members.map { "\($0.0): \(plain($0.1))" }.joined(separator: ", ")
        }
    }

    /// The HTML page of a comparison between two runs.
    public static func render(_ c: RunComparison) -> String {
        let t = c.totals
        let changed = c.rows.filter { $0.presence == "both" && $0.changeGlobal != 0 }
        let changes = ranked(changed, by: { abs($0.changeGlobal) }, id: \.teamID, limit: topTeams).map { changed[$0] }
        func row(_ r: RunComparison.Row) -> [String: Any] {
            ["team": id(r.teamID), "presence": r.presence,
             "beforeLegacy": number(r.beforeLegacy), "beforeGlobal": number(r.beforeGlobal),
             "afterLegacy": number(r.afterLegacy), "afterGlobal": number(r.afterGlobal),
             "change": number(r.changeGlobal), "pct": RunComparison.pct(r.changeGlobal, r.beforeGlobal),
             "migration": number(r.legacyToGlobal), "migrationPct": RunComparison.pct(r.legacyToGlobal, r.beforeLegacy)]
        }
        let top = Array(changes)
        func run(_ r: RunRecord) -> [String: Any] {
            var m: [String: Any] = ["id": r.id, "startedAt": r.startedAt]
            if let label = r.label { m["label"] = label }
            return m
        }
        let chart = SVGChart.groupedBars(
            title: "Global contacts before and after, largest changes",
            categories: top.map { id($0.teamID) },
            series: [SVGChart.Series(name: "before", color: SVGChart.legacyColor, values: top.map(\.beforeGlobal)),
                     SVGChart.Series(name: "after", color: SVGChart.globalColor, values: top.map(\.afterGlobal))],
            unit: "global contacts")
        var context: [String: Any] = [
            "title": "Headcount comparison — \(c.before.label ?? c.before.id) → \(c.after.label ?? c.after.id)",
            "before": run(c.before), "after": run(c.after),
            "beforeLegacy": NumberFormat.grouped(t.beforeLegacy), "beforeGlobal": NumberFormat.grouped(t.beforeGlobal),
            "afterLegacy": NumberFormat.grouped(t.afterLegacy), "afterGlobal": NumberFormat.grouped(t.afterGlobal),
            "change": NumberFormat.grouped(t.afterGlobal - t.beforeGlobal),
            "migration": NumberFormat.grouped(t.afterGlobal - t.beforeLegacy),
            "teamsBefore": NumberFormat.grouped(t.teamsBefore), "teamsAfter": NumberFormat.grouped(t.teamsAfter),
            "chart": chart, "hasChanges": !top.isEmpty, "changes": top.map(row),
            "added": c.rows.filter { $0.presence == "added" }.prefix(maxTableRows).map(row),
            "removed": c.rows.filter { $0.presence == "removed" }.prefix(maxTableRows).map(row),
            "addedCount": NumberFormat.grouped(t.added), "removedCount": NumberFormat.grouped(t.removed),
            "hasAdded": t.added > 0, "hasRemoved": t.removed > 0,
            "teams": c.rows.prefix(maxTableRows).map(row), "truncated": c.rows.count > maxTableRows,
        ]
        let migrationPct = RunComparison.pct(t.afterGlobal - t.beforeLegacy, t.beforeLegacy)
        if !migrationPct.isEmpty { context["migrationPct"] = migrationPct }
        return compareTemplate.render(context)
    }

    /// The HTML page of a period's peaks: the runs looked at and each team's peaks.
    public static func render(_ p: PeakReport) -> String {
        let shown = p.rows.prefix(maxTableRows)
        let title = "Headcount peaks — \(InstantParser.format(p.from)) to \(InstantParser.format(p.to))"
        let context: [String: Any] = [
            "title": title, "from": InstantParser.format(p.from), "to": InstantParser.format(p.to),
            "runCount": NumberFormat.grouped(p.runs.count), "teamCount": NumberFormat.grouped(p.rows.count),
            "peakLegacy": NumberFormat.grouped(p.rows.reduce(0) { $0 + $1.peakLegacy }),
            "peakGlobal": NumberFormat.grouped(p.rows.reduce(0) { $0 + $1.peakGlobal }),
            "hasRuns": !p.runs.isEmpty,
            "runs": p.runs.map { r -> [String: Any] in
                ["id": r.id, "label": r.label ?? "", "asOf": r.asOf ?? "", "startedAt": r.startedAt]
            },
            "teams": shown.map { r -> [String: Any] in
                ["team": id(r.teamID), "legacy": number(r.peakLegacy), "legacyRun": r.peakLegacyRun,
                 "global": number(r.peakGlobal), "globalRun": r.peakGlobalRun]
            },
            "truncated": p.rows.count > shown.count, "shownCount": NumberFormat.grouped(shown.count),
        ]
        return peakTemplate.render(context)
    }

    /// Compiles the report's template now, on the calling thread, so that `render` finds it
    /// ready: a run asks for it on a thread of its own at the start, while a core is idle,
    /// instead of when its reports are written, which waited for it (M: writing them took 27
    /// instead of 39 ms by the medians of six alternating runs).
    static func compileReportTemplate() { _ = reportTemplate }

    // Templates are compiled once; a failure here is a programming error caught by the tests.
    static let reportTemplate = try! MustacheTemplate(string: HTMLTemplates.report)
    static let compareTemplate = try! MustacheTemplate(string: HTMLTemplates.compare)
    static let peakTemplate = try! MustacheTemplate(string: HTMLTemplates.peak)
}
