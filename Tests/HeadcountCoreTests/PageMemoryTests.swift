import Foundation
import Testing
@testable import HeadcountCore

@Suite struct PageMemoryTests {
    /// Virtual memory of this process in KiB (Linux).
    func virtualKiB() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmSize:") {
            // "VmSize:\t  123456 kB"; wide numbers leave no space after the tab.
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1])
        }
        return nil
    }

    @Test func tablesArriveZeroedAlignedAndGoBackWhole() throws {
        // Sizes that are not whole pages, small and large.
        for count in [1, 4095, 4097, (2 << 20) - 3, (3 << 20) + 5] {
            let p = PageMemory.allocate(UInt8.self, count: count)
            #expect(UInt(bitPattern: p) % UInt(PageMemory.page) == 0)
            #expect((0..<count).allSatisfy { p[$0] == 0 })
            p.update(repeating: 0xAB, count: count)
            PageMemory.free(p, count: count)
        }
        // No elements, no mapping: a placeholder that free leaves alone.
        let none = PageMemory.allocate(UInt64.self, count: 0)
        #expect(UInt(bitPattern: none) % UInt(MemoryLayout<UInt64>.alignment) == 0)
        PageMemory.free(none, count: 0)
        // Nothing is left mapped: a thousand tables of 3 MiB and a bit come and go. Tables left
        // mapped, or freed by their count of elements instead of bytes, would add gigabytes.
        // The margin is for the other tests running at the same time in this process (one grew
        // it by 105 MB while this ran, and failed a margin of 64 MiB in a clean build).
        let count = (3 << 17) + 5
        let before = try #require(virtualKiB())
        for _ in 0..<1000 {
            let p = PageMemory.allocate(UInt64.self, count: count)
            p[count - 1] = 1
            PageMemory.free(p, count: count)
        }
        let after = try #require(virtualKiB())
        #expect(after - before < 1 << 20, "virtual memory grew by \(after - before) KiB")
    }
}
