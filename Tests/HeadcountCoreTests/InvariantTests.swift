import Foundation
import Testing

@testable import HeadcountCore

/// The library's checks that must hold in release builds, where `-Ounchecked` compiles
/// `precondition` out (`invariant`).
@Suite struct InvariantTests {
    @Test func aBrokenInvariantStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            invariant(1 + 1 == 3, "arithmetic")
        }
    }

    /// A `precondition` in the library would vanish from the release build without a word: its
    /// checks go through `invariant`, which stays.
    @Test func theLibraryChecksWithInvariantNotPrecondition() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/HeadcountCore").standardized
        let files = try #require(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        #expect(files.count > 50)
        var found: [String] = []
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains("precondition(") || line.contains("preconditionFailure(") {
                found.append("\(file):\(n + 1)")
            }
        }
        #expect(found == [])
    }
}
