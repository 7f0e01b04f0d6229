import Foundation
import Testing

/// `--threads N` reads up to N files at once; nothing in the output may depend on N, on the
/// order the files are named in, or on which file's rows the counting thread takes first.
@Suite struct ThreadsTests {
    static let epoch = ["SOURCE_DATE_EPOCH": "1767225600"]
    static let outputs = ["teams.csv", "audiences.csv", "rejects.csv", "summary.json"]

    /// Runs every (threads, order) case and checks each output against the first case's.
    func expectSameOutputs(_ h: Headcount, _ cases: [(threads: Int, args: [String])]) throws {
        for (k, c) in cases.enumerated() {
            let r = try h.run(["report"] + c.args + ["--out", "run\(k)", "--quiet", "--no-history",
                                                     "--threads", "\(c.threads)"], env: Self.epoch)
            #expect(r.status == 0, "\(r.stderr)")
        }
        for name in Self.outputs {
            let first = h.dir + "/run0/" + name
            for k in 1..<cases.count {
                #expect(FileManager.default.contentsEqual(atPath: first, andPath: h.dir + "/run\(k)/" + name),
                        "\(name): --threads \(cases[k].threads) \(cases[k].args)")
            }
        }
    }

    @Test func legacyFilesGiveTheSameReportsForEveryThreadCountAndOrder() throws {
        let h = Headcount(); defer { h.cleanup() }
        for seed in [1, 2, 4] {
            try h.run(["generate", "--teams", "20", "--rows", "7000", "--seed", "\(seed)", "--out", "g\(seed)"])
        }
        // Every one of these files has rejected rows (4, 2, 5 and 10).
        let files = ["g1/contacts.csv.gz", "g2/contacts.csv.gz", "g4/contacts.csv.gz", "invalid.csv.gz"]
        let reversed = Array(files.reversed())
        try expectSameOutputs(h, [
            (1, ["--contacts"] + files), (2, ["--contacts"] + files), (2, ["--contacts"] + reversed),
            (3, ["--contacts"] + reversed), (16, ["--contacts"] + files),
            (4, ["--contacts"] + reversed + ["--memory-limit", "1MiB", "--temp-dir", "."]),
        ])
        // The rejects come from several files, in file order, each file's in line order.
        // Lossy: rejects.csv keeps the invalid UTF-8 of the input.
        let rejects = String(decoding: try Data(contentsOf: URL(fileURLWithPath: h.dir + "/run0/rejects.csv")),
                             as: UTF8.self).split(separator: "\n").dropFirst().map { $0.split(separator: ",", maxSplits: 2) }
        let keys: [(file: [UInt8], line: Int)] = rejects.map { (Array($0[0].utf8), Int($0[1])!) }
        #expect(Set(keys.map { $0.file }).count == 4)
        let inOrder = zip(keys, keys.dropFirst()).allSatisfy { (a: ([UInt8], Int), b: ([UInt8], Int)) -> Bool in
            a.0 == b.0 ? a.1 < b.1 : a.0.lexicographicallyPrecedes(b.0)
        }
        #expect(inOrder)
        // No temporary file is left behind.
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: h.dir)).contains { $0.hasPrefix("headcount-") })
    }

    @Test func globalFilesGiveTheSameReportsForEveryThreadCountAndOrder() throws {
        let h = Headcount(); defer { h.cleanup() }
        for seed in 1...2 {
            try h.run(["generate", "--teams", "15", "--rows", "6000", "--seed", "\(seed)", "--layout", "global",
                       "--out", "n\(seed)"])
        }
        // Contact ids repeat between the two dumps: the join must not depend on which came first.
        let contacts = ["n1/contacts.csv.gz", "n2/contacts.csv.gz"]
        let memberships = ["n1/memberships.csv.gz", "n2/memberships.csv.gz"]
        try expectSameOutputs(h, [
            (1, ["--contacts"] + contacts + ["--memberships"] + memberships),
            (2, ["--contacts"] + contacts.reversed() + ["--memberships"] + memberships.reversed()),
            (8, ["--contacts"] + contacts + ["--memberships"] + memberships.reversed()),
            // The contact index past a quarter of 1 MiB: the join goes to disk.
            (2, ["--contacts"] + contacts + ["--memberships"] + memberships
                + ["--memory-limit", "1MiB", "--temp-dir", "."]),
            (1, ["--contacts"] + contacts.reversed() + ["--memberships"] + memberships
                + ["--memory-limit", "1MiB", "--temp-dir", "."]),
        ])
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: h.dir)).contains { $0.hasPrefix("headcount-") })
    }
}
