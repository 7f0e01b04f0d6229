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

    @Test func aGrownArrayKeepsItsElementsAndAddsZeros() throws {
        // From a part of a page, from whole pages, and through several growths in a row.
        for (first, sizes) in [(3, [5, 4096, 300_003]), (1 << 12, [(1 << 12) + 1, 1 << 18, 1 << 20])] {
            var count = first
            var p = PageMemory.allocate(UInt64.self, count: count)
            for i in 0..<count { p[i] = UInt64(i) &* 0x9E37_79B9 | 1 }
            for next in sizes {
                let (grown, prefault) = PageMemory.grow(p, from: count, to: next)
                // Written while the new pages may still be faulting in on the other thread.
                grown[next - 1] = 7
                prefault?.wait()
                #expect((0..<count).allSatisfy { grown[$0] == UInt64($0) &* 0x9E37_79B9 | 1 }, "\(count) → \(next)")
                #expect((count..<next - 1).allSatisfy { grown[$0] == 0 }, "\(count) → \(next)")
                for i in count..<next { grown[i] = UInt64(i) &* 0x9E37_79B9 | 1 }
                (p, count) = (grown, next)
            }
            PageMemory.free(p, count: count)
        }
        // Nothing is left mapped: twenty arrays grown from 4 to 32 MiB come and go (left mapped,
        // they would add 720 MiB; the margin is for the tests running beside this one).
        let before = try #require(virtualKiB())
        for _ in 0..<20 {
            let p = PageMemory.allocate(UInt64.self, count: 1 << 19)
            let (grown, prefault) = PageMemory.grow(p, from: 1 << 19, to: 1 << 22)
            prefault?.wait()
            PageMemory.free(grown, count: 1 << 22)
        }
        let after = try #require(virtualKiB())
        #expect(after - before < 256 << 10, "virtual memory grew by \(after - before) KiB")
    }

    /// An extended mapping keeps its pages, which stay faulted in, and the added ones are
    /// faulted in by `populateAdded` only (Linux: `mincore` shows which pages are in memory).
    @Test func anExtendedMappingKeepsItsPagesAndFaultsInTheAddedOnes() throws {
        let page = PageMemory.page
        func resident(_ p: UnsafeMutablePointer<UInt64>, pages: Range<Int>) -> [Bool] {
            var vec = [UInt8](repeating: 0, count: pages.count)
            #if os(Linux)
            _ = mincore(UnsafeMutableRawPointer(p) + pages.lowerBound * page, pages.count * page, &vec)
            #endif
            return vec.map { $0 & 1 == 1 }
        }
        // From a part of a page and from whole pages; to sizes that end inside a page.
        for (count, next) in [(1000, 300_001), (1 << 12, (1 << 16) + 3)] {
            let p = PageMemory.allocate(UInt64.self, count: count)
            for i in 0..<count { p[i] = UInt64(i) | 1 << 40 }
            let oldPages = PageMemory.length(count, 8) / page, newPages = PageMemory.length(next, 8) / page
            let grown = PageMemory.extend(p, from: count, to: next)
            #if os(Linux)
            #expect(resident(grown, pages: 0..<oldPages).allSatisfy { $0 }, "the old pages moved, faulted in")
            #expect(resident(grown, pages: oldPages..<newPages).allSatisfy { !$0 }, "\(count) → \(next)")
            PageMemory.populateAdded(grown, from: count, to: next)
            #expect(resident(grown, pages: 0..<newPages).allSatisfy { $0 }, "\(count) → \(next)")
            #endif
            #expect((0..<count).allSatisfy { grown[$0] == UInt64($0) | 1 << 40 })
            #expect((count..<next).allSatisfy { grown[$0] == 0 })
            PageMemory.free(grown, count: next)
        }
    }

    @Test func releasedPagesGoBackAtOnceAndTheirMappingsWhenAsked() throws {
        // The mappings `unmapAll` removes, watched; then removed for real.
        let unmapped = NSLock()
        var removed: [(UInt, Int)] = []
        let released = ReleasedMappings { p, bytes in
            unmapped.lock()
            removed.append((UInt(bitPattern: p), bytes))
            unmapped.unlock()
            munmap(p, bytes)
        }
        // Released pages are the system's again: what was written reads back as zeros, while
        // the mapping is still there to be read.
        let sizes = [(1 << 20) + 3, 5, 4096]
        var tables: [(UInt, Int)] = []
        for count in sizes {
            let p = PageMemory.allocate(UInt64.self, count: count, populated: false)
            PageMemory.populate(p, count: count)
            p.update(repeating: 0xABCD, count: count)
            released.release(p, count: count)
            #expect((0..<count).allSatisfy { p[$0] == 0 }, "\(count) elements")
            tables.append((UInt(bitPattern: p), PageMemory.length(count, 8)))
        }
        #expect(released.count == 3)
        #expect(removed.isEmpty, "unmapped before unmapAll")
        // Each mapping once, whole pages, on `unmapAll`; none a second time.
        released.unmapAll()
        #expect(released.count == 0)
        #expect(removed.map(\.0) == tables.map(\.0) && removed.map(\.1) == tables.map(\.1))
        released.unmapAll()
        #expect(removed.count == 3)
        // Nothing released, nothing to do; and a table of no elements is no mapping.
        released.release(PageMemory.allocate(UInt64.self, count: 0), count: 0)
        #expect(released.count == 0)
    }
}
