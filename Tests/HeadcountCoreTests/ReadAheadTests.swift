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
}
