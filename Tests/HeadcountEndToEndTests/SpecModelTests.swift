import Foundation
import Testing

/// The built binary against `Scripts/spec-model.py`, a model of the SPEC's rules written in
/// Python apart from the Swift code: random dumps of every case the SPEC and the README's
/// choices name (email keys, ids, booleans, `created_at` under `--as-of`, the CSV's quoting and
/// malformed rows, the join of memberships, columns found by name), each report compared with
/// the model's.
@Suite struct SpecModelTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scripts/spec-model.py").path

    @Test func reportsEqualTheIndependentModel() throws {
        // 100 seeds: 25 of each kind of dump, 300 rows each.
        try expectModel(["--seeds", "100", "--rows", "300"], says: "100 seeds (1-100)")
    }

    /// Memberships of 30,000 contacts under a 1 MiB limit: the join is done on disk, part by part.
    @Test func theJoinOnDiskEqualsTheIndependentModel() throws {
        try expectModel(["--seeds", "4", "--kind", "join", "--rows", "30000", "--memory-limit", "1MiB"],
                        says: "4 join seeds (2-14)")
    }

    private func expectModel(_ arguments: [String], says seeds: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.script, "--binary", Headcount.binary] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        // python3 (3.11 or later) is what `.ci/run` installs when it is missing.
        #expect(p.terminationStatus == 0, "\(text)")
        #expect(text.contains("\(seeds): every report equals the model"), "\(text)")
    }
}
