import Foundation

/// A small, fast, seeded random generator (SplitMix64): the same dumps for the same seed everywhere.
public struct SeededRandom {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n.
    public mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// The layout of a dump: one row per (audience, contact record), or contacts plus memberships.
public enum DumpLayout: String, Sendable, CaseIterable {
    case legacy, global
}

/// Writes realistic synthetic dumps for demos, tests and benchmarks.
///
/// The population: Zipf-skewed team sizes (exponent 1.1), 1–50 audiences per
/// team growing with its size, people in 1 (72%), 2 (14%), 3–6 (14%)
/// audiences, about 10% of records spelled differently (case, blanks,
/// tabs, a no-break space), 0.5% non-ASCII addresses, 0.05% invalid
/// addresses, 3% unsubscribed, names that need CSV quoting, and (global
/// layout) 5% of people in no audience. Deterministic for a seed.
public struct DumpGenerator {
    public var teams: Int
    public var rows: Int
    public var seed: UInt64
    public var layout: DumpLayout
    /// gzip level: 1 favours speed (a 10M-row dump in well under a minute).
    public var level: Int32 = 1

    public init(teams: Int, rows: Int, seed: UInt64 = 1, layout: DumpLayout = .legacy) {
        self.teams = teams
        self.rows = rows
        self.seed = seed
        self.layout = layout
    }

    /// What was written.
    public struct Output: Sendable {
        public var files: [String]
        public var contactRows: Int
        public var membershipRows: Int
    }

