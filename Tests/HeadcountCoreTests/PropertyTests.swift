import Foundation
import Testing
@testable import HeadcountCore

/// Random dumps, rendered every way the SPEC allows, counted by the real job,
/// compared with a model built from sets of strings.
@Suite struct PropertyTests {
    struct Row {
        var team: String
        var audience: String?
        var email: String      // the canonical (lowercase) address
        var spelling: String   // as written in the dump
    }

    static let spaces = [" ", "\t", "\u{00A0}", "\u{3000}", "  \t"]

    func variant(_ email: String, _ rng: inout SplitMix) -> String {
        var s: String
        switch rng.below(4) {
        case 0: s = email.uppercased()
        case 1: s = email.prefix(1).uppercased() + email.dropFirst()
        default: s = email
        }
        if rng.below(4) == 0 { s = Self.spaces[rng.below(Self.spaces.count)] + s }
        if rng.below(4) == 0 { s += Self.spaces[rng.below(Self.spaces.count)] }
        return s
    }

    func field(_ s: String, delimiter: Character, _ rng: inout SplitMix) -> String {
        let must = s.contains(delimiter) || s.contains("\"") || s.contains("\n") || s.contains("\r")
        if must || rng.below(5) == 0 { return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        return s
    }

    func render(_ rows: [Row], _ rng: inout SplitMix) -> [UInt8] {
        let delimiter: Character = rng.below(3) == 0 ? "\t" : ","
        var columns = ["team_id", "audience_id", "email", "note"]
        for i in stride(from: columns.count - 1, to: 0, by: -1) { columns.swapAt(i, rng.below(i + 1)) }
        var text = rng.below(2) == 0 ? "\u{FEFF}" : ""
        text += columns.joined(separator: String(delimiter)) + "\n"
        let notes = ["", "plain", "a, b", "say \"hi\"", "two\nlines", "tab\there", "crlf\r\ninside"]
        for row in rows {
            let values = columns.map { c -> String in
                switch c {
                case "team_id": return row.team
                case "audience_id": return row.audience ?? ""
                case "email": return row.spelling
                default: return notes[rng.below(notes.count)]
                }
            }
            text += values.map { field($0, delimiter: delimiter, &rng) }.joined(separator: String(delimiter))
            text += rng.below(2) == 0 ? "\r\n" : "\n"
        }
        return Array(text.utf8)
    }

    func gzipInRandomMembers(_ bytes: [UInt8], _ rng: inout SplitMix) -> [UInt8] {
        var cuts = (0..<rng.below(5)).map { _ in rng.below(bytes.count + 1) }
        cuts = ([0] + cuts.sorted() + [bytes.count])
        var out: [UInt8] = []
        for i in 0..<(cuts.count - 1) { out += GzipEncoder.gzip(Array(bytes[cuts[i]..<cuts[i + 1]]), level: 1) }
        return out
    }

    @Test(arguments: 1...6)
    func countsEqualTheModelWhateverTheRendering(seed: UInt64) throws {
        var rng = SplitMix(state: seed * 7919)
        let teams = ["t1", "t,2", "t\"3\"", "t\n4", "T1", "5"]
        let people = (0..<400).map { "p\($0).\(["x", "josé", "zoë"][($0) % 3])@ex\($0 % 7).io" }
        var rows: [Row] = []
        for _ in 0..<(1 + rng.below(3000)) {
            let team = teams[rng.below(teams.count)]
            let email = people[rng.below(people.count)]
            let audience: String? = rng.below(6) == 0 ? nil : "a\(rng.below(5))"
            rows.append(Row(team: team, audience: audience, email: email, spelling: variant(email, &rng)))
        }
        let plain = render(rows, &rng)
        let bytes = rng.below(3) == 0 ? plain : gzipInRandomMembers(plain, &rng)
        let dir = TemporaryFolder()
        let path = dir.write("dump", bytes)
        var config = ReportConfiguration(contacts: [path])
        config.historyPath = nil
        config.outputDirectory = dir.path + "/out"
        config.formats = [.csv]
        config.readChunkSize = [1, 7, 64, 1000, 4096, 1 << 20][rng.below(6)]
        let outcome = try ReportJob(configuration: config).run()
        #expect(outcome.data.rowsRejected == 0, "seed \(seed)")

        var global: [String: Set<String>] = [:], legacy: [String: Set<String>] = [:], rowCount: [String: Int] = [:]
        for r in rows {
            global[r.team, default: []].insert(r.email)
            rowCount[r.team, default: 0] += 1
            if let a = r.audience { legacy[r.team, default: []].insert(a + "|" + r.email) }
        }
        let expected = global.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map {
            "\($0)|\(rowCount[$0]!)|\(legacy[$0]?.count ?? 0)|\(global[$0]!.count)"
        }
        let got = outcome.data.teams.map {
            "\(String(decoding: $0.teamID, as: UTF8.self))|\($0.contactRows)|\($0.legacyContacts)|\($0.globalContacts)"
        }
        #expect(got == expected, "seed \(seed)")
    }
}
