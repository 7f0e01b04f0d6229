import Testing
@testable import HeadcountCore

@Suite struct ColumnMapTests {
    func map(_ names: [String], _ overrides: [ColumnMap.Role: String] = [:]) -> ColumnMap {
        ColumnMap(header: names.map { Array($0.utf8) }, overrides: overrides)
    }

    @Test func everyAliasIsFoundInAnyCaseAndOrder() {
        let m = map([" EMAIL ADDRESS", "Workspace_ID", "x", "LIST_ID", "Id", "Unsubscribed", "created_at"])
        #expect(m.index == [.email: 0, .team: 1, .audience: 3, .contactID: 4, .unsubscribed: 5, .created: 6])
        #expect(m.names[.email] == " EMAIL ADDRESS")
        // The first alias present wins: team_id before account_id, wherever they stand.
        #expect(map(["account_id", "team_id", "email"]).index[.team] == 1)
        // Of two columns with the same name, the leftmost (as xsv selects a column by name).
        #expect(map(["x", "Email", "team_id", "EMAIL", "team_id"]).index == [.email: 1, .team: 2])
        // An override replaces the aliases of its role.
        let o = map(["email", "mail"], [.email: "MAIL"])
        #expect(o.index[.email] == 1)
    }

    @Test func aHeaderIsShownEscapedAndCut() {
        func d(_ names: [String]) -> String { ColumnMap.describeHeader(names.map { Array($0.utf8) }) }
        #expect(d(["team_id", "name"]) == "the header has: team_id, name")
        #expect(d(["a\tb\u{7F}\u{85}é"]) == "the header has: a\\u{9}b\\u{7F}\\u{85}é")
        #expect(d([String(repeating: "n", count: 61)]) == "the header has: " + String(repeating: "n", count: 60) + "…")
        let many = (0..<41).map { "c\($0)" }
        #expect(d(many) == "the header has: " + many.prefix(40).joined(separator: ", ") + ", … (41 names)")
        #expect(d(["a|b|c"]) == "the header has: a|b|c (one column: for a file separated by '|', use --delimiter '|')")
        #expect(d(["a;b", "c"]) == "the header has: a;b, c")
        #expect(d(["t1", "x@y.z"]).hasPrefix("the first line holds an @"))
        #expect(ColumnMap.describeHeader([[0x65, 0x00]]).hasPrefix("the header holds NUL bytes"))
    }
}
