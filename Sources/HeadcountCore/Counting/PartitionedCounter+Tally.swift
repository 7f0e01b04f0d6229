import CIntrinsics
import Foundation

extension PartitionedCounter {
    /// One worker's sums over the partitions it tallied.
    final class Tally {
        let teams: Int
        let audiences: Int
        let policy: UnsubscribedPolicy
        /// Per team: global, legacy, without audience, unsubscribed (four columns side by side).
        /// 32-bit, so that the sums the tally adds to in no order take half the cache (M: 320 KiB
        /// for the teams, 1 MiB for the audiences, per worker); `flush` moves them into `wideTeam`
        /// and `wideAudience` before they could overflow.
        let perTeam: UnsafeMutableBufferPointer<UInt32>
        /// Per audience: shared, exclusive (a contact of the audience is one or the other). A last
        /// row takes what stands for no audience.
        let perAudience: UnsafeMutableBufferPointer<UInt32>
        /// What `flush` moved out of the 32-bit sums: the same layout, 64-bit.
        private var wideTeam: [Int] = []
        private var wideAudience: [Int] = []
        /// Additions to any one sum since the last flush, at most (contacts and memberships).
        private var pending = 0
        /// The most `pending` may reach before a flush: `UInt32.max`, less in tests.
        let flushLimit: Int
        /// Flushes so far (for the tests).
        private(set) var flushes = 0
        /// Contacts by number of audiences, from `smallHistogramSize` up (below, `smallHistogram`).
        var histogram: [Int] = []
        let smallHistogram: UnsafeMutablePointer<Int>

        init(teams: Int, audiences: Int, policy: UnsubscribedPolicy, flushLimit: Int = Int(UInt32.max)) {
            self.flushLimit = flushLimit
            self.teams = teams
            self.audiences = audiences
            self.policy = policy
            perTeam = .allocate(capacity: teams * 4)
            perTeam.initialize(repeating: 0)
            perAudience = .allocate(capacity: (audiences + 1) * 2)
            perAudience.initialize(repeating: 0)
            smallHistogram = .allocate(capacity: Self.smallHistogramSize)
            smallHistogram.initialize(repeating: 0, count: Self.smallHistogramSize)
        }

        deinit {
            perTeam.deallocate()
            perAudience.deallocate()
            smallHistogram.deallocate()
        }

        /// Adds every contact of a table, walking its slots and audience lists in place.
        ///
        /// This pass runs after the last row is read, on every core, and is most of what a run
        /// does after reading (M: 0.2 s), so its loop avoids what the compiler cannot: the
        /// histogram is raw memory for the usual counts of audiences (an array property is
        /// checked for uniqueness on every write), and the per-audience sums of a slot a few
        /// ahead are asked for early (they are spread over megabytes). A missing first or second
        /// audience adds to the last audience row instead of being branched around: how many
        /// audiences a contact has changes from one slot to the next at random (M: the tally
        /// 3.3-3.4% of a run's samples with the branches, 2.9-3.2% without; perf, alternating).
        /// Empty slots are still skipped by a branch: adding zeros for them was slower (3.6-4.1%).
        func add(_ table: Table) {
            var start = 0
            repeat {
                let end = min(table.capacity, start + Self.segment)
                // No sum grows by more than three per slot (a contact, and its first two audiences
                // or the stand-in for none) and one per further audience.
                let most = (end - start) * 3 + table.pool.count
                if pending + most > flushLimit { flush() }
                pending += most
                add(table, from: start, to: end)
                start = end
            } while start < table.capacity
        }

        /// Slots tallied between checks of `flushLimit`: with the pool's at most 2³⁰ nodes, one
        /// segment cannot pass a 32-bit sum.
        static let segment = 1 << 28

