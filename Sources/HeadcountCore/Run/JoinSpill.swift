import Foundation

/// The contacts + memberships join on disk, for when the contact index outgrows its share of
/// `--memory-limit`: a grace hash join on the contact id.
///
/// While the contacts are read, the index grows in memory; past its budget (`IndexStage`), its
/// entries and every later one are written here instead, to one of `parts` files chosen by the
/// hash of the contact id. Memberships then cannot be joined as they arrive: each row goes, with
/// everything deciding it needs (contact id, team, audience, the raw text of a reject), to the
/// file of its id's part. Once every file is read, `ReportJob` joins one part at a time: that
/// part's contacts go into an index of their own, 1/`parts` of the whole, and its membership
/// rows are joined against it. A part's rejects are sorted by file and line and written to a
/// run of their own; the runs are merged into `rejects.csv` in file and line order, so the
/// reports are byte for byte those of a join in memory.
///
/// The files are scratch: buffered in small blocks (there are `2 × parts` of them), never
/// synced to disk, registered for removal on failure and on signals, removed when read.
final class JoinSpill {
    /// Parts of the contact-id hash space.
    static let parts = 128
    /// Bytes buffered per file before a write: 2 × 128 files × 16 KiB = 4 MiB in all.
    static let blockSize = 1 << 14
    /// Raw text kept for a membership row's possible reject: one byte past `RejectLog.rawLimit`,
    /// so that the reject log cuts it where it cuts the whole row (at a character boundary).
    static let rawKept = RejectLog.rawLimit + 1

    /// A membership row's team when its file has no team column (any contact's team will do).
    static let anyTeam = UInt32.max
    /// A membership row's team that no contact has (its join fails: `unknown_contact`).
    static let noSuchTeam = UInt32.max - 1

    let directory: String
    private var contactFiles: [FileSink?]
    private var membershipFiles: [FileSink?]
    private var contactPaths: [String]
    private var membershipPaths: [String]
    /// Contacts written to each part (sizes its index).
    private(set) var contactsInPart: [Int]
    /// Membership rows and their audiences' bytes written to each part (sizes what the part's
    /// join keeps of them).
    private(set) var membershipsInPart: [Int]
    private(set) var audienceBytesInPart: [Int]
    /// One block of `blockSize` bytes per file (contacts of part p at p, memberships at
    /// `parts + p`), and the bytes each holds: a record is copied into its block, and a block
    /// goes to its file when full. Rows reach a file without touching its `FileSink` (a class
    /// reference read from an array, retained and released on every row: a fifth of the thread
    /// that wrote them).
    private let blocks: UnsafeMutableRawPointer
    private let filled: UnsafeMutablePointer<Int>

    /// Creates the spill folder in `temporaryDirectory`.
    init(temporaryDirectory: String) throws {
        let dir = try TemporaryFiles.makeFolder("headcount-join", in: temporaryDirectory,
                                                for: "a folder for the contact index")
        directory = dir
        contactFiles = Array(repeating: nil, count: Self.parts)
        membershipFiles = Array(repeating: nil, count: Self.parts)
        contactPaths = (0..<Self.parts).map { (dir as NSString).appendingPathComponent(String(format: "contacts-%03d.bin", $0)) }
        membershipPaths = (0..<Self.parts).map {
            (dir as NSString).appendingPathComponent(String(format: "memberships-%03d.bin", $0))
        }
        contactsInPart = Array(repeating: 0, count: Self.parts)
        membershipsInPart = contactsInPart
        audienceBytesInPart = contactsInPart
        blocks = .allocate(byteCount: 2 * Self.parts * Self.blockSize, alignment: 64)
        filled = .allocate(capacity: 2 * Self.parts)
        filled.initialize(repeating: 0, count: 2 * Self.parts)
    }

    deinit {
        removeAll()
        blocks.deallocate()
        filled.deallocate()
    }

    /// The part of a contact id: a fixed mix of its key, so that plain numbers spread too.
    @inline(__always)
    static func part(of id: Key128) -> Int {
        var x = id.low ^ (id.high &* 0x9E37_79B9_7F4A_7C15)
        x = (x ^ (x >> 31)) &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 29
        return Int(truncatingIfNeeded: x.multipliedFullWidth(by: UInt64(parts)).high)
    }

