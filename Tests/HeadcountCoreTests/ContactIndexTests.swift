import Testing
@testable import HeadcountCore

@Suite struct ContactIndexTests {
    func key(_ s: String) -> Key128 { Array(s.utf8).withUnsafeBytes { ContactIndex.key(of: $0) } }
    func contact(_ n: UInt64) -> Key128 { Key128(low: n &* 0x9E37_79B9_7F4A_7C15 | 1, high: n) }

    @Test func plainDecimalsAreTheirOwnKeysAndNothingElseIs() {
        #expect(key("0") == Key128(low: 0, high: ContactIndex.decimalMark))
        #expect(key("42") == Key128(low: 42, high: ContactIndex.decimalMark))
        #expect(key("999999999999999999") == Key128(low: 999_999_999_999_999_999, high: ContactIndex.decimalMark))
        // Another spelling of a number is another id, verbatim as the SPEC says.
        for other in ["042", "00", "+42", "-42", "4 2", "42 ", "1e3", "1234567890123456789", "a42", "", "٤٢"] {
            #expect(key(other).high != ContactIndex.decimalMark, "\(other)")
        }
        #expect(key("042") != key("42"))
    }

    /// Decimal ids go to the dense array or, when too large or too sparse, to the hashed table;
    /// whatever the order, every id is found, once, with the entry the rule chooses.
    @Test func everyIdFoundWhicheverStoreItLandsIn() {
        var rows: [(id: Key128, contact: Key128, team: UInt32, filtered: Bool)] = []
        for n in 1...30_000 { rows.append((key(String(n)), contact(UInt64(n)), UInt32(n % 7), n % 13 == 0)) }
        for n in [0, 5_000_000, 1 << 39, 123_456_789_012] { rows.append((key(String(n)), contact(UInt64(n)), 1, false)) }
        for n in 0..<3_000 { rows.append((key("c-\(n)"), contact(UInt64(n + 1) << 20), 2, false)) }
        // Duplicates with other contacts and states: the counted one, then the smaller contact, wins.
        for n in stride(from: 1, through: 30_000, by: 97) {
            rows.append((key(String(n)), contact(UInt64(n) + 7), 3, false))
            rows.append((key(String(n)), Key128(low: 0, high: 5), 4, true))
        }
        var expected: [Key128: (Key128, UInt32, Bool)] = [:]
        for r in rows {
            if let e = expected[r.id] {
                let replace = e.2 != r.filtered ? e.2 : r.contact < e.0
                if replace { expected[r.id] = (r.contact, r.team, r.filtered) }
            } else {
                expected[r.id] = (r.contact, r.team, r.filtered)
            }
        }
        var orders = [rows, rows.reversed()]
        var g = SplitMix(state: 3)
        orders.append(rows.shuffled(using: &g))
        for (k, order) in orders.enumerated() {
            let index = ContactIndex()
            for (i, r) in order.enumerated() {
                index.noteProgress(Double(i + 1) / Double(order.count + 1))
                index.add(id: r.id, contact: r.contact, team: r.team, filtered: r.filtered)
            }
            #expect(index.count == expected.count, "order \(k)")
            var wrong = 0
            for (id, e) in expected {
                guard let found = index.lookup(id) else { wrong += 1; continue }
                if found.contact != e.0 || found.team != e.1 || found.filtered != e.2 { wrong += 1 }
            }
            #expect(wrong == 0, "order \(k)")
            #expect(index.lookup(key("30001")) == nil)
            #expect(index.lookup(key("c-3000")) == nil)
            #expect(index.lookup(key("0042")) == nil)
        }
    }

    /// Sparse numbers go to the hashed table, whose slots they must spread over: their keys are
    /// the numbers themselves, and unmixed they all started probing at slot 0 (one chain: 50,000
    /// ids took 201 s in a debug build; 7.4M contacts joined on disk, 555 s instead of 6).
    @Test func sparseNumbersSpreadOverTheHashedTable() {
        let index = ContactIndex()
        let ids = (1...50_000).map { Key128(low: UInt64($0) * 1_000_003, high: ContactIndex.decimalMark) }
        for id in ids { index.add(id: id, contact: contact(id.low), team: 1) }
        let probes = ids.map { index.probeLength(of: $0) }
        #expect(probes.reduce(0, +) < 3 * ids.count, "mean probe \(Double(probes.reduce(0, +)) / Double(ids.count))")
        #expect(probes.max()! < 100)
        #expect(ids.allSatisfy { index.lookup($0)?.contact == contact($0.low) })
    }

