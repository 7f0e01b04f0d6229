import Foundation
import Testing
@testable import HeadcountCore

@Suite struct BillingTests {
    func instant(_ s: String, end: Bool = false) -> String? {
        Array(s.utf8).withUnsafeBytes { InstantParser.parse($0, dateOnly: end ? .endOfDay : .startOfDay) }
            .map(InstantParser.format)
    }

    @Test func everyCreatedAtFormTheSpecLists() {
        #expect(instant("2023-10-06T23:47:56.678Z") == "2023-10-06T23:47:56.678000Z")
        #expect(instant("2023-10-06 23:47:56.678+00") == "2023-10-06T23:47:56.678000Z")
        #expect(instant("2015-03-16 14:40:47") == "2015-03-16T14:40:47Z")
        #expect(instant("2026-01-01") == "2026-01-01T00:00:00Z")
        #expect(instant("2026-01-01", end: true) == "2026-01-01T23:59:59.999999Z")
    }

    /// Digits past the microsecond are cut, not rounded, so an instant never moves into the
    /// next second or day (README, Choices).
    @Test func fractionsFinerThanAMicrosecondAreCut() {
        #expect(instant("2025-12-31T23:59:59.9999999Z") == "2025-12-31T23:59:59.999999Z")
        #expect(instant("2023-10-06 23:47:56.12345678901234567890+00") == "2023-10-06T23:47:56.123456Z")
    }

    @Test func timeZonesAreHonoured() {
        #expect(instant("2023-10-07T01:47:56+02:00") == "2023-10-06T23:47:56Z")
        #expect(instant("2023-10-06 20:47:56-0300") == "2023-10-06T23:47:56Z")
        #expect(instant("2023-10-07 05:17:56+05:30") == "2023-10-06T23:47:56Z")
        #expect(instant("2024-02-29T12:00:00Z") == "2024-02-29T12:00:00Z")
        #expect(instant("1969-12-31T23:59:59Z") == "1969-12-31T23:59:59Z")
    }

    @Test func rejectsWhatIsNotADate() {
        for bad in ["", "yesterday", "2023-13-01", "2023-02-30", "2023-10-06T24:00:00Z", "2023-10-06T23:47:56X",
                    "2023/10/06", "2023-10-06T23", "2023-10-06 23:47:56.Z", "2023-10-06T23:47:56+2"] {
            #expect(instant(bad) == nil, "\(bad)")
        }
    }

