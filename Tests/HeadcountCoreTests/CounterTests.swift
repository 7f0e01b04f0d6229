import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import HeadcountCore

/// A small deterministic generator for property tests.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

@Suite struct CounterTests {
    struct Row { var team: Int; var audience: Int?; var email: String; var unsubscribed: Bool }

    /// The model answer: sets of strings.
    func model(_ rows: [Row], teams: Int, audiences: Int, policy: UnsubscribedPolicy) -> CountResult {
        var r = CountResult(teams: teams, audiences: audiences)
        var emails: [Int: Set<String>] = [:], pairs: [Int: Set<String>] = [:]
        var audiencesOf: [String: Set<Int>] = [:]   // "team|email" -> audiences
        var unsub: [String: (any: Bool, all: Bool)] = [:]
        for row in rows {
            let k = "\(row.team)|\(row.email)"
            emails[row.team, default: []].insert(row.email)
            if let a = row.audience {
                pairs[row.team, default: []].insert("\(a)|\(row.email)")
                audiencesOf[k, default: []].insert(a)
            } else {
                audiencesOf[k, default: []].formUnion([])
            }
            let u = unsub[k] ?? (false, true)
            unsub[k] = (u.any || row.unsubscribed, u.all && row.unsubscribed)
        }
        var histogram = [0, 0]
        for (k, auds) in audiencesOf {
            let team = Int(k.split(separator: "|")[0])!
            if auds.isEmpty { r.withoutAudience[team] += 1 }
            while histogram.count <= auds.count { histogram.append(0) }
            histogram[auds.count] += 1
            let u = unsub[k]!
            if policy == .any ? u.any : u.all { r.unsubscribed[team] += 1 }
            for a in auds {
                r.audienceContacts[a] += 1
                if auds.count > 1 { r.audienceShared[a] += 1 } else { r.audienceExclusive[a] += 1 }
            }
        }
        for t in 0..<teams {
            r.global[t] = emails[t]?.count ?? 0
            r.legacy[t] = pairs[t]?.count ?? 0
        }
        for a in 0..<audiences where r.audienceContacts[a] > 0 { r.audiences[a % teams] += 1 }
        r.audiencesPerEmail = histogram
        return r
    }