    /// An id too large for the dense array when it first came stays in the hashed table after
    /// the array has grown past it: its later rows update that entry, not a second one.
    @Test func anIdKeepsTheStoreItFirstWentTo() {
        let index = ContactIndex()
        index.add(id: key("200000"), contact: contact(9), team: 1)
        for n in 1...150_000 { index.add(id: key(String(n)), contact: contact(UInt64(n)), team: 0) }
        index.add(id: key("200000"), contact: contact(1), team: 2)   // smaller: wins
        index.add(id: key("200000"), contact: contact(99), team: 3)  // larger: loses
        #expect(index.count == 150_001)
        #expect(index.lookup(key("200000"))?.team == 2)
        #expect(index.lookup(key("200000"))?.contact == contact(1))
        #expect(index.lookup(key("150000"))?.team == 0)
        #expect(index.lookup(key("199999")) == nil)
    }

    /// Ids numbered per team: one id in three teams, as a decimal (dense array) and as text
    /// (hashed table), its rows in every order. A membership naming a team joins that team's
    /// row (by the rule, among that team's rows), one naming none joins the rule's choice
    /// among all rows, and one naming a team without the id gets the id's own entry, in
    /// another team (so `MembershipOutcome` rejects it).
    @Test func anIdInSeveralTeamsJoinsEachTeamsOwnRow() {
        for id in [key("17"), key("c-17")] {
            let rows: [(contact: Key128, team: UInt32, filtered: Bool)] = [
                (contact(50), 0, false), (contact(40), 0, false), (contact(1), 0, true),
                (contact(30), 1, false), (contact(5), 2, true), (contact(60), 2, false),
            ]
            var rng = SplitMix(state: 7)
            for round in 0..<24 {
                let index = ContactIndex()
                for r in round == 0 ? rows : rows.shuffled(using: &rng) {
                    index.add(id: id, contact: r.contact, team: r.team, filtered: r.filtered)
                }
                func found(_ team: Int?) -> (Key128, UInt32, Bool)? {
                    index.lookup(id, team: team).map { ($0.contact, $0.team, $0.filtered) }
                }
                #expect(found(0).map { $0.0 == contact(40) && $0.1 == 0 && !$0.2 } == true, "round \(round)")
                #expect(found(1).map { $0.0 == contact(30) && $0.1 == 1 } == true, "round \(round)")
                #expect(found(2).map { $0.0 == contact(60) && $0.1 == 2 && !$0.2 } == true, "round \(round)")
                #expect(found(nil).map { $0.0 == contact(30) && $0.1 == 1 } == true, "round \(round): all rows' choice")
                #expect(found(3).map { $0.1 } == 1, "round \(round): a team without the id")
                #expect(found(-1).map { $0.1 } == 1, "round \(round): a team no contact has")
                // Moved (to disk, in a run), the entries come back as they were added.
                let copy = ContactIndex()
                index.forEachEntry { copy.add(id: $0, contact: $1, team: $2, filtered: $3) }
                for team in [nil, 0, 1, 2, 3] {
                    #expect(copy.lookup(id, team: team).map { "\($0)" } == index.lookup(id, team: team).map { "\($0)" })
                }
            }
        }
        // An id in one team only needs no second index; in two, it does.
        let once = ContactIndex(), twice = ContactIndex(), twoTeams = ContactIndex()
        once.add(id: key("5"), contact: contact(5), team: 3)
        for index in [twice, twoTeams] { index.add(id: key("5"), contact: contact(5), team: 3) }
        twice.add(id: key("5"), contact: contact(4), team: 3)
        twoTeams.add(id: key("5"), contact: contact(4), team: 4)
        #expect(twice.lookup(key("5"), team: 3)?.contact == contact(4))
        #expect(twice.bytes == once.bytes && twoTeams.bytes > once.bytes)
    }
}

extension SplitMix: RandomNumberGenerator {}
