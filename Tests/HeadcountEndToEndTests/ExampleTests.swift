import Foundation
import Testing

/// `Reports/example/` is what the current code writes for a fixed sample and clock.
/// Re-record after an intended change with `RECORD_SNAPSHOTS=1 swift test --filter Example`.
@Suite struct ExampleTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Reports/example").path

    @Test func theCommittedExampleIsWhatTheCodeWrites() throws {
        let h = Headcount(); defer { h.cleanup() }
        #expect(try h.run(["generate", "--teams", "40", "--rows", "4000", "--seed", "7", "--out", "sample"]).status == 0)
        let r = try h.run(["report", "--contacts", "sample/contacts.csv.gz", "--label", "example", "--out", "example",
                           "--no-history", "--quiet"], env: ["SOURCE_DATE_EPOCH": "1767225600"])
        #expect(r.status == 0)
        let files = r.files(in: "example")
        #expect(files == ["audiences.csv", "rejects.csv", "report.html", "summary.json", "teams.csv"])
        if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] != nil {
            try? FileManager.default.removeItem(atPath: Self.example)
            try FileManager.default.copyItem(atPath: h.dir + "/example", toPath: Self.example)
            return
        }
        for name in files {
            let recorded = Self.example + "/" + name
            #expect(FileManager.default.contentsEqual(atPath: h.dir + "/example/" + name, andPath: recorded),
                    "\(name) differs from Reports/example/\(name); re-record with RECORD_SNAPSHOTS=1 if intended")
        }
    }
}
