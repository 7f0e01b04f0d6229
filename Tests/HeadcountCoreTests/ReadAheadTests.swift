import Foundation
import Testing
@testable import HeadcountCore

/// How far ahead a file's threads buffer: four times as far for a file read alone (its three
/// threads share the cores with no other file's), twice under a memory limit below the default,
/// the single depths when files of a role are read at once.
@Suite struct ReadAheadTests {
    @Test func aFileReadAloneBuffersFurther() throws {
        let folder = TemporaryFolder()
        let a = folder.write("a.csv", Array("email\na@b.c\n".utf8))
        let b = folder.write("b.csv", Array("email\nd@e.f\n".utf8))
        let m = folder.write("m.csv", Array("contact_id,audience_id\n1,x\n".utf8))
        // (contacts files, memberships files, --threads, --memory-limit) → the depth factor
        // for contacts, for memberships.
        let cases: [([String], [String], Int, Int, Int, Int)] = [
            ([a], [m], 4, 1 << 30, 4, 4),
            ([a, b], [m], 4, 1 << 30, 1, 4),
            ([a, b], [m], 1, 1 << 30, 4, 4),
            ([a], [m, m], 2, 1 << 30, 4, 1),
            ([a], [m], 4, 16 << 30, 4, 4),
            ([a], [m], 4, ReportConfiguration.defaultMemoryLimit - 1, 2, 2),
            ([a, b], [m, m], 4, 256 << 20, 1, 1),
        ]
        for (contacts, memberships, threads, limit, contactsFactor, membershipsFactor) in cases {
            var config = ReportConfiguration(contacts: contacts)
            config.memberships = memberships
            config.threads = threads
            config.memoryLimit = limit
            let c = try OpenedInput(role: .contacts, path: contacts[0], config)
            let ms = try OpenedInput(role: .memberships, path: memberships[0], config)
            let what = "\(contacts.count) and \(memberships.count) files, \(threads) threads, limit \(limit)"
            #expect(c.readsAlone == (contactsFactor > 1) && ms.readsAlone == (membershipsFactor > 1), "\(what)")
            #expect(c.depthFactor == contactsFactor && ms.depthFactor == membershipsFactor, "\(what)")
            #expect(c.chunksAhead == 16 * contactsFactor && c.batchesAhead == 32 * contactsFactor, "\(what)")
        }
    }

    /// The scanning thread fills the batch given back longest ago, not the one just given back,
    /// whose lines the counting thread's core may still hold (see `ContactScanner`): here each
    /// batch is given back as it is delivered, on the scanning thread itself, so that reused
    /// last-in first-out the same batch would be filled every time.
    @Test func theScannerReusesTheBatchGivenBackLongestAgo() throws {
        let folder = TemporaryFolder()
        let rows = RowBatch.capacity * 7 + 5
        let path = folder.write("c.csv", Array(("email\n" + String(repeating: "a@b.c\n", count: rows)).utf8))
        let input = try OpenedInput(role: .contacts, path: path, ReportConfiguration(contacts: [path]))
        try input.startReading()
        final class Box: @unchecked Sendable {
            var scanner: ContactScanner?
            let ready = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            var batches: [ObjectIdentifier] = [], rows = 0
        }
        let box = Box()
        let columns = ContactScanner.Columns(width: 1, email: 0, fixedTeamHash: 0)
        box.scanner = try ContactScanner(input: input, columns: columns, lane: 0, depth: 3) { item in
            if box.batches.isEmpty { box.ready.wait() }
            switch item {
            case .batch(_, let b):
                box.batches.append(ObjectIdentifier(b))
                box.rows += b.count
                box.scanner!.recycle(b)
            case .end:
                box.done.signal()
            }
        }
        box.ready.signal()
        #expect(box.done.wait(timeout: .now() + 30) == .success)
        let seen = box.batches
        box.scanner = nil
        #expect(box.rows == rows && seen.count == 8)
        #expect(Set(seen[0..<3]).count == 3)
        for k in 3..<seen.count { #expect(seen[k] == seen[k - 3], "batch \(k)") }
    }
}