    func counted(_ rows: [Row], teams: Int, audiences: Int, policy: UnsubscribedPolicy,
                 memoryLimit: Int = 1 << 30, spillDirectory: String? = nil, threads: Int = 1,
                 maxStaging: Int = PartitionedCounter.maxStagingRecords,
                 grownTogether: ((Int) -> Void)? = nil,
                 merged: ((_ spilled: Bool, _ mergesAtOnce: Int) -> Void)? = nil) throws -> CountResult {
        let counter = PartitionedCounter(memoryLimit: memoryLimit,
                                         temporaryDirectory: spillDirectory ?? NSTemporaryDirectory(), threads: threads,
                                         maxStaging: maxStaging)
        defer {
            grownTogether?(counter.tablesGrownTogether)
            merged?(counter.isSpilling, counter.mergesAtOnce)
        }
        for row in rows {
            let key = Array(row.email.utf8).withUnsafeBytes { ByteHash.hash128($0, seed: UInt64(row.team) &* 7919) }
            counter.insert(key, team: UInt32(row.team), audience: row.audience.map(UInt32.init) ?? noAudience,
                           flags: row.unsubscribed ? .unsubscribed : .subscribed)
        }
        let audienceTeam = (0..<audiences).map { UInt32($0 % teams) }
        return try counter.finish(teams: teams, audienceTeam: audienceTeam, policy: policy)
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func equalsTheSetModelOnRandomRows(seed: UInt64) throws {
        var rng = SplitMix(state: seed)
        let teams = 1 + rng.below(20), audiences = teams * (1 + rng.below(6))
        let people = 1 + rng.below(3000)
        var rows: [Row] = []
        for _ in 0..<(rng.below(20_000) + 1) {
            let team = rng.below(teams)
            // Audience a belongs to team a % teams.
            let audience: Int? = rng.below(10) == 0 ? nil : team + teams * rng.below(audiences / teams)
            rows.append(Row(team: team, audience: audience, email: "p\(rng.below(people))@x.io",
                            unsubscribed: rng.below(8) == 0))
        }
        for policy in UnsubscribedPolicy.allCases {
            let got = try counted(rows, teams: teams, audiences: audiences, policy: policy)
            #expect(got == model(rows, teams: teams, audiences: audiences, policy: policy))
        }
    }

    /// `count` rows of `people` addresses in `teams` teams: a tenth without an audience, the rest
    /// in one of their team's `audiencesPerTeam` (audience a belongs to team a % teams), an eighth
    /// unsubscribed.
    func randomRows(seed: UInt64, count: Int, teams: Int, audiencesPerTeam: Int, people: Int) -> [Row] {
        var rng = SplitMix(state: seed)
        return (0..<count).map { _ in
            let team = rng.below(teams)
            let audience: Int? = rng.below(10) == 0 ? nil : team + teams * rng.below(audiencesPerTeam)
            return Row(team: team, audience: audience, email: "p\(rng.below(people))@x.io",
                       unsubscribed: rng.below(8) == 0)
        }
    }

    @Test(arguments: [11, 12, 13])
    func spillingToDiskStaysExact(seed: UInt64) throws {
        let teams = 7, audiences = 35
        let rows = randomRows(seed: seed, count: 120_000, teams: teams, audiencesPerTeam: 5, people: 60_000)
        let dir = TemporaryFolder()
        for policy in UnsubscribedPolicy.allCases {
            // 1 MiB cannot hold the tables: the counter spills almost at once.
            let got = try counted(rows, teams: teams, audiences: audiences, policy: policy, memoryLimit: 1 << 20,
                                  spillDirectory: dir.path)
            #expect(got == model(rows, teams: teams, audiences: audiences, policy: policy))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "spill files removed")
    }

    @Test func aSmallLimitMakesTheCounterSpill() throws {
        let counter = PartitionedCounter(memoryLimit: 1 << 20)
        for i in 0..<300_000 {
            let key = Array("u\(i % 250_000)@x.io".utf8).withUnsafeBytes { ByteHash.hash128($0, seed: 3) }
            counter.insert(key, team: 0, audience: noAudience, flags: .subscribed)
        }
        #expect(counter.isSpilling)
        #expect(try counter.finish(teams: 1, audienceTeam: [], policy: .any).global == [250_000])
    }

    /// Contacts in many audiences: around the tally's small-histogram bound (64) and past it,
    /// in memory and spilled, with several tally threads.
    @Test func contactsInManyAudiencesFillTheHistogram() throws {
        let teams = 2, audiences = 240
        var rows: [Row] = []
        for (person, count) in [(0, 63), (1, 64), (2, 65), (3, 100), (4, 1), (5, 0), (6, 64)] {
            for k in 0..<max(count, 1) {
                rows.append(Row(team: person % 2, audience: count == 0 ? nil : person % 2 + teams * k,
                                email: "p\(person)@x.io", unsubscribed: false))
            }
        }
        let expected = model(rows, teams: teams, audiences: audiences, policy: .any)
        #expect(expected.audiencesPerEmail.count == 101)
        #expect(expected.audiencesPerEmail[64] == 2 && expected.audiencesPerEmail[100] == 1)
        #expect(try counted(rows, teams: teams, audiences: audiences, policy: .any) == expected)
        let dir = TemporaryFolder()
        #expect(try counted(rows, teams: teams, audiences: audiences, policy: .any, memoryLimit: 1 << 20,
                            spillDirectory: dir.path) == expected)
        let counter = PartitionedCounter(threads: 3)
        for row in rows {
            let key = Array(row.email.utf8).withUnsafeBytes { ByteHash.hash128($0, seed: UInt64(row.team) &* 7919) }
            counter.insert(key, team: UInt32(row.team), audience: row.audience.map(UInt32.init) ?? noAudience,
                           flags: .subscribed)
        }
        let threaded = try counter.finish(teams: teams, audienceTeam: (0..<audiences).map { UInt32($0 % teams) },
                                          policy: .any)
        #expect(threaded == expected)
    }

    /// The tally adds into 32-bit sums and moves them into 64-bit ones before they could
    /// overflow: with the limit lowered, it moves them every few tables, in memory and spilled,
    /// on one and on three threads, and the counts stay the model's.
    @Test(arguments: [1, 3])
    func tallySumsMovedOftenStayExact(threads: Int) throws {
        let teams = 7, audiences = 35
        let rows = randomRows(seed: 21, count: 300_000, teams: teams, audiencesPerTeam: 5, people: 250_000)
        let dir = TemporaryFolder()
        for memoryLimit in [1 << 30, 1 << 20] {
            let counter = PartitionedCounter(memoryLimit: memoryLimit, temporaryDirectory: dir.path, threads: threads)
            counter.tallyFlushLimit = 1_000
            for row in rows {
                let key = Array(row.email.utf8).withUnsafeBytes { ByteHash.hash128($0, seed: UInt64(row.team) &* 7919) }
                counter.insert(key, team: UInt32(row.team), audience: row.audience.map(UInt32.init) ?? noAudience,
                               flags: row.unsubscribed ? .unsubscribed : .subscribed)
            }
            let got = try counter.finish(teams: teams, audienceTeam: (0..<audiences).map { UInt32($0 % teams) },
                                         policy: .any)
            #expect(got == model(rows, teams: teams, audiences: audiences, policy: .any))
            #expect(counter.tallyFlushes > 50)
            #expect(counter.isSpilling == (memoryLimit == 1 << 20))
        }
    }