    static let first = ["james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david",
                        "elizabeth", "william", "barbara", "sarah", "karen", "lisa", "daniel", "nancy", "emma",
                        "olivia", "liam", "noah", "mia", "lucas", "sofia", "lukas", "ingrid", "fatima", "wei",
                        "yuki", "priya", "ivan", "olga", "hugo", "lea", "jan", "eva", "omar", "aisha", "raj", "ana"]
    static let last = ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "martinez",
                       "lopez", "wilson", "anderson", "taylor", "moore", "jackson", "martin", "lee", "thompson",
                       "white", "harris", "clark", "lewis", "walker", "young", "king", "wright", "scott", "green",
                       "baker", "adams", "nelson", "hill", "muller", "schmidt", "rossi", "dubois", "jansen",
                       "nowak", "ivanov", "wang", "sato", "kumar", "khan", "silva"]
    static let displayOddities = ["\"Smith, Jr.\"", "\"O'Brien\"", "\"Johnson \"\"JJ\"\"\"", "García", "Müller",
                                  "\"Doe, III\"", "Østergaard"]
    static let unicodeLocal = ["josé", "zoë", "françois", "søren", "łukasz", "chloé", "jürgen", "björn", "inès"]
    static let domains = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "gmx.de",
                          "example.com", "acme.io", "globex.co", "initech.net", "umbrella.org", "hooli.com",
                          "müller-bau.de", "café-paris.fr"]
    static let invalid = ["", "n/a", "foo@", "@example.com", "john.smith.gmail.com", "jane doe@gmail.com", "-"]

    /// Writes the dump files into `directory` (created when missing), as a report is written:
    /// under temporary names, renamed into place together once complete, so that an interrupted
    /// or failed run leaves no truncated dump behind (nor a folder it made). A legacy dump
    /// replaces the memberships file of an earlier global one, so that the folder holds one dump.
    /// - Throws: `.environment` when a file cannot be written.
    public func write(to directory: String) throws -> Output {
        let folder = try OutputFolder(path: directory)
        do {
            let output = try write(into: folder)
            try folder.commit()
            return output
        } catch {
            folder.discard()
            throw error
        }
    }

    private func write(into folder: OutputFolder) throws -> Output {
        let directory = folder.path
        var rng = SeededRandom(seed: seed)
        let teamRows = Self.teamSizes(teams: teams, rows: rows, rng: &rng)
        var teamIDs = Set<Int>()
        while teamIDs.count < teams { teamIDs.insert(1000 + rng.below(max(10 * teams, 100_000))) }
        let ids = teamIDs.sorted().map { String($0) }

        let contactsPath = directory + "/contacts.csv.gz"
        let contacts = GzipFileWriter(try folder.open("contacts.csv.gz"), level: level)
        let memberships = layout == .global
            ? GzipFileWriter(try folder.open("memberships.csv.gz"), level: level) : nil
        if memberships == nil { folder.replaces("memberships.csv.gz") }
        if layout == .legacy {
            try contacts.write("team_id,audience_id,contact_id,email,first_name,last_name,unsubscribed,created_at\n")
        } else {
            try contacts.write("team_id,contact_id,email,first_name,last_name,unsubscribed,created_at\n")
            try memberships!.write("contact_id,audience_id\n")
        }
        var contactID = 0
        var contactRows = 0, membershipRows = 0
        var line = ""
        for t in 0..<teams {
            let teamID = ids[t]
            let size = teamRows[t]
            let audienceCount = max(1, min(50, min(size, Int(pow(2, log10(Double(size)) * 1.25)))))
            let audiences = (0..<audienceCount).map { _ in String(rng.next() & 0xFF_FFFF_FFFF, radix: 16) }
            var written = 0
            while written < size {
                let person = Self.person(&rng, team: t)
                var k = Self.audiencesPerPerson(&rng)
                k = min(k, audienceCount, size - written)
                let start = Int(Double(audienceCount) * pow(rng.unit(), 2))
                let unsubscribed = rng.below(1000) < 30
                let created = 1_451_606_400 + rng.below(300_000_000)
                if layout == .legacy {
                    for j in 0..<k {
                        contactID += 1
                        line.removeAll(keepingCapacity: true)
                        line += teamID + "," + audiences[(start + j) % audienceCount] + "," + String(contactID) + ","
                        line += Self.spelling(person.email, &rng) + "," + person.first + "," + person.last + ","
                        line += (unsubscribed ? "true," : "false,") + Self.date(created + j * 86_400) + "\n"
                        try contacts.write(line)
                    }
                    written += k
                    contactRows += k
                } else {
                    contactID += 1
                    let id = "c" + String(contactID)
                    line.removeAll(keepingCapacity: true)
                    line += teamID + "," + id + "," + Self.spelling(person.email, &rng) + "," + person.first + ","
                    line += person.last + "," + (unsubscribed ? "true," : "false,") + Self.date(created) + "\n"
                    try contacts.write(line)
                    contactRows += 1
                    if rng.below(100) < 5 { continue }   // in no audience: only the global layout shows them
                    for j in 0..<k {
                        try memberships!.write(id + "," + audiences[(start + j) % audienceCount] + "\n")
                    }
                    written += k
                    membershipRows += k
                }
            }
        }
        try contacts.close()
        try memberships?.close()
        return Output(files: [contactsPath] + (memberships != nil ? [directory + "/memberships.csv.gz"] : []),
                      contactRows: contactRows, membershipRows: membershipRows)
    }

    /// Rows per team: rank^-1.1 times lognormal noise, at least one row each, summing to `rows`.
    static func teamSizes(teams: Int, rows: Int, rng: inout SeededRandom) -> [Int] {
        invariant(teams >= 1 && rows >= teams, "fewer rows than teams")
        var weights = (0..<teams).map { i -> Double in
            let noise = i < 10 ? 1 : exp(sqrt(-2 * log(max(rng.unit(), 1e-12))) * cos(2 * .pi * rng.unit()))
            return pow(Double(i + 1), -1.1) * noise
        }
        let total = weights.reduce(0, +)
        for i in weights.indices { weights[i] /= total }
        var sizes = weights.map { max(1, Int(Double(rows) * $0)) }
        var excess = sizes.reduce(0, +) - rows
        var i = 0
        while excess > 0 {   // trim the largest teams until the total is exact
            if sizes[i] > 1 { sizes[i] -= 1; excess -= 1 }
            i = (i + 1) % teams
        }
        sizes[0] -= excess   // excess <= 0 here: give the remainder to the largest team
        // Shuffle so that team ids and sizes are unrelated.
        for j in stride(from: teams - 1, to: 0, by: -1) { sizes.swapAt(j, rng.below(j + 1)) }
        return sizes
    }

    static func audiencesPerPerson(_ rng: inout SeededRandom) -> Int {
        let r = rng.below(100)
        switch r {
        case ..<72: return 1
        case ..<86: return 2
        case ..<93: return 3
        case ..<97: return 4
        case ..<99: return 5
        default: return 6
        }
    }

    static func person(_ rng: inout SeededRandom, team: Int) -> (email: String, first: String, last: String) {
        let f = first[rng.below(first.count)], l = last[rng.below(last.count)]
        let firstDisplay = f.prefix(1).uppercased() + f.dropFirst()
        let lastDisplay = rng.below(50) == 0 ? displayOddities[rng.below(displayOddities.count)]
                                             : l.prefix(1).uppercased() + l.dropFirst()
        if rng.below(2000) == 0 { return (invalid[rng.below(invalid.count)], firstDisplay, lastDisplay) }
        let local = rng.below(200) == 0 ? unicodeLocal[rng.below(unicodeLocal.count)] + String(rng.below(100))
            : f + [".", "_", ""][rng.below(3)] + l + (rng.below(2) == 0 ? String(rng.below(10_000)) : "")
        // Most addresses are specific to a team; a few (free mail) repeat across teams.
        let domain = rng.below(3) == 0 ? domains[rng.below(domains.count)] : "team\(team).example"
        return (local + "@" + domain, firstDisplay, lastDisplay)
    }

    /// The address as this record spells it: usually as is, sometimes in other case or with blanks.
    static func spelling(_ email: String, _ rng: inout SeededRandom) -> String {
        switch rng.below(100) {
        case 0..<4: return email.uppercased()
        case 4..<7: return email.prefix(1).uppercased() + email.dropFirst()
        case 7..<9: return " " + email
        case 9: return "\"" + email + " \""
        default:
            if rng.below(1000) == 0 { return email + "\u{00A0}" }
            return email
        }
    }

    static func date(_ epoch: Int) -> String {
        Timestamp.iso8601(Date(timeIntervalSince1970: TimeInterval(epoch)))
    }
}

/// Streams text into a gzip file through zlib.
final class GzipFileWriter {
    private let encoder: GzipEncoder
    private let sink: FileSink
    private var pending: [UInt8] = []

    init(_ sink: FileSink, level: Int32) {
        encoder = GzipEncoder(level: level)
        self.sink = sink
        pending.reserveCapacity(1 << 20)
    }

    func write(_ text: String) throws {
        pending.append(contentsOf: text.utf8)
        if pending.count >= 1 << 20 {
            try sink.write(encoder.compress(pending))
            pending.removeAll(keepingCapacity: true)
        }
    }

    func close() throws {
        try sink.write(encoder.compress(pending) + encoder.finish())
        try sink.close()
    }
}
