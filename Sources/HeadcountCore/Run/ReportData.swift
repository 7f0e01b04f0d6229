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
    public var audienceID: IDBytes
    public var contacts: Int
    public var sharedContacts: Int
    public var exclusiveContacts: Int
}

extension AudienceRow {
    public init(teamID: [UInt8], audienceID: [UInt8], contacts: Int, sharedContacts: Int, exclusiveContacts: Int) {
        self.init(teamID: teamID, audienceID: IDBytes(audienceID), contacts: contacts, sharedContacts: sharedContacts,
                  exclusiveContacts: exclusiveContacts)
    }
}

/// The bytes of an id, kept in place up to 16 bytes (the platform's audience ids are 10) and in
/// an array beyond. A report has a row per audience: with an array each, making M's 127,000
/// audience rows was as many allocations, 8.5 ms on two threads of the 16.5 that making its
/// report data took at the end of a run.
public struct IDBytes: RandomAccessCollection, Sendable, Equatable {
    /// Bytes 0-7 and 8-15 as they lie in memory, zero past the end (so that equal ids are equal
    /// values); both zero when the bytes are in `long`.
    private var head: UInt64 = 0
    private var tail: UInt64 = 0
    private var length: Int
    private var long: [UInt8]?

    public init(_ bytes: UnsafeRawBufferPointer) {
        length = bytes.count
        guard length <= 16 else {
            long = Array(bytes)
            return
        }
        long = nil
        var words: (UInt64, UInt64) = (0, 0)
        if length > 0 { withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: bytes) } }
        (head, tail) = words
    }

    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { IDBytes($0) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { length }

    public subscript(i: Int) -> UInt8 {
        invariant(i >= 0 && i < length, "index out of range")
        if let long { return long[i] }
        // Byte i of the memory the words were copied to, whatever the byte order.
        return UInt8(truncatingIfNeeded: UInt64(littleEndian: i < 8 ? head : tail) >> UInt64(8 * (i & 7)))
    }

    /// Calls `body` with the bytes, valid during the call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let long { return try long.withUnsafeBytes(body) }
        var words = (head, tail)
        let n = length
        return try Swift.withUnsafeBytes(of: &words) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
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