        private func add(_ table: Table, from start: Int, to end: Int) {
            let slots = table.slots
            let capacity = table.capacity
            let perTeam = perTeam.baseAddress!, perAudience = perAudience.baseAddress!
            let small = smallHistogram
            let any = policy == .any
            let unsubscribedFlag = RecordFlags.unsubscribed.rawValue, subscribedFlag = RecordFlags.subscribed.rawValue
            let none = UInt32(audiences)
            table.pool.withUnsafeBufferPointer { pool in
                for j in start..<end {
                    if j + Self.prefetchAhead < capacity {
                        let ahead = slots[j + Self.prefetchAhead]
                        headcount_prefetch(perAudience + Int(min(ahead.firstAudience, none)) * 2)
                        // The team's sums too: 16 bytes for each of 20,000 teams on M, read in no
                        // order (this load was a quarter of the tally's samples).
                        headcount_prefetch(perTeam + Int(ahead.team) * 4)
                    }
                    let s = slots[j]
                    if s.low == 0 && s.high == 0 { continue }
                    var k = (s.firstAudience == noAudience ? 0 : 1) + (s.secondAudience == noAudience ? 0 : 1)
                    var node = s.more
                    while node != 0 {
                        k += 1
                        node = pool[Int(node) - 1].next
                    }
                    let unsubscribed = s.flags & unsubscribedFlag != 0 && (any || s.flags & subscribedFlag == 0)
                    let t = perTeam + Int(s.team) * 4
                    t[0] &+= 1
                    t[1] &+= UInt32(truncatingIfNeeded: k)
                    t[2] &+= k == 0 ? 1 : 0
                    t[3] &+= unsubscribed ? 1 : 0
                    if k < Self.smallHistogramSize {
                        small[k] += 1
                    } else {
                        if k >= histogram.count { histogram += Array(repeating: 0, count: k + 1 - histogram.count) }
                        histogram[k] += 1
                    }
                    // Shared (column 0) when in two audiences or more, else exclusive (column 1).
                    let column = k >= 2 ? 0 : 1
                    perAudience[Int(min(s.firstAudience, none)) * 2 + column] &+= 1
                    perAudience[Int(min(s.secondAudience, none)) * 2 + column] &+= 1
                    node = s.more
                    while node != 0 {
                        let n = pool[Int(node) - 1]
                        perAudience[Int(n.audience) * 2] &+= 1
                        node = n.next
                    }
                }
            }
        }

        /// Slots between a prefetch and its use: 24 keeps about sixteen contacts' sums in
        /// flight. M: the tally at the end of a run 99 -> 91 ms with 24 (and 48) against 8
        /// (timeline builds, medians of eight alternating runs, twice).
        static let prefetchAhead = 24
        /// Contacts in fewer audiences than this are counted in `smallHistogram`, the rest in
        /// `histogram`.
        static let smallHistogramSize = 64

        /// Moves the 32-bit sums into the 64-bit ones and zeroes them.
        func flush() {
            if wideTeam.isEmpty {
                wideTeam = Array(repeating: 0, count: perTeam.count)
                wideAudience = Array(repeating: 0, count: perAudience.count)
            }
            for i in 0..<perTeam.count { wideTeam[i] += Int(perTeam[i]) }
            for i in 0..<perAudience.count { wideAudience[i] += Int(perAudience[i]) }
            perTeam.update(repeating: 0)
            perAudience.update(repeating: 0)
            pending = 0
            flushes += 1
        }

        func addTo(_ r: inout CountResult) {
            // The 32-bit sums and what was flushed before, if anything was.
            let wideTeam = self.wideTeam, wideAudience = self.wideAudience
            func team(_ i: Int) -> Int { Int(perTeam[i]) + (wideTeam.isEmpty ? 0 : wideTeam[i]) }
            func audience(_ i: Int) -> Int { Int(perAudience[i]) + (wideAudience.isEmpty ? 0 : wideAudience[i]) }
            for t in 0..<teams {
                r.global[t] += team(t * 4)
                r.legacy[t] += team(t * 4 + 1)
                r.withoutAudience[t] += team(t * 4 + 2)
                r.unsubscribed[t] += team(t * 4 + 3)
            }
            for a in 0..<audiences {
                r.audienceShared[a] += audience(a * 2)
                r.audienceExclusive[a] += audience(a * 2 + 1)
                r.audienceContacts[a] += audience(a * 2) + audience(a * 2 + 1)
            }
            // Up to the largest number of audiences a contact has, and at least 0 and 1.
            var counts = Array(UnsafeBufferPointer(start: smallHistogram, count: Self.smallHistogramSize))
            if histogram.count > counts.count { counts += histogram[counts.count...] }
            let used = max(2, (counts.lastIndex { $0 != 0 } ?? 0) + 1)
            if r.audiencesPerEmail.count < used {
                r.audiencesPerEmail += Array(repeating: 0, count: used - r.audiencesPerEmail.count)
            }
            for k in 0..<used { r.audiencesPerEmail[k] += counts[k] }
        }
    }
}