    // MARK: - Writing

    /// Adds a contact-index entry (as `ContactIndex.add` takes it).
    func addContact(id: Key128, contact: Key128, team: UInt32, filtered: Bool) throws {
        let part = Self.part(of: id)
        var record = ContactRecord(idLow: id.low, idHigh: id.high, contactLow: contact.low, contactHigh: contact.high,
                                   team: team, filtered: filtered ? 1 : 0)
        try withUnsafeBytes(of: &record) { try append(part, $0, UnsafeRawBufferPointer(start: nil, count: 0),
                                                      UnsafeRawBufferPointer(start: nil, count: 0)) }
        contactsInPart[part] += 1
    }

    /// Adds a membership row: `reason` when the scanner already rejected it (it then needs no
    /// contact, and goes to part 0), `team` the row's team index or `anyTeam` / `noSuchTeam`.
    func addMembership(lane: Int, line: Int, id: Key128, team: UInt32, reason: RejectReason?, flags: UInt32,
                       audience: UnsafeRawBufferPointer, raw: UnsafeRawBufferPointer) throws {
        let part = reason == nil ? Self.part(of: id) : 0
        let kept = UnsafeRawBufferPointer(rebasing: raw.prefix(Self.rawKept))
        var header = MembershipHeader(lane: UInt32(lane), line: UInt64(line), idLow: id.low, idHigh: id.high, team: team,
                                      reason: reason.map { UInt8(RejectReason.allCases.firstIndex(of: $0)! + 1) } ?? 0,
                                      flags: UInt8(truncatingIfNeeded: flags), audienceLength: UInt32(audience.count),
                                      rawLength: UInt32(kept.count))
        try withUnsafeBytes(of: &header) {
            try append(Self.parts + part, UnsafeRawBufferPointer(rebasing: $0.prefix(MembershipHeader.size)), audience, kept)
        }
        membershipsInPart[part] += 1
        audienceBytesInPart[part] += audience.count
    }

    /// Copies a record of three pieces into block `file`, writing the block out first when the
    /// record does not fit (a record longer than a block goes straight to the file).
    @inline(__always)
    private func append(_ file: Int, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer,
                        _ c: UnsafeRawBufferPointer) throws {
        let n = a.count + b.count + c.count
        if filled[file] + n > Self.blockSize {
            try writeBlock(file)
            if n > Self.blockSize {
                let out = try sink(file)
                for piece in [a, b, c] where piece.count > 0 { try out.writeUnbuffered(piece) }
                return
            }
        }
        let at = blocks + file * Self.blockSize + filled[file]
        if a.count > 0 { at.copyMemory(from: a.baseAddress!, byteCount: a.count) }
        if b.count > 0 { (at + a.count).copyMemory(from: b.baseAddress!, byteCount: b.count) }
        if c.count > 0 { (at + a.count + b.count).copyMemory(from: c.baseAddress!, byteCount: c.count) }
        filled[file] += n
    }

    private func writeBlock(_ file: Int) throws {
        guard filled[file] > 0 else { return }
        let bytes = UnsafeRawBufferPointer(start: blocks + file * Self.blockSize, count: filled[file])
        filled[file] = 0
        try sink(file).writeUnbuffered(bytes)
    }

    /// The file of block `file`, created (and registered for removal) on first use.
    private func sink(_ file: Int) throws -> FileSink {
        let part = file % Self.parts
        let contacts = file < Self.parts
        if let sink = contacts ? contactFiles[part] : membershipFiles[part] { return sink }
        let path = contacts ? contactPaths[part] : membershipPaths[part]
        TemporaryFiles.register(path)
        let sink = try FileSink(path: path, reportedAs: path, buffered: false, durable: false)
        if contacts { contactFiles[part] = sink } else { membershipFiles[part] = sink }
        return sink
    }

