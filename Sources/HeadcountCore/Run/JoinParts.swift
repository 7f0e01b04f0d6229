import Foundation

/// What a membership row comes to once its contact id is looked up (SPEC §3.2), in memory
/// (`IndexStage.join`) or on disk (`JoinSpill.decide`) alike: `unknown_contact` when the id
/// names no contact, or one of another team than the row's; filtered with a contact filtered by
/// `--as-of`; `invalid_value` with an empty audience, `invalid_utf8` with one that is not UTF-8.
enum MembershipOutcome: Equatable {
    case counted
    case filtered
    case rejected(RejectReason)

    /// - Parameter rowTeam: the index of the row's team; nil when the row names none (any
    ///   contact's team will do), -1 for a team no contact has.
    @inline(__always)
    static func of(_ contact: (contact: Key128, team: UInt32, filtered: Bool)?, rowTeam: Int?,
                   audienceLength: Int, flags: UInt32) -> MembershipOutcome {
        guard let contact, rowTeam == nil || rowTeam == Int(contact.team) else { return .rejected(.unknownContact) }
        if contact.filtered { return .filtered }
        if audienceLength == 0 { return .rejected(.invalidValue) }
        if flags == ContactScanner.invalidAudience { return .rejected(.invalidUTF8) }
        return .counted
    }
}

/// One part of a join on disk, decided: every membership row of the part is filtered, rejected
/// (its reject written to the part's run) or counted, and what the counting thread still does
/// with a counted row is intern its audience and count it.
struct JoinedPart {
    /// A membership row that counts: its contact, and its audience as bytes in `audienceBytes`.
    struct Counted {
        var contact: Key128
        var audienceHash: UInt64
        var team: UInt32
        var audienceStart: UInt32
        var audienceLength: UInt32
    }

    var counted: [Counted] = []
    var audienceBytes: [UInt8] = []
    /// Per lane (membership file): rows filtered and counted, and rows rejected by reason.
    var filtered: [Int]
    var countedRows: [Int]
    var rejected: [[RejectReason: Int]]
    /// The part's rejects, in file and line order.
    var run: JoinSpill.RejectRun
    /// Bytes the part's contact index held while the part was decided.
    var indexBytes = 0

    init(lanes: Int, run: JoinSpill.RejectRun) {
        filtered = Array(repeating: 0, count: lanes)
        countedRows = filtered
        rejected = Array(repeating: [:], count: lanes)
        self.run = run
    }

    /// Bytes held until the counting thread has taken the part.
    var bytes: Int { counted.capacity * MemoryLayout<Counted>.stride + audienceBytes.capacity }
}

extension JoinSpill {
    /// About the bytes one part holds while it is decided and until it is counted: its contact
    /// index (at most 3/4 full) and its counted rows with their audiences.
    var largestPartBytes: Int {
        (0..<Self.parts).map {
            ContactIndex.bytes(expected: contactsInPart[$0])
                + membershipsInPart[$0] * MemoryLayout<JoinedPart.Counted>.stride + audienceBytesInPart[$0]
        }.max() ?? 0
    }

    /// Decides every membership row of `part` against that part's contacts
    /// (`MembershipOutcome`). Removes the part's files.
    ///
    /// Touches nothing shared but the files of its own part: runs on any thread.
    /// - Parameter teamHash: the stable hash of a team index (`ByteInterner.hash(of:)` of the
    ///   team table, which no longer changes once the contacts are read).
    func decide(part: Int, lanes: Int, teamHash: (UInt32) -> UInt64, audienceSeed: UInt64) throws -> JoinedPart {
        let index = ContactIndex(expected: contactsInPart[part])
        try forEachContact(inPart: part) { id, contact, team, filtered in
            index.add(id: id, contact: contact, team: team, filtered: filtered)
        }
        var out = JoinedPart(lanes: lanes, run: RejectRun(path: (directory as NSString)
            .appendingPathComponent(String(format: "rejects-%03d.bin", part))))
        out.indexBytes = index.bytes
        out.counted.reserveCapacity(membershipsInPart[part])
        out.audienceBytes.reserveCapacity(audienceBytesInPart[part])
        var found: [(lane: Int, line: Int, reason: RejectReason, raw: [UInt8])] = []
        try forEachMembership(inPart: part) { m in
            var reason = m.reason
            if reason == nil {
                let rowTeam = m.team == Self.anyTeam ? nil : m.team == Self.noSuchTeam ? -1 : Int(m.team)
                let contact = index.lookup(m.id, team: rowTeam)
                switch MembershipOutcome.of(contact, rowTeam: rowTeam, audienceLength: m.audience.count,
                                            flags: m.flags) {
                case .filtered:
                    out.filtered[m.lane] += 1
                    return
                case .rejected(let why):
                    reason = why
                case .counted:
                    let contact = contact!
                    let hash = ByteInterner.hash(m.audience, ownerHash: teamHash(contact.team), seed: audienceSeed)
                    out.counted.append(JoinedPart.Counted(
                        contact: contact.contact, audienceHash: hash, team: contact.team,
                        audienceStart: UInt32(out.audienceBytes.count), audienceLength: UInt32(m.audience.count)))
                    out.audienceBytes.append(contentsOf: m.audience)
                    out.countedRows[m.lane] += 1
                    return
                }
            }
            out.rejected[m.lane][reason!, default: 0] += 1
            found.append((m.lane, m.line, reason!, Array(m.raw)))
        }
        removePart(part)
        if !found.isEmpty { try out.run.write(found) }
        return out
    }

