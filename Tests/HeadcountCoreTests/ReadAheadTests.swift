import Testing
@testable import HeadcountCore

/// How far ahead a file's threads buffer: twice as far for a file read alone (its three threads
/// share the cores with no other file's), the single depths when files of a role are read at once.
@Suite struct ReadAheadTests {
    @Test func aFileReadAloneBuffersTwiceAsFar() throws {
        let folder = TemporaryFolder()
        let a = folder.write("a.csv", Array("email\na@b.c\n".utf8))
        let b = folder.write("b.csv", Array("email\nd@e.f\n".utf8))
        let m = folder.write("m.csv", Array("contact_id,audience_id\n1,x\n".utf8))
        // (contacts files, memberships files, --threads) → alone for contacts, for memberships.
        let cases: [([String], [String], Int, Bool, Bool)] = [
            ([a], [m], 4, true, true),
            ([a, b], [m], 4, false, true),
            ([a, b], [m], 1, true, true),
            ([a], [m, m], 2, true, false),
        ]
        for (contacts, memberships, threads, contactsAlone, membershipsAlone) in cases {
            var config = ReportConfiguration(contacts: contacts)
            config.memberships = memberships
            config.threads = threads
            let c = try OpenedInput(role: .contacts, path: contacts[0], config)
            let ms = try OpenedInput(role: .memberships, path: memberships[0], config)
            #expect(c.readsAlone == contactsAlone, "\(contacts.count) files, \(threads) threads")
            #expect(ms.readsAlone == membershipsAlone, "\(memberships.count) files, \(threads) threads")
            #expect(c.chunksAhead == (contactsAlone ? 32 : 16) && c.batchesAhead == (contactsAlone ? 64 : 32))
        }
    }
}
