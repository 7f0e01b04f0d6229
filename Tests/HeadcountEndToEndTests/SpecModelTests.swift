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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // 100 seeds: 25 of each kind of dump, 300 rows each.
        p.arguments = ["python3", Self.script, "--binary", Headcount.binary, "--seeds", "100", "--rows", "300"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        // python3 (3.11 or later) is what `.ci/run` installs when it is missing.
        #expect(p.terminationStatus == 0, "\(text)")
        #expect(text.contains("100 seeds (1-100): every report equals the model"), "\(text)")
    }
}