    /// The per-team row counters keep their values as they grow past their first capacity.
    @Test func countsKeepTheirValuesAsTheyGrow() {
        let counts = Counts()
        for i in 0..<5000 {
            counts.append(0)
            for j in stride(from: 0, through: i, by: 97) { counts[j] += 1 }
        }
        #expect(counts.count == 5000)
        #expect((0..<5000).allSatisfy { j in counts[j] == (j % 97 == 0 ? 5000 - j : 0) })
    }

    @Test func sameEmailInTwoTeamsCountsInEach() throws {
        let rows = [Row(team: 0, audience: 0, email: "a@b.c", unsubscribed: false),
                    Row(team: 1, audience: 1, email: "a@b.c", unsubscribed: false)]
        let r = try counted(rows, teams: 2, audiences: 2, policy: .any)
        #expect(r.global == [1, 1])
        #expect(r.legacy == [1, 1])
    }

    /// Staging buffers are written a cache line (two records) at a time, the first record of a
    /// line waiting aside until the second comes: odd and even staging sizes, counts taken
    /// midway (an odd number of records staged), spilled, and applied by `finish`'s workers on
    /// other threads all keep every record.
    @Test(arguments: [1, 2, 7, 16])
    func stagingByLinesKeepsEveryRecord(maxStaging: Int) throws {
        let teams = 7, audiences = 21
        let rows = randomRows(seed: 31 + UInt64(maxStaging), count: 30_001, teams: teams, audiencesPerTeam: 3,
                              people: 9_000)
        let expected = model(rows, teams: teams, audiences: audiences, policy: .any)
        let dir = TemporaryFolder()
        for (limit, threads) in [(1 << 30, 1), (1 << 30, 3), (1 << 20, 1), (1 << 20, 3)] {
            #expect(try counted(rows, teams: teams, audiences: audiences, policy: .any, memoryLimit: limit,
                                spillDirectory: dir.path, threads: threads, maxStaging: maxStaging) == expected)
        }
        let counter = PartitionedCounter(threads: 3, maxStaging: maxStaging)
        var seen = Set<String>()
        for (n, row) in rows.enumerated() {
            let key = Array(row.email.utf8).withUnsafeBytes { ByteHash.hash128($0, seed: UInt64(row.team) &* 7919) }
            counter.insert(key, team: UInt32(row.team), audience: row.audience.map(UInt32.init) ?? noAudience,
                           flags: row.unsubscribed ? .unsubscribed : .subscribed)
            seen.insert("\(row.team)|\(row.email)")
            if n == 4_999 || n == 15_000 { #expect(counter.count == seen.count) }
        }
        #expect(try counter.finish(teams: teams, audienceTeam: (0..<audiences).map { UInt32($0 % teams) },
                                   policy: .any) == expected)
    }

    /// The same 128-bit key under two teams (what two team ids with colliding 64-bit hashes
    /// would give one address) is two contacts, in memory and spilled.
    @Test(arguments: [1 << 30, 1 << 20])
    func oneKeyUnderTwoTeamsIsTwoContacts(memoryLimit: Int) throws {
        let dir = TemporaryFolder()
        let counter = PartitionedCounter(memoryLimit: memoryLimit, temporaryDirectory: dir.path, maxStaging: 16)
        let shared = Key128(low: 0x1234_5678_9abc_def0, high: 0x0fed_cba9_8765_4321)
        // Enough other contacts that the small limit spills before the shared key comes back.
        for i in 0..<300_000 {
            let key = Array("u\(i)@x.io".utf8).withUnsafeBytes { ByteHash.hash128($0, seed: 5) }
            counter.insert(key, team: 2, audience: noAudience, flags: .subscribed)
            if i % 100_000 == 0 {
                counter.insert(shared, team: 0, audience: 0, flags: .subscribed)
                counter.insert(shared, team: 1, audience: 1, flags: .unsubscribed)
            }
        }
        #expect(counter.isSpilling == (memoryLimit == 1 << 20))
        let r = try counter.finish(teams: 3, audienceTeam: [0, 1], policy: .any)
        #expect(r.global == [1, 1, 300_000])
        #expect(r.legacy == [1, 1, 0])
        #expect(r.unsubscribed == [0, 1, 0])
        #expect(r.audienceContacts == [1, 1])
        #expect(r.audienceExclusive == [1, 1])
    }

    /// Rows that are nearly all new contacts (a global layout's contacts file) fill the staging
    /// buffers in step: when the first table fills, every other one has a buffer of records not
    /// yet applied. Counted with what they have staged, all tables grow together from the first
    /// fill; counted by their contacts alone, each grew by itself as its buffer came in.
    @Test func tablesOfNewContactsGrowTogetherFromTheFirstFill() throws {
        let teams = 5, audiences = 20
        var rng = SplitMix(state: 41)
        let rows = (0..<300_000).map { i in
            Row(team: i % teams, audience: rng.below(4) == 0 ? nil : i % teams + teams * rng.below(4),
                email: "c\(i)@x.io", unsubscribed: rng.below(8) == 0)
        }
        let expected = model(rows, teams: teams, audiences: audiences, policy: .any)
        var grown: [Bool: (alone: Int, together: Int)] = [:]
        for mostlyNew in [false, true] {
            // Tables of 1,024 slots fill during their second buffer of 512 records, while the
            // others hold one buffer (half full) and have the next one staged. The rows stand for
            // the first quarter of a dump, so that tables grow by several times, as in a large one.
            let counter = PartitionedCounter(threads: 2, maxStaging: 512)
            counter.recordsAreMostlyNew = mostlyNew
            for (i, row) in rows.enumerated() {
                if i % 1000 == 0 { counter.noteProgress(Double(i) / Double(rows.count) / 4) }
                let key = Array(row.email.utf8).withUnsafeBytes { ByteHash.hash128($0, seed: UInt64(row.team) &* 7919) }
                counter.insert(key, team: UInt32(row.team), audience: row.audience.map(UInt32.init) ?? noAudience,
                               flags: row.unsubscribed ? .unsubscribed : .subscribed)
            }
            grown[mostlyNew] = (counter.tablesGrownAlone, counter.tablesGrownTogether)
            let audienceTeam = (0..<audiences).map { UInt32($0 % teams) }
            #expect(try counter.finish(teams: teams, audienceTeam: audienceTeam, policy: .any) == expected)
        }
        #expect(grown[false]!.alone >= 255, "by their contacts alone, each table grew by itself: \(grown)")
        #expect(grown[true]!.alone == 0 && grown[true]!.together >= 256, "\(grown)")
    }

    /// With several threads, tables that fill at about the same time grow together on all of
    /// them. Records reach the tables 64 at a time per partition, so that, as in a large dump,
    /// they fill side by side. The counts are the set model's for every thread count and for
    /// limits that leave room for growing them together (1 GiB), only one at a time (16 MiB),
    /// or not at all (2 MiB: spilling).
    @Test func tablesGrownTogetherStayExact() throws {
        let teams = 5, audiences = 20
        let rows = randomRows(seed: 21, count: 400_000, teams: teams, audiencesPerTeam: 4, people: 300_000)
        let expected = model(rows, teams: teams, audiences: audiences, policy: .any)
        let dir = TemporaryFolder()
        var together: [String: Int] = [:]
        var merges: [String: (spilled: Bool, atOnce: Int)] = [:]
        for threads in [1, 2, 3] {
            for mib in [1024, 16, 2] {
                let got = try counted(rows, teams: teams, audiences: audiences, policy: .any, memoryLimit: mib << 20,
                                      spillDirectory: dir.path, threads: threads, maxStaging: 64,
                                      grownTogether: { together["\(threads)/\(mib)"] = $0 },
                                      merged: { merges["\(threads)/\(mib)"] = ($0, $1) })
                #expect(got == expected, "\(threads) threads, \(mib) MiB")
            }
        }
        // Every spilled run merged more than one partition at once with more than one thread:
        // the limit holds one merge at first, more as merged partitions free their tables.
        #expect(merges["2/16"]?.spilled == true && merges["2/16"]?.atOnce == 2, "\(merges)")
        #expect(merges["3/16"]?.spilled == true && merges["3/16"]?.atOnce == 3, "\(merges)")
        #expect(merges["3/2"]?.spilled == true && merges["3/2"]!.atOnce > 1, "\(merges)")
        #expect(merges["1/2"]?.atOnce == 1 && merges["2/1024"]?.spilled == false, "\(merges)")
        #expect(together["1/1024"] == 0, "one thread grows one table at a time")
        #expect(together["2/1024"]! >= 256 && together["3/1024"]! >= 256, "every partition grew with others: \(together)")
        #expect(together["2/16"] == 0 && together["2/2"] == 0 && together["3/2"] == 0,
                "16 and 2 MiB have no room to grow tables together: \(together)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "spill files removed")
    }

    /// 200,000 distinct contacts of one team under a 2 MiB limit: spilled, not yet finished.
    func spilledCounter(_ dir: TemporaryFolder, threads: Int) -> PartitionedCounter {
        let counter = PartitionedCounter(memoryLimit: 2 << 20, temporaryDirectory: dir.path, threads: threads,
                                         maxStaging: 64)
        for i in 0..<200_000 {
            let key = Array("p\(i)@x.io".utf8).withUnsafeBytes { ByteHash.hash128($0, seed: 1) }
            counter.insert(key, team: 0, audience: noAudience, flags: .subscribed)
        }
        #expect(counter.isSpilling)
        return counter
    }

    /// A spill file damaged or removed behind the run's back fails it with the environment's
    /// error naming the file, on one thread or several, and the spill files are removed.
    @Test(arguments: [(1, true), (3, true), (1, false), (3, false)])
    func aDamagedSpillFileFailsTheMerge(threads: Int, truncate: Bool) throws {
        let dir = TemporaryFolder()
        let counter = spilledCounter(dir, threads: threads)
        let folder = dir.path + "/" + (try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path).first))
        var damaged: [String] = []
        if truncate {
            // Every file loses its last 5 bytes. Where `finish` still spills staged records, it
            // writes them at the old end and the hole reads as zeros; the partitions with none
            // staged end inside a record.
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name != TemporaryFiles.ownerFile {
                let path = folder + "/" + name
                let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
                #expect(Glibc.truncate(path, off_t(size - 5)) == 0)
                damaged.append(path)
            }
        } else {
            damaged = [folder + "/partition-100.bin"]
            #expect(unlink(damaged[0]) == 0)
        }
        do {
            _ = try counter.finish(teams: 1, audienceTeam: [], policy: .any)
            Issue.record("the merge did not fail")
        } catch let error as HeadcountError {
            #expect(error.code == .environment && damaged.contains(error.file ?? ""), "\(error)")
            #expect(error.message.contains(truncate ? "ends inside a record" : "is gone"), "\(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "spill files removed")
    }

    /// `onMerged` hears of every spilled partition merged, with how many spilled, on any thread.
    @Test(arguments: [1, 3])
    func everyMergeIsReported(threads: Int) throws {
        let dir = TemporaryFolder()
        let counter = spilledCounter(dir, threads: threads)
        let lock = NSLock()
        var reports: [(done: Int, total: Int)] = []
        counter.onMerged = { done, total in
            lock.lock(); reports.append((done, total)); lock.unlock()
        }
        let r = try counter.finish(teams: 1, audienceTeam: [], policy: .any)
        #expect(r.global == [200_000])
        let total = try #require(reports.first?.total)
        #expect(total > 200 && total <= PartitionedCounter.partitionCount, "\(total) partitions spilled")
        #expect(reports.count == total && reports.allSatisfy { $0.total == total })
        #expect(reports.map(\.done).sorted() == Array(1...total))
    }

    /// Merges of spilled partitions start only within the room left under the limit, and one
    /// always can; partitions that did not spill need no room.
    @Test func mergesStartOnlyWithinTheRoomLeft() {
        let needs = [60, 60, 0, 60, 60, 500]
        let schedule = MergeSchedule(count: needs.count, room: 100)
        let need = { (i: Int) in needs[i] }
        #expect(schedule.step(need) == .take(index: 0, reserved: 60))   // room 40
        #expect(schedule.step(need) == .wait)                           // 60 > 40, one merging
        schedule.done(reserved: 60, freed: 50)                          // room 150, none merging
        #expect(schedule.step(need) == .take(index: 1, reserved: 60))   // room 90
        #expect(schedule.step(need) == .take(index: 2, reserved: 0))    // no merge: no room needed
        #expect(schedule.step(need) == .take(index: 3, reserved: 60))   // room 30, two merging
        #expect(schedule.step(need) == .wait)
        schedule.done(reserved: 60, freed: 0)                           // room 90
        schedule.done(reserved: 60, freed: 0)                           // room 150, none merging
        #expect(schedule.step(need) == .take(index: 4, reserved: 60))   // room 90
        #expect(schedule.step(need) == .wait)                           // 500 > 90
        schedule.done(reserved: 60, freed: 0)                           // none merging
        #expect(schedule.step(need) == .take(index: 5, reserved: 500))  // alone, past the room
        #expect(schedule.step(need) == .finished)
        #expect(schedule.mostAtOnce == 2)
    }

    /// A table grows in its own mapping, extended: every contact is found again at its new
    /// place with its audiences and flags, whether it grows alone (`grow`) or in two steps as
    /// tables grown together do (`extend`, then `rehash` on a worker), from a capacity that is a
    /// whole number of pages and from one that is not, and to one that is not a power of two.
    @Test func aTableGrownInItsOwnMappingKeepsEveryContact() {
        typealias Table = PartitionedCounter.Table
        /// Every occupied slot's contact, which must appear in one slot only.
        func contacts(_ t: Table) -> [String: [UInt32]] {
            var all: [String: [UInt32]] = [:], slots = 0
            t.forEachContact { s, audiences in
                all["\(s.low)/\(s.high)/\(s.team)/\(s.flags)"] = audiences.sorted()
                slots += 1
            }
            #expect(slots == all.count && slots == t.count, "a contact in two slots, or a slot not counted")
            return all
        }
        for (first, steps) in [(1024, [5000, 17_003]), (1000, [1001, 4096, 9999])] {
            let table = Table(capacity: first)
            var rng = SplitMix(state: UInt64(first))
            var keys: [(UInt64, UInt64)] = []
            var grownInTwoSteps = false
            for next in steps {
                // Fill to one contact short of the maximum load (an insert needs room), each new
                // contact in one to three audiences.
                while (table.count + 2) * 4 < table.capacity * 3 {
                    let key = (rng.next() | 1, rng.next())
                    keys.append(key)
                    for a in 0...rng.below(3) {
                        table.insert(low: key.0, high: key.1, team: UInt32(keys.count % 5), audience: UInt32(a * 7),
                                     flags: UInt32(keys.count % 3))
                    }
                }
                let before = contacts(table), count = table.count
                if grownInTwoSteps {
                    table.extend(to: next)
                    table.rehash()
                } else {
                    table.grow(to: next)
                }
                grownInTwoSteps.toggle()
                #expect(table.capacity == next && table.count == count)
                #expect(contacts(table) == before, "\(first) → \(next)")
                // Found again where they are now: inserted once more, none is added.
                for (i, key) in keys.enumerated() {
                    table.insert(low: key.0, high: key.1, team: UInt32((i + 1) % 5), audience: 0, flags: 0)
                }
                #expect(table.count == count && contacts(table) == before, "\(first) → \(next)")
            }
        }
    }

    /// The partitions' tables are made when a staging buffer first fills, not with the counter,
    /// which a run makes before its reading threads start; a run too small to fill one gets them
    /// in `finish`, sized for what is staged.
    @Test func tablesAreMadeWhenTheFirstStagingBufferFills() throws {
        let small = PartitionedCounter(maxStaging: 64)
        #expect(small.tableBytesHeld == 0)
        for i in 0..<10 {
            let key = Array("s\(i)@x.io".utf8).withUnsafeBytes { ByteHash.hash128($0, seed: 2) }
            small.insert(key, team: 0, audience: noAudience, flags: .subscribed)
        }
        #expect(small.tableBytesHeld == 0)
        #expect(try small.finish(teams: 1, audienceTeam: [], policy: .any).global == [10])
        // Made in `finish` for the few records staged: a page each.
        #expect(small.tableBytesHeld == PartitionedCounter.partitionCount * PageMemory.page)

        let counter = PartitionedCounter(maxStaging: 64)
        var i = 0
        while counter.tableBytesHeld == 0 {
            let key = Array("t\(i)@x.io".utf8).withUnsafeBytes { ByteHash.hash128($0, seed: 2) }
            counter.insert(key, team: 0, audience: noAudience, flags: .subscribed)
            i += 1
        }
        // Some partition's 64 records, 256 partitions: not before the 64th record.
        #expect(i >= 64 && i < 64 * PartitionedCounter.partitionCount)
        #expect(counter.tableBytesHeld
                == PartitionedCounter.partitionCount * PageMemory.length(PartitionedCounter.initialSlots, 32))
        #expect(try counter.finish(teams: 1, audienceTeam: [], policy: .any).global == [i])
    }

    @Test func manyKeysGrowEveryPartitionAndStayExact() throws {
        let counter = PartitionedCounter()
        counter.noteProgress(0.5)
        for i in 0..<300_000 {
            let key = Array("user\(i % 200_000)@example.com".utf8).withUnsafeBytes { ByteHash.hash128($0, seed: 1) }
            counter.insert(key, team: 0, audience: UInt32(i % 3), flags: .subscribed)
        }
        let r = try counter.finish(teams: 1, audienceTeam: [0, 0, 0], policy: .any)
        #expect(r.global == [200_000])
        #expect(r.legacy == [300_000])
    }
}

