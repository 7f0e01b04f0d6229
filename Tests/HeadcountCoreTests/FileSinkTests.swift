import Foundation
import Testing
@testable import HeadcountCore

/// `FileSink`: whatever the sizes of the pieces written and the buffering, the file holds
/// exactly their bytes in order.
@Suite struct FileSinkTests {
    @Test(arguments: [true, false])
    func piecesOfEverySizeArriveInOrder(buffered: Bool) throws {
        let dir = TemporaryFolder()
        let path = dir.path + "/out.bin"
        let flush = 64
        let sink = try FileSink(path: path, reportedAs: path, buffered: buffered, flushSize: flush, durable: false)
        var expected: [UInt8] = []
        var rng = SplitMix(state: 7)
        // Empty, small, just under and over the flush size and the buffer (twice it), far over.
        for size in [0, 1, 63, 64, 65, 127, 128, 129, 500, 3, 0, 1000, 2] {
            let piece = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.below(256)) }
            expected += piece
            if size % 2 == 0 {
                try sink.write(piece)
            } else {
                try piece.withUnsafeBytes { try sink.write($0) }
            }
            if size == 500 {
                let big = [UInt8](repeating: 0x5A, count: 300)
                expected += big
                try big.withUnsafeBytes { try sink.writeUnbuffered($0) }
            }
        }
        try sink.close()
        #expect(try InputFile.contents(of: path) == expected)
    }
}