    /// Writes out every block and closes every file written, so that they can be read.
    func finishWriting() throws {
        for file in 0..<(2 * Self.parts) { try writeBlock(file) }
        for case let sink? in contactFiles + membershipFiles { try sink.close() }
        contactFiles = Array(repeating: nil, count: Self.parts)
        membershipFiles = Array(repeating: nil, count: Self.parts)
    }

    // MARK: - Reading

    /// Calls `body` with each contact entry of `part`, in the order written.
    func forEachContact(inPart part: Int, _ body: (Key128, Key128, UInt32, Bool) throws -> Void) throws {
        guard contactsInPart[part] > 0 else { return }
        let reader = try SpillReader(path: contactPaths[part])
        while let bytes = try reader.take(MemoryLayout<ContactRecord>.size) {
            let r = bytes.loadUnaligned(as: ContactRecord.self)
            try body(Key128(low: r.idLow, high: r.idHigh), Key128(low: r.contactLow, high: r.contactHigh), r.team,
                     r.filtered != 0)
        }
    }

    /// A membership row read back.
    struct Membership {
        var lane: Int
        var line: Int
        var id: Key128
        var team: UInt32
        var reason: RejectReason?
        var flags: UInt32
        /// Valid until the next row is read.
        var audience: UnsafeRawBufferPointer
        var raw: UnsafeRawBufferPointer
    }

    /// Calls `body` with each membership row of `part`, in the order written.
    func forEachMembership(inPart part: Int, _ body: (Membership) throws -> Void) throws {
        guard FileManager.default.fileExists(atPath: membershipPaths[part]) else { return }
        let reader = try SpillReader(path: membershipPaths[part])
        while let head = try reader.take(MembershipHeader.size) {
            let h = head.loadUnaligned(as: MembershipHeader.self)
            let audienceLength = Int(h.audienceLength), rawLength = Int(h.rawLength)
            guard let rest = try reader.take(audienceLength + rawLength) else {
                throw HeadcountError(.environment, "a temporary file of the contact index ends early",
                                     file: membershipPaths[part])
            }
            try body(Membership(
                lane: Int(h.lane), line: Int(h.line), id: Key128(low: h.idLow, high: h.idHigh), team: h.team,
                reason: h.reason == 0 ? nil : RejectReason.allCases[Int(h.reason) - 1], flags: UInt32(h.flags),
                audience: UnsafeRawBufferPointer(rebasing: rest.prefix(audienceLength)),
                raw: UnsafeRawBufferPointer(rebasing: rest.dropFirst(audienceLength))))
        }
    }

    /// Removes a part's files once it has been joined.
    func removePart(_ part: Int) {
        for path in [contactPaths[part], membershipPaths[part]] {
            unlink(path)
            TemporaryFiles.unregister(path)
        }
    }

    /// Removes every file and the folder.
    func removeAll() {
        for part in 0..<Self.parts { removePart(part) }
        TemporaryFiles.removeFolder(directory)
    }

    // MARK: - Rejects

    /// A part's rejects, sorted by file and line, for `mergeRejects`.
    final class RejectRun {
        let path: String
        private(set) var count = 0

        init(path: String) { self.path = path }

        /// Writes `rejects` sorted by (lane, line).
        func write(_ rejects: [(lane: Int, line: Int, reason: RejectReason, raw: [UInt8])]) throws {
            TemporaryFiles.register(path)
            let sink = try FileSink(path: path, reportedAs: path, flushSize: JoinSpill.blockSize, durable: false)
            for r in rejects.sorted(by: { ($0.lane, $0.line) < ($1.lane, $1.line) }) {
                var head = RejectHeader(lane: UInt32(r.lane), line: UInt64(r.line),
                                        reason: UInt8(RejectReason.allCases.firstIndex(of: r.reason)!),
                                        rawLength: UInt32(r.raw.count))
                try withUnsafeBytes(of: &head) { try sink.write(UnsafeRawBufferPointer(rebasing: $0.prefix(RejectHeader.size))) }
                try sink.write(r.raw)
            }
            try sink.close()
            count = rejects.count
        }
    }