@Suite struct HashTests {
    /// The loop-free short read against the byte loop, for every length and offset, with
    /// bytes after the range that must not show.
    @Test func paddedReadIsTheBytesInPlaceWithZerosAbove() {
        let bytes: [UInt8] = (0..<24).map { UInt8(truncatingIfNeeded: 0x11 * ($0 + 1)) }
        bytes.withUnsafeBytes { b in
            for i in 0..<8 {
                for n in 0...8 {
                    var expected: UInt64 = 0
                    for k in 0..<n { expected |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
                    #expect(ByteHash.readPadded(b.baseAddress!, i, n) == expected, "offset \(i), length \(n)")
                }
            }
        }
    }

    @Test func noCollisionsAmongAMillionSimilarKeys() {
        var seen = Set<Key128>()
        var lowHalves = Set<UInt64>()
        for i in 0..<1_000_000 {
            let k = Array("user\(i)@example.com".utf8).withUnsafeBytes { ByteHash.hash128($0, seed: 42) }
            seen.insert(k)
            lowHalves.insert(k.low)
        }
        #expect(seen.count == 1_000_000)
        #expect(lowHalves.count == 1_000_000)
    }

    @Test func seedAndEveryLengthMatter() {
        var seen = Set<Key128>()
        let bytes = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        for n in 0...bytes.count {
            for seed: UInt64 in [0, 1, 2] {
                seen.insert(Array(bytes[0..<n]).withUnsafeBytes { ByteHash.hash128($0, seed: seed) })
            }
        }
        #expect(seen.count == (bytes.count + 1) * 3)
    }

    /// Ids of up to 16 bytes are hashed with one multiply of their two zero-padded words: the
    /// length is mixed in, so that an id and the same id with NULs after it hash apart, and a
    /// run of numeric team ids spreads over a table's slots as random values would.
    @Test func shortIdHashesKeepLengthsAndSpread() {
        let seed = ReportJob.teamSeed
        func hash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { ByteInterner.hash($0, seed: seed) } }
        let padded = (1...16).map { n in [UInt8(0x61)] + [UInt8](repeating: 0, count: n - 1) }
        #expect(Set(padded.map(hash)).count == 16)
        let teams = (0..<20_000).map { hash(Array(String($0).utf8)) }
        #expect(Set(teams).count == 20_000)
        // 16,384 slots: random values would fill 16384 × (1 - e^(-20000/16384)), about 11,550
        // (these fill 11,789); ids that clustered would fill far fewer.
        let occupied = Set(teams.map { $0 & 0x3FFF }).count
        #expect(occupied > 11_300)
    }

