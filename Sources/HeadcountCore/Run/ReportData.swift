/// One row of `teams.csv`: a team's counts under both models.
public struct TeamRow: Sendable, Equatable {
    public var teamID: [UInt8]
    public var contactRows: Int
    public var audiences: Int
    public var legacyContacts: Int
    public var globalContacts: Int
    public var unsubscribedContacts: Int
    public var contactsWithoutAudience: Int
    public var rejectedRows: Int
    /// The billing columns (`--quotas`, `--tiers`) as written in `teams.csv`; empty without them.
    public var extra: [String] = []

    /// The saving of the migration: legacy minus global when positive.
    public var duplicateRecords: Int { max(0, legacyContacts - globalContacts) }
    /// The saving as a percentage of the legacy count, two decimals.
    public var reductionPct: String { Decimal2.format(hundredths: reductionHundredths) }
    /// `reductionPct` in hundredths.
    public var reductionHundredths: Int { Decimal2.percentHundredths(duplicateRecords, of: legacyContacts) }
}

/// One row of `audiences.csv`.
public struct AudienceRow: Sendable, Equatable {
    public var teamID: [UInt8]
    public var audienceID: [UInt8]
    public var contacts: Int
    public var sharedContacts: Int
    public var exclusiveContacts: Int
}

/// Where a row was rejected and why.
public struct RejectExample: Sendable, Equatable {
    public var file: String
    public var line: Int
    public var reason: RejectReason
}

/// Everything the report files are made from; the run history stores the same.
public struct ReportData: Sendable {
    public var runID: String
    public var label: String?
    public var toolVersion: String
    public var startedAt: String
    public var finishedAt: String
    public var rules: [(String, JSON)]
    public var options: [(String, JSON)]
    public var inputs: [JSON]
    public var teams: [TeamRow]
    public var audiences: [AudienceRow]
    public var audiencesPerEmail: [Int]
    public var rejectedByReason: [RejectReason: Int]
    public var rejectedWithoutTeam: Int
    public var rowsRead: Int
    public var rowsFiltered: Int
    /// The billing columns' names, after the core columns of `teams.csv`.
    public var extraHeader: [String] = []
    /// The `billing` object of `summary.json`, when quotas or tiers were given.
    public var billing: JSON?
    /// `--as-of` as given, normalised (ISO 8601, UTC).
    public var asOf: String?
    /// The first rejected rows (where and why, never their content), for the HTML report.
    public var rejectExamples: [RejectExample] = []

    public var totals: TeamRow {
        var t = TeamRow(teamID: [], contactRows: 0, audiences: 0, legacyContacts: 0, globalContacts: 0,
                        unsubscribedContacts: 0, contactsWithoutAudience: 0, rejectedRows: 0)
        for r in teams {
            t.contactRows += r.contactRows
            t.audiences += r.audiences
            t.legacyContacts += r.legacyContacts
            t.globalContacts += r.globalContacts
            t.unsubscribedContacts += r.unsubscribedContacts
            t.contactsWithoutAudience += r.contactsWithoutAudience
            t.rejectedRows += r.rejectedRows
        }
        return t
    }

    public var rowsRejected: Int { rejectedByReason.values.reduce(0, +) }

    /// The migration's saving over all teams: the sum of each team's `duplicate_records`
    /// (not total legacy − total global, which would net teams that grow against teams that shrink).
    public var savedRecords: Int { teams.reduce(0) { $0 + $1.duplicateRecords } }
}
