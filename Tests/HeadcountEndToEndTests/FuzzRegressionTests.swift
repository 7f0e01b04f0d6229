import Foundation
import Testing

/// Every input in Fuzz/regressions/ runs through its fuzz target (built plainly, the
/// targets replay the files given to them) and must pass its invariants.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions").path

    @Test(arguments: [("csv", "FuzzCSV"), ("gzip", "FuzzGzip")])
    func regressionInputsPass(folder: String, target: String) throws {
        let dir = Self.root + "/" + folder
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { dir + "/" + $0 }
        #expect(!files.isEmpty)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Headcount.binary).deletingLastPathComponent().appendingPathComponent(target)
        p.arguments = files
        try p.run()
        // Some inputs once made the reader loop forever: a hang fails here instead of stalling CI.
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        let hung = p.isRunning
        if hung { p.terminate() }
        p.waitUntilExit()
        #expect(!hung, "\(target) still running after 120 s")
        #expect(p.terminationStatus == 0, "\(target) on \(files.count) inputs")
    }
}
