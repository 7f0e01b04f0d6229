/// What a contact record says about its contact, beyond its audience.
public struct RecordFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// A contact row marked unsubscribed.
    public static let unsubscribed = RecordFlags(rawValue: 1)
    /// A contact row not marked unsubscribed.
    public static let subscribed = RecordFlags(rawValue: 2)
}

/// How the unsubscribed state of a global contact follows from its records.
public enum UnsubscribedPolicy: String, Sendable, CaseIterable {
    /// Unsubscribed when any record is (someone who unsubscribed anywhere must not be mailed).
    case any
    /// Unsubscribed only when every record is.
    case all
}

/// The audience index that means "no audience".
public let noAudience = UInt32.max

/// The results of counting, indexed by the job's team and audience indices.
public struct CountResult: Sendable, Equatable {
    public var legacy: [Int]
    public var global: [Int]
    public var unsubscribed: [Int]
    public var withoutAudience: [Int]
    /// Distinct audiences with at least one contact, per team.
    public var audiences: [Int]
    public var audienceContacts: [Int]
    public var audienceShared: [Int]
    public var audienceExclusive: [Int]
    /// `audiencesPerEmail[k]` = global contacts in exactly k audiences.
    public var audiencesPerEmail: [Int]

    public init(teams: Int, audiences audienceCount: Int) {
        legacy = Array(repeating: 0, count: teams)
        global = legacy
        unsubscribed = legacy
        withoutAudience = legacy
        audiences = legacy
        audienceContacts = Array(repeating: 0, count: audienceCount)
        audienceShared = audienceContacts
        audienceExclusive = audienceContacts
        audiencesPerEmail = []
    }
}

/// The counting interface: normalised records in, per-team and per-audience results out.
///
/// Input, CSV and reports see only this, so the counter behind it can change
/// (partitioned, parallel, spilling to disk) without touching them.
public protocol ContactCounter: AnyObject {
    /// Records that the contact `key` of `team` has a record, in `audience`
    /// (or `noAudience`), with `flags` (empty for a membership row).
    func insert(_ key: Key128, team: UInt32, audience: UInt32, flags: RecordFlags)
    /// Tells the counter the share (0...1) of the input read so far, to size its tables.
    func noteProgress(_ fraction: Double)
    /// Tells the counter how many bytes the id tables and the contact index hold, so that its
    /// memory limit bounds them too.
    func noteMemoryElsewhere(_ bytes: Int)
    /// Computes the results. `audienceTeam[a]` is the team of audience `a`.
    func finish(teams: Int, audienceTeam: [UInt32], policy: UnsubscribedPolicy) throws -> CountResult
}

extension ContactCounter {
    public func noteMemoryElsewhere(_ bytes: Int) {}
}