    @Test func interner() {
        let interner = ByteInterner(seed: 9)
        var indices: [Int] = []
        for i in 0..<5000 {
            indices.append(Array("id\(i % 2500)".utf8).withUnsafeBytes { interner.intern($0, owner: UInt32(i % 2)) })
        }
        // "idK" appears with owner K%2 only (i%2500 and i%2 agree in parity), so 2500 entries.
        #expect(interner.count == 2500)
        #expect(indices[0] == indices[2500])
        #expect(interner.bytes(of: indices[7]) == Array("id7".utf8))
        #expect(Array("id7".utf8).withUnsafeBytes { interner.lookup($0, owner: 0) } == nil)
        #expect(Array("id7".utf8).withUnsafeBytes { interner.lookup($0, owner: 1) } == indices[7])
    }

    /// An id's bytes in a report row (`IDBytes`), in place up to 16 bytes and in an array beyond:
    /// every length reads back as it went in, as a collection and as a buffer, equal ids are equal
    /// and others not, and they order as their bytes do, whichever way each is kept.
    @Test func idBytesReadBackAsTheyWentIn() {
        let interner = ByteInterner(seed: 3)
        var ids: [[UInt8]] = []
        for n in 0...40 {
            for variant in 0..<2 {
                ids.append((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ n &+ variant * 101) })
            }
        }
        ids.append([0])
        ids.append([0, 0])
        ids.append(Array(repeating: 0xFF, count: 16))
        ids.append(Array(repeating: 0xFF, count: 17))
        for id in ids {
            let kept = IDBytes(id)
            #expect(Array(kept) == id && kept.count == id.count)
            #expect(kept.withUnsafeBytes { Array($0) } == id)
            let index = id.withUnsafeBytes { interner.intern($0) }
            #expect(interner.idBytes(of: index) == kept)
        }
        for a in ids {
            for b in ids {
                #expect((IDBytes(a) == IDBytes(b)) == (a == b))
                #expect(IDBytes(a).lexicographicallyPrecedes(IDBytes(b)) == a.lexicographicallyPrecedes(b))
            }
        }
        let row = AudienceRow(teamID: Array("t".utf8), audienceID: Array("a,b".utf8), contacts: 1, sharedContacts: 0,
                              exclusiveContacts: 1)
        #expect(String(decoding: row.audienceID, as: UTF8.self) == "a,b")
    }

    /// Every length through the word copies (4...16 bytes) and `memmove` (the rest), across the
    /// arena's growth from a small capacity: each piece reads back as it went in.
    @Test func arenaKeepsEveryLengthIntact() {
        var arena = ByteArena(capacity: 32)
        defer { arena.deallocate() }
        var pieces: [(offset: Int, bytes: [UInt8])] = []
        for round in 0..<3 {
            for n in 0...40 {
                let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ n &+ round) }
                pieces.append((bytes.withUnsafeBytes { arena.append($0) }, bytes))
            }
        }
        for p in pieces {
            #expect(Array(UnsafeRawBufferPointer(start: arena.base + p.offset, count: p.bytes.count)) == p.bytes)
        }
        #expect(arena.used == pieces.reduce(0) { $0 + $1.bytes.count })
    }

    /// The reports' order (SPEC §5: byte order): entries compared in place sort as their bytes do,
    /// a prefix first, bytes above 0x7F after ASCII, NUL before everything.
    @Test func internedIdsSortInByteOrder() {
        let interner = ByteInterner(seed: 3)
        let ids: [[UInt8]] = [Array("9".utf8), Array("10".utf8), Array("1".utf8), [], Array("B".utf8), Array("a".utf8),
                              Array("ab".utf8), [0x61, 0x00], Array("é".utf8), Array("aaaaaaaaaaaaaaaaaaaab".utf8),
                              Array("aaaaaaaaaaaaaaaaaaaa".utf8)]
        let indices = ids.map { id in id.withUnsafeBytes { interner.intern($0) } }
        let expected = ids.sorted { $0.lexicographicallyPrecedes($1) }
        let sorted = indices.sorted { interner.precedes($0, $1) }.map { interner.bytes(of: $0) }
        #expect(sorted == expected)
        #expect(sorted.first == [] && sorted.last == Array("é".utf8))
        // The reports sort by the eight-byte prefix first: the same order, NULs and all.
        let more: [[UInt8]] = [Array("aaaaaaaa".utf8) + [0], Array("aaaaaaab".utf8), [0x61, 0, 0x62], [0x61, 0]]
        let all = indices + more.map { id in id.withUnsafeBytes { interner.intern($0) } }
        let byPrefix = all.map(interner.sortKey(of:)).sorted(by: interner.precedes).map(\.index)
        #expect(byPrefix.map { interner.bytes(of: $0) } == (ids + more).sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test func percentagesRoundHalfUpInFixedPoint() {
        #expect(Decimal2.percent(1, of: 3) == "33.33")
        #expect(Decimal2.percent(2, of: 3) == "66.67")
        #expect(Decimal2.percent(1, of: 8) == "12.50")
        #expect(Decimal2.percent(1, of: 800) == "0.13")
        #expect(Decimal2.percent(1, of: 32) == "3.13")       // an exact tie, half up (README: Percentages)
        #expect(Decimal2.percent(0, of: 0) == "0.00")
        #expect(Decimal2.percent(5, of: 5) == "100.00")
        #expect(Decimal2.percent(-1, of: 8) == "-12.50")
    }

    /// The CSV writer's numbers are written in place; they must read as `String` and
    /// `Decimal2.format` write them, signs, zeros and the extremes included, within their bounds.
    @Test func csvNumbersAreTheTextOfTheirValues() {
        let numbers = [0, 7, -7, 10, -10, 99, 100, 1_234_567_890, Int.max, Int.min, Int.min + 1]
        var w = CSVWriter()
        w.row(within: numbers.count * RowBuilder.numberBound) { row in
            for n in numbers { row.field(n) }
        }
        let hundredths = [0, 5, -5, 50, 99, 100, -100, 1234, 10_000, -123_456, Int.max, Int.min + 1]
        w.row(within: hundredths.count * RowBuilder.hundredthsBound) { row in
            for h in hundredths { row.field(hundredths: h) }
        }
        #expect(String(decoding: w.bytes, as: UTF8.self)
                == numbers.map(String.init).joined(separator: ",") + "\n"
                + hundredths.map { Decimal2.format(hundredths: $0) }.joined(separator: ",") + "\n")
        #expect(Decimal2.format(hundredths: -5) == "-0.05" && Decimal2.format(hundredths: 1234) == "12.34")
    }

    /// A row written in place quotes its fields as a row of arrays does: empty fields (the first
    /// one too), commas, quotes, CR and LF, and an id of quotes alone, which takes its whole bound.
    @Test func aRowWrittenInPlaceIsTheRowOfItsFields() {
        let fields: [[UInt8]] = [[], Array("a,b".utf8), Array("say \"hi\"".utf8), Array("x\ry".utf8),
                                 Array("x\ny".utf8), [], Array(repeating: 0x22, count: 40), Array("plain".utf8),
                                 Array("josé".utf8)]
        var expected = CSVWriter()
        expected.row(fields)
        expected.row([[UInt8]()])
        var w = CSVWriter()
        w.row(within: fields.reduce(0) { $0 + RowBuilder.bound(bytes: $1.count) }) { row in
            for f in fields.dropLast() { f.withUnsafeBytes { row.field($0) } }
            row.field(text: "josé")
        }
        w.row(within: RowBuilder.bound(bytes: 0)) { row in row.field(UnsafeRawBufferPointer(start: nil, count: 0)) }
        #expect(w.bytes == expected.bytes)
        #expect(String(decoding: w.bytes, as: UTF8.self).hasPrefix(",\"a,b\",\"say \"\"hi\"\"\","))
    }

    /// Rows written in place past the writer's room (it grows by doubling, from a reserve or
    /// from none), between rows of arrays, keep every byte in order: 20,000 rows, 617,491 bytes.
    @Test func rowsWrittenInPlaceSurviveTheWritersGrowth() {
        for reserve in [0, 100, 1 << 20] {
            var w = CSVWriter(reserving: reserve)
            var expected = ""
            for i in 0..<20_000 {
                let id = Array(String(repeating: "x", count: i % 37).utf8)
                if i % 1000 == 999 {
                    w.row([id, Array("a,b".utf8)])
                    expected += id.isEmpty ? ",\"a,b\"\n" : "\(String(decoding: id, as: UTF8.self)),\"a,b\"\n"
                    continue
                }
                w.row(within: RowBuilder.bound(bytes: id.count) + 2 * RowBuilder.numberBound) { row in
                    id.withUnsafeBytes { row.field($0) }
                    row.field(i)
                    row.field(-i)
                }
                expected += "\(String(decoding: id, as: UTF8.self)),\(i),\(-i)\n"
            }
            #expect(w.bytes.count == 617_491)
            #expect(String(decoding: w.bytes, as: UTF8.self) == expected)
        }
    }
}
