/// Turns counts into billing answers: usage against quotas, price tiers and
/// the revenue effect of the migration (SPEC §3.3).
public struct BillingReport: Sendable {
    public var quotas: [[UInt8]: Quota]?
    public var tiers: [Tier]?

    public init(quotas: [[UInt8]: Quota]?, tiers: [Tier]?) {
        self.quotas = quotas
        self.tiers = tiers
    }

    public var isEmpty: Bool { quotas == nil && tiers == nil }

    /// The columns `teams.csv` gains, in the SPEC's order.
    public var header: [String] {
        (quotas != nil ? ["plan", "contact_limit", "legacy_usage_pct", "global_usage_pct",
                          "legacy_over_limit", "global_over_limit"] : [])
            + (tiers != nil ? ["legacy_tier", "global_tier", "legacy_price", "global_price", "price_change"] : [])
    }

    /// The cheapest tier that covers `count`, and whether `count` is above the top tier (which it then gets).
    public func tier(for count: Int) -> (tier: Tier, aboveTop: Bool)? {
        guard let tiers, let top = tiers.last else { return nil }
        if let t = tiers.first(where: { $0.contactLimit >= count }) { return (t, false) }
        return (top, true)
    }

    public func quota(of team: TeamRow) -> Quota? { quotas?[team.teamID] }

    /// A team is over its limit when its count exceeds it (a team exactly at its limit is not).
    public static func isOver(_ count: Int, _ quota: Quota) -> Bool { count > quota.contactLimit }

    /// The extra `teams.csv` fields of one team.
    public func columns(for t: TeamRow) -> [String] {
        var out: [String] = []
        if quotas != nil {
            if let q = quota(of: t) {
                let pct: (Int) -> String = { q.contactLimit > 0 ? Decimal2.percent($0, of: q.contactLimit) : "" }
                out += [q.plan, String(q.contactLimit), pct(t.legacyContacts), pct(t.globalContacts),
                        String(Self.isOver(t.legacyContacts, q)), String(Self.isOver(t.globalContacts, q))]
            } else {
                out += ["", "", "", "", "", ""]
            }
        }
        if let l = tier(for: t.legacyContacts), let g = tier(for: t.globalContacts) {
            out += [l.tier.name, g.tier.name, l.tier.monthlyPrice.text, g.tier.monthlyPrice.text,
                    (g.tier.monthlyPrice - l.tier.monthlyPrice).text]
        }
        return out
    }

    /// The `billing` object of `summary.json`.
    public func summary(_ teams: [TeamRow], quotasPath: String?, tiersPath: String?) -> JSON {
        var members: [(String, JSON)] = []
        if let quotasPath {
            var withQuota = 0, overLegacy = 0, overGlobal = 0, overToUnder = 0
            for t in teams {
                guard let q = quota(of: t) else { continue }
                withQuota += 1
                let l = Self.isOver(t.legacyContacts, q), g = Self.isOver(t.globalContacts, q)
                if l { overLegacy += 1 }
                if g { overGlobal += 1 }
                if l && !g { overToUnder += 1 }
            }
            members.append(("quotas", .object([
                ("path", .string(quotasPath)),
                ("teams_with_quota", .int(withQuota)),
                ("teams_without_quota", .int(teams.count - withQuota)),
                ("teams_over_limit_legacy", .int(overLegacy)),
                ("teams_over_limit_global", .int(overGlobal)),
                ("teams_over_to_under", .int(overToUnder)),
            ])))
        }
        if let tiersPath {
            var legacy = Money.zero, global = Money.zero
            var changing = 0
            var aboveLegacy: [JSON] = [], aboveGlobal: [JSON] = []
            for t in teams {
                guard let l = tier(for: t.legacyContacts), let g = tier(for: t.globalContacts) else { continue }
                legacy = legacy + l.tier.monthlyPrice
                global = global + g.tier.monthlyPrice
                if l.tier.name != g.tier.name { changing += 1 }
                let id = JSON.string(String(decoding: t.teamID, as: UTF8.self))
                if l.aboveTop { aboveLegacy.append(id) }
                if g.aboveTop { aboveGlobal.append(id) }
            }
            members.append(("tiers", .object([
                ("path", .string(tiersPath)),
                ("monthly_revenue_legacy", .number(legacy.text)),
                ("monthly_revenue_global", .number(global.text)),
                ("monthly_revenue_change", .number((global - legacy).text)),
                ("teams_changing_tier", .int(changing)),
                ("teams_above_top_tier_legacy", .array(aboveLegacy)),
                ("teams_above_top_tier_global", .array(aboveGlobal)),
            ])))
        }
        return .object(members)
    }
}
