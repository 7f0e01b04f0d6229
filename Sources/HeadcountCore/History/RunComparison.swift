/// Per-team change between two recorded runs: before-and-after migration
/// comparisons and month-over-month billing.
public struct RunComparison: Sendable {
    public struct Row: Sendable, Equatable {
        public var teamID: [UInt8]
        /// both, added (only after), removed (only before).
        public var presence: String
        public var beforeLegacy: Int
        public var beforeGlobal: Int
        public var afterLegacy: Int
        public var afterGlobal: Int

        public var changeGlobal: Int { afterGlobal - beforeGlobal }
        /// The migration question: the new (global) count after against the old (legacy) count before.
        public var legacyToGlobal: Int { afterGlobal - beforeLegacy }
    }

    public var before: RunRecord
    public var after: RunRecord
    public var rows: [Row]

    public static let header = ["team_id", "presence", "before_legacy", "before_global", "after_legacy", "after_global",
                                "change_global", "change_pct", "legacy_to_global_change", "legacy_to_global_pct"]

    public init(before: RunRecord, beforeTeams: [TeamRow], after: RunRecord, afterTeams: [TeamRow]) {
        self.before = before
        self.after = after
        var merged: [[UInt8]: Row] = [:]
        for t in beforeTeams {
            merged[t.teamID] = Row(teamID: t.teamID, presence: "removed", beforeLegacy: t.legacyContacts,
                                   beforeGlobal: t.globalContacts, afterLegacy: 0, afterGlobal: 0)
        }
        for t in afterTeams {
            var row = merged[t.teamID] ?? Row(teamID: t.teamID, presence: "added", beforeLegacy: 0, beforeGlobal: 0,
                                              afterLegacy: 0, afterGlobal: 0)
            if row.presence == "removed" { row.presence = "both" }
            row.afterLegacy = t.legacyContacts
            row.afterGlobal = t.globalContacts
            merged[t.teamID] = row
        }
        rows = merged.values.sorted { $0.teamID.lexicographicallyPrecedes($1.teamID) }
    }

    /// A change as a percentage of its base, or empty when the base is 0 (undefined).
    static func pct(_ change: Int, _ base: Int) -> String {
        base == 0 ? "" : Decimal2.percent(change, of: base)
    }

    public func csv() -> [UInt8] {
        var w = CSVWriter()
        w.row(Self.header)
        for r in rows {
            w.row([r.teamID] + [r.presence, String(r.beforeLegacy), String(r.beforeGlobal), String(r.afterLegacy),
                                String(r.afterGlobal), String(r.changeGlobal), Self.pct(r.changeGlobal, r.beforeGlobal),
                                String(r.legacyToGlobal), Self.pct(r.legacyToGlobal, r.beforeLegacy)].map { Array($0.utf8) })
        }
        return w.bytes
    }

    public struct Totals: Sendable {
        public var beforeLegacy = 0, beforeGlobal = 0, afterLegacy = 0, afterGlobal = 0
        public var teamsBefore = 0, teamsAfter = 0, added = 0, removed = 0
    }

    public var totals: Totals {
        var t = Totals()
        for r in rows {
            t.beforeLegacy += r.beforeLegacy
            t.beforeGlobal += r.beforeGlobal
            t.afterLegacy += r.afterLegacy
            t.afterGlobal += r.afterGlobal
            if r.presence != "added" { t.teamsBefore += 1 }
            if r.presence != "removed" { t.teamsAfter += 1 }
            if r.presence == "added" { t.added += 1 }
            if r.presence == "removed" { t.removed += 1 }
        }
        return t
    }

    public func json() -> [UInt8] {
        let t = totals
        func run(_ r: RunRecord) -> JSON {
            .object([("id", .string(r.id)), ("label", r.label.map(JSON.string) ?? .null),
                     ("started_at", .string(r.startedAt)), ("as_of", r.asOf.map(JSON.string) ?? .null)])
        }
        func pct(_ s: String) -> JSON { s.isEmpty ? .null : .number(s) }
        let teams: [JSON] = rows.map { r in
            .object([
                ("team_id", .string(String(decoding: r.teamID, as: UTF8.self))),
                ("presence", .string(r.presence)),
                ("before_legacy", .int(r.beforeLegacy)), ("before_global", .int(r.beforeGlobal)),
                ("after_legacy", .int(r.afterLegacy)), ("after_global", .int(r.afterGlobal)),
                ("change_global", .int(r.changeGlobal)), ("change_pct", pct(Self.pct(r.changeGlobal, r.beforeGlobal))),
                ("legacy_to_global_change", .int(r.legacyToGlobal)),
                ("legacy_to_global_pct", pct(Self.pct(r.legacyToGlobal, r.beforeLegacy))),
            ])
        }
        let json = JSON.object([
            ("before", run(before)),
            ("after", run(after)),
            ("totals", .object([
                ("teams_before", .int(t.teamsBefore)), ("teams_after", .int(t.teamsAfter)),
                ("teams_added", .int(t.added)), ("teams_removed", .int(t.removed)),
                ("before_legacy", .int(t.beforeLegacy)), ("before_global", .int(t.beforeGlobal)),
                ("after_legacy", .int(t.afterLegacy)), ("after_global", .int(t.afterGlobal)),
                ("change_global", .int(t.afterGlobal - t.beforeGlobal)),
                ("change_pct", pct(Self.pct(t.afterGlobal - t.beforeGlobal, t.beforeGlobal))),
                ("legacy_to_global_change", .int(t.afterGlobal - t.beforeLegacy)),
                ("legacy_to_global_pct", pct(Self.pct(t.afterGlobal - t.beforeLegacy, t.beforeLegacy))),
            ])),
            ("added", .array(rows.filter { $0.presence == "added" }.map { .string(String(decoding: $0.teamID, as: UTF8.self)) })),
            ("removed", .array(rows.filter { $0.presence == "removed" }.map { .string(String(decoding: $0.teamID, as: UTF8.self)) })),
            ("teams", .array(teams)),
        ])
        return Array(json.rendered().utf8)
    }
}