    @Test func moneyIsExactDecimal() {
        #expect(Money(parsing: "0.1")! + Money(parsing: "0.2")! == Money(parsing: "0.3")!)
        #expect(Money(parsing: "49")!.text == "49.00")
        #expect(Money(parsing: "9.9")!.text == "9.90")
        #expect(Money(parsing: "0.125")!.text == "0.125")
        #expect((Money(parsing: "9.90")! - Money(parsing: "29.99")!).text == "-20.09")
        for bad in ["", "abc", "1.", ".5", "1.2.3", "1e3", "1.1234567"] { #expect(Money(parsing: bad) == nil, "\(bad)") }
    }

    /// A price has up to 12 digits before the point; ten such prices overflow 64 bits of
    /// millionths, and the release build would have wrapped to a negative revenue.
    @Test func revenueTotalsOfTheLargestPricesAreExact() {
        let price = Money(parsing: "999999999999.999999")!
        #expect(price.text == "999999999999.999999")
        #expect(Money(parsing: "1000000000000") == nil, "13 digits before the point")
        let twelve = (0..<12).reduce(Money.zero) { total, _ in total + price }
        #expect(twelve.text == "11999999999999.999988")
        #expect((Money.zero - twelve).text == "-11999999999999.999988")

        let tiers = [Tier(name: "huge", contactLimit: 10, monthlyPrice: Money(parsing: "999999999999.99")!)]
        let teams = (0..<12).map {
            TeamRow(teamID: Array("t\($0)".utf8), contactRows: 1, audiences: 0, legacyContacts: 1, globalContacts: 1,
                    unsubscribedContacts: 0, contactsWithoutAudience: 1, rejectedRows: 0)
        }
        let summary = BillingReport(quotas: nil, tiers: tiers).summary(teams, quotasPath: nil, tiersPath: "tiers.csv")
        guard case .object(let members) = summary, case .object(let billing)? = members.first(where: { $0.0 == "tiers" })?.1
        else {
            Issue.record("no tiers object in \(summary)")
            return
        }
        let revenue = billing.compactMap { key, value -> String? in
            guard key.hasPrefix("monthly_revenue"), case .number(let amount) = value else { return nil }
            return "\(key) \(amount)"
        }
        #expect(revenue == ["monthly_revenue_legacy 11999999999999.88", "monthly_revenue_global 11999999999999.88",
                            "monthly_revenue_change 0.00"])
    }

    @Test func cheapestCoveringTierAndTheTopTierFlag() {
        let tiers = [Tier(name: "free", contactLimit: 500, monthlyPrice: Money(parsing: "0")!),
                     Tier(name: "pro", contactLimit: 5000, monthlyPrice: Money(parsing: "20")!)]
        let b = BillingReport(quotas: nil, tiers: tiers)
        #expect(b.tier(for: 0)!.tier.name == "free")
        #expect(b.tier(for: 500)!.tier.name == "free", "exactly at a tier's limit stays in it")
        #expect(b.tier(for: 501)!.tier.name == "pro")
        let above = b.tier(for: 5001)!
        #expect(above.tier.name == "pro" && above.aboveTop)
    }

    @Test func aTeamExactlyAtItsLimitIsNotOver() {
        let q = Quota(plan: "p", contactLimit: 100)
        #expect(!BillingReport.isOver(100, q))
        #expect(BillingReport.isOver(101, q))
    }

    @Test func badBillingInputsNameTheFileAndLine() throws {
        let dir = TemporaryFolder()
        func error(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        let dup = dir.write("q.csv", Array("team_id,plan,contact_limit\nt1,a,5\nt1,b,6\n".utf8))
        #expect(error { _ = try BillingInputs.quotas(path: dup) } == "\(dup): line 3: team 't1' appears again (first on line 2)")
        let negative = dir.write("n.csv", Array("team_id,plan,contact_limit\nt1,a,-5\n".utf8))
        #expect(error { _ = try BillingInputs.quotas(path: negative) }
            .hasSuffix("line 2: contact_limit must be a whole number ≥ 0 of at most 18 digits"))
        let huge = dir.write("h.csv", Array("team_id,plan,contact_limit\nt1,a,999999999999999999\nt2,a,9223372036854775807\n".utf8))
        #expect(error { _ = try BillingInputs.quotas(path: huge) }
            .hasSuffix("line 3: contact_limit must be a whole number ≥ 0 of at most 18 digits"))
        let text = dir.write("t.csv", Array("team_id,plan,contact_limit\nt1,a,lots\n".utf8))
        #expect(error { _ = try BillingInputs.quotas(path: text) }.contains("line 2"))
        let order = dir.write("o.csv", Array("tier,contact_limit,monthly_price\na,10,1\nb,10,2\n".utf8))
        #expect(error { _ = try BillingInputs.tiers(path: order) }.hasSuffix("line 3: tiers must be in ascending contact_limit order (10 after 10)"))
        let price = dir.write("p.csv", Array("tier,contact_limit,monthly_price\na,10,-1\n".utf8))
        #expect(error { _ = try BillingInputs.tiers(path: price) }.contains("line 2: monthly_price"))
        let column = dir.write("c.csv", Array("tier,limit,price\n".utf8))
        #expect(error { _ = try BillingInputs.tiers(path: column) }.contains("no contact_limit column"))
    }
}