    /// Decides the parts on `threads` threads, this one included, and hands each to `consume`
    /// on this thread in part order, so that the counting (and the order in which audiences are
    /// first seen) is that of a join one part after another.
    ///
    /// Parts are decided fewer than `ahead` (at least `threads`) ahead of the one consumed,
    /// which bounds the memory of parts decided and waiting. This thread decides parts too while it waits (all
    /// of them with one thread, or when the system refuses every other). On a failure, the
    /// threads started are waited for before this returns, so that no thread still reads the
    /// files when the caller removes them.
    func joinParts(threads: Int, ahead: Int, decide: @escaping (Int) throws -> JoinedPart,
                   consume: (JoinedPart) throws -> Void) throws {
        let queue = PartQueue(parts: Self.parts, ahead: max(ahead, threads), decide: decide)
        defer { queue.stop() }
        queue.startWorkers(threads - 1)
        for part in 0..<Self.parts {
            try consume(try queue.take(part))
        }
    }
}

/// The parts of a join on disk shared out among threads (`JoinSpill.joinParts`).
private final class PartQueue {
    private let condition = NSCondition()
    private let parts: Int
    private let ahead: Int
    private let decide: (Int) throws -> JoinedPart
    /// The first part no thread has taken.
    private var next = 0
    /// The part the consumer takes next.
    private var consuming = 0
    private var results: [JoinedPart?]
    private var failure: Error?
    private var stopped = false
    private var running = 0

    init(parts: Int, ahead: Int, decide: @escaping (Int) throws -> JoinedPart) {
        self.parts = parts
        self.ahead = ahead
        self.decide = decide
        results = Array(repeating: nil, count: parts)
    }

    func startWorkers(_ count: Int) {
        for _ in 0..<max(0, count) {
            condition.lock()
            running += 1
            condition.unlock()
            if !Workers.start(name: "hc-join", { [self] in work() }) {
                condition.lock()
                running -= 1
                condition.unlock()
                return
            }
        }
    }

    /// A worker: decides the next part not taken, while it is within `ahead` of the consumer.
    private func work() {
        condition.lock()
        while true {
            while !stopped && next < parts && !mayTakeNext { condition.wait() }
            if stopped || next >= parts { break }
            decideNext()
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Whether a thread may decide part `next` now. Called with the lock held.
    private var mayTakeNext: Bool { !stopped && next < parts && next < consuming + ahead }

    /// Decides part `next` without the lock and keeps the result, or the failure, which stops
    /// every thread. Called with the lock held.
    private func decideNext() {
        let part = next
        next += 1
        condition.unlock()
        let result = Result { try decide(part) }
        condition.lock()
        switch result {
        case .success(let r):
            results[part] = r
        case .failure(let error):
            if failure == nil { failure = error }
            stopped = true
        }
        condition.broadcast()
    }

    /// Part `part`, decided by a worker or here: while it waits, this thread decides the parts
    /// no worker has taken.
    func take(_ part: Int) throws -> JoinedPart {
        condition.lock()
        defer { condition.unlock() }
        consuming = part
        condition.broadcast()
        while true {
            if let failure { throw failure }
            if let r = results[part] {
                results[part] = nil
                return r
            }
            // Rather than wait, decide a part no worker has taken: this one, or one ahead.
            if mayTakeNext { decideNext() } else { condition.wait() }
        }
    }

    /// Tells the workers to stop after the part in hand, and waits for them.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }
}