    /// Calls `body` with the rejects of every run, in (lane, line) order, and removes the runs.
    ///
    /// The runs' next rejects sit in a binary heap by (lane, line): a reject costs a logarithm of
    /// the runs, not a look at each (1.4M rejects over 128 runs: 0.37 s of looking before).
    static func mergeRejects(_ runs: [RejectRun],
                             _ body: (Int, Int, RejectReason, UnsafeRawBufferPointer) throws -> Void) throws {
        defer { for run in runs { unlink(run.path); TemporaryFiles.unregister(run.path) } }
        let readers = try runs.filter { $0.count > 0 }.map { try SpillReader(path: $0.path) }
        // A head's raw bytes stay valid until its reader is read again, after `body` has them.
        var heads: [(head: RejectHeader, raw: UnsafeRawBufferPointer)?] = try readers.map { try nextReject($0) }
        func before(_ a: Int, _ b: Int) -> Bool {
            let x = heads[a]!.head, y = heads[b]!.head
            return (x.lane, x.line, a) < (y.lane, y.line, b)
        }
        var heap = heads.indices.filter { heads[$0] != nil }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                var least = i
                let left = 2 * i + 1, right = left + 1
                if left < heap.count && before(heap[left], heap[least]) { least = left }
                if right < heap.count && before(heap[right], heap[least]) { least = right }
                if least == i { return }
                heap.swapAt(i, least)
                i = least
            }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        while let top = heap.first {
            let r = heads[top]!
            try body(Int(r.head.lane), Int(r.head.line), RejectReason.allCases[Int(r.head.reason)], r.raw)
            heads[top] = try nextReject(readers[top])
            if heads[top] == nil {
                heap.swapAt(0, heap.count - 1)
                heap.removeLast()
            }
            siftDown(0)
        }
    }

    private static func nextReject(_ reader: SpillReader) throws -> (head: RejectHeader, raw: UnsafeRawBufferPointer)? {
        guard let head = try reader.take(RejectHeader.size) else { return nil }
        let h = head.loadUnaligned(as: RejectHeader.self)
        guard let raw = try reader.take(Int(h.rawLength)) else {
            throw HeadcountError(.environment, "a temporary file of rejects ends early", file: reader.path)
        }
        return (h, raw)
    }
}

/// One contact-index entry on disk.
private struct ContactRecord {
    var idLow: UInt64
    var idHigh: UInt64
    var contactLow: UInt64
    var contactHigh: UInt64
    var team: UInt32
    var filtered: UInt32
}

/// The fixed part of a membership row on disk; the audience and raw bytes follow.
private struct MembershipHeader {
    var lane: UInt32
    var line: UInt64
    var idLow: UInt64
    var idHigh: UInt64
    var team: UInt32
    var reason: UInt8
    var flags: UInt8
    var audienceLength: UInt32
    var rawLength: UInt32

    static let size = MemoryLayout<MembershipHeader>.size
}

/// The fixed part of a reject on disk; the raw bytes follow.
private struct RejectHeader {
    var lane: UInt32
    var line: UInt64
    var reason: UInt8
    var rawLength: UInt32

    static let size = MemoryLayout<RejectHeader>.size
}

/// Reads a scratch file back in records of any size, a block at a time.
private final class SpillReader {
    let path: String
    private let file: InputFile
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var atEnd = false

    init(path: String) throws {
        self.path = path
        file = try InputFile.scratch(path)
        buffer = .allocate(byteCount: 1 << 18, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// The next `count` bytes, valid until the next call; nil at the end of the file.
    /// - Throws: `.environment` when the file ends inside them.
    func take(_ count: Int) throws -> UnsafeRawBufferPointer? {
        while end - start < count && !atEnd {
            if start > 0 {
                buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
                end -= start
                start = 0
            }
            if count > buffer.count {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
                bigger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
                buffer.deallocate()
                buffer = bigger
            }
            let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if n == 0 { atEnd = true } else { end += n }
        }
        if end - start < count {
            if end == start { return nil }
            throw HeadcountError(.environment, "a temporary file ends inside a record", file: path)
        }
        let out = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)])
        start += count
        return out
    }
}
