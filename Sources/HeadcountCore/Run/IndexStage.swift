import Foundation

/// The contact index on a thread of its own (the global layout), so that the counting thread
/// does not also wait on the index's cache misses and page faults.
///
/// Contacts: the counting thread interns each batch's teams, then hands the batch here; the
/// ids go into the index and the batch back to its scanner. Memberships: the scanners hand
/// their batches here first; each row is joined to its contact (`RowBatch.joined`) and the
/// batch goes on to the counting thread. One queue carries both, in order, so every contact
/// is in the index before the first membership is looked up. While memberships are joined,
/// nothing adds teams, so reading the team table from here is safe.
///
/// The index may hold `budget` bytes. Past that, it moves to disk (`JoinSpill`): its entries and
/// every later contact go to files, and each membership row is written there too, marked
/// `deferred`, to be joined part by part once every file is read (`ReportJob`).
final class IndexStage {
    enum Work {
        case add(RowBatch, ContactScanner)
        case join(ScanItem, to: ScanQueue)
        case stop
    }

    private var index: ContactIndex
    private let teams: ByteInterner
    private let audienceSeed: UInt64
    /// Woken for a few batches at a time, as the counting thread is (`BlockingQueue`), or at
    /// once to stop.
    private let work = BlockingQueue<Work>(wakeAfter: ContactScanner.wakeAfter) {
        if case .stop = $0 { return true }
        return false
    }
    private let lock = NSLock()
    private var heldBytes = 0
    private let budget: Int
    private let temporaryDirectory: String
    /// Set on the index's thread when the index moves to disk.
    private var spill: JoinSpill?
    /// The first failure writing the spill (a full disk), reported by `takeSpill`.
    private var failure: Error?
    /// Signalled by the index's thread as it ends.
    private let stopped = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - budget: bytes the index may hold before it moves to disk.
    ///   - temporaryDirectory: where it moves (`--temp-dir`).
    /// - Throws: `.environment` when the system will not start the index's thread.
    init(index: ContactIndex, teams: ByteInterner, audienceSeed: UInt64, budget: Int = .max,
         temporaryDirectory: String = NSTemporaryDirectory()) throws {
        self.index = index
        self.teams = teams
        self.audienceSeed = audienceSeed
        self.budget = budget
        self.temporaryDirectory = temporaryDirectory
        index.maxBytes = budget
        heldBytes = index.bytes
        try Workers.start("the contact index", name: "hc-index") { [self] in self.run() }
    }

    /// Stops the index's thread, waits for it (its work is never blocked, so this is short),
    /// and removes what the join wrote to disk: a run that fails leaves no file behind when it
    /// returns, not later, when the thread happens to let go of the spill.
    func stop() {
        work.post(.stop)
        stopped.wait()
        spill?.removeAll()
    }

    /// Whether the join went to disk. Read once the contacts are in (every add is done before
    /// the first membership reaches the counting thread, through the queues).
    var isSpilling: Bool {
        lock.lock()
        defer { lock.unlock() }
        return spill != nil
    }

    /// The join on disk, once every membership row has been through here; nil when it fit.
    /// - Throws: what writing it failed with.
    func takeSpill() throws -> JoinSpill? {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        return spill
    }

    func post(_ item: Work) { work.post(item) }

    /// Bytes the index holds, as of the last batch.
    var bytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return heldBytes
    }

    private func run() {
        while true {
            switch work.take() {
            case .stop:
                stopped.signal()
                return
            case .add(let batch, let scanner):
                if spill == nil {
                    add(batch)
                    if index.isFull || index.bytes > budget { moveToDisk() }
                } else {
                    spillContacts(batch)
                }
                lock.lock()
                heldBytes = index.bytes
                lock.unlock()
                scanner.recycle(batch)
            case .join(let item, let output):
                if case .batch(let lane, let batch) = item {
                    if spill == nil { join(batch) } else { spillMemberships(batch, lane: lane) }
                }
                output.post(item)
            }
        }
    }

    static let prefetchAhead = 16

    @inline(__always)
    private func prefetch(_ contact: Key128) {
        if contact.low != 0 || contact.high != 0 { index.prefetch(contact) }
    }

    /// Adds the ids of a batch of contact rows: counted rows name their contact, rows filtered
    /// by `--as-of` mark their memberships as filtered too.
    private func add(_ batch: RowBatch) {
        index.noteProgress(batch.progress)
        for i in 0..<min(Self.prefetchAhead, batch.count) { prefetch(batch.contacts[i]) }
        for i in 0..<batch.count {
            if i + Self.prefetchAhead < batch.count { prefetch(batch.contacts[i + Self.prefetchAhead]) }
            let row = batch.rows[i], id = batch.contacts[i], team = batch.teamIndices[i]
            guard id.low != 0 || id.high != 0 else { continue }
            switch row.outcome {
            case .counted:
                index.add(id: id, contact: row.key, team: team)
            case .filtered:
                index.add(id: id, contact: Key128(low: 0, high: row.teamHash), team: team, filtered: true)
            case .rejected:
                break
            }
        }
    }

    /// Moves the index to disk: its entries now, later contacts as they come.
    private func moveToDisk() {
        do {
            let spill = try JoinSpill(temporaryDirectory: temporaryDirectory)
            try index.forEachEntry { id, contact, team, filtered in
                try spill.addContact(id: id, contact: contact, team: team, filtered: filtered)
            }
            lock.lock()
            self.spill = spill
            lock.unlock()
            index = ContactIndex()
        } catch {
            fail(error)
        }
    }

    private func fail(_ error: Error) {
        lock.lock()
        if failure == nil { failure = error }
        lock.unlock()
    }

    /// `add`, to disk.
    private func spillContacts(_ batch: RowBatch) {
        guard let spill else { return }
        do {
            for i in 0..<batch.count {
                let row = batch.rows[i], id = batch.contacts[i], team = batch.teamIndices[i]
                guard id.low != 0 || id.high != 0 else { continue }
                switch row.outcome {
                case .counted:
                    try spill.addContact(id: id, contact: row.key, team: team, filtered: false)
                case .filtered:
                    try spill.addContact(id: id, contact: Key128(low: 0, high: row.teamHash), team: team,
                                         filtered: true)
                case .rejected:
                    break
                }
            }
        } catch {
            fail(error)
        }
    }

    /// `join`, deferred: every row goes to disk with what deciding it needs, and is marked
    /// `deferred` for the counting thread, which then only counts it as read.
    private func spillMemberships(_ batch: RowBatch, lane: Int) {
        let joined = batch.joined
        for i in 0..<batch.count {
            joined[i] = JoinedRow(contact: Key128(low: 0, high: 0), audienceHash: 0, team: 0, outcome: nil,
                                  filtered: false, deferred: true)
        }
        guard let spill else { return }
        do {
            for i in 0..<batch.count {
                let row = batch.rows[i], id = batch.contacts[i]
                let raw = batch.raw(i)
                if row.outcome == .rejected {
                    try spill.addMembership(lane: lane, line: row.line, id: id, team: JoinSpill.noSuchTeam,
                                            reason: row.reason, flags: 0, audience: UnsafeRawBufferPointer(start: nil, count: 0),
                                            raw: raw)
                    continue
                }
                let team = row.teamLength == ScannedRow.fixedTeam
                    ? JoinSpill.anyTeam
                    : teams.lookup(batch.bytes(row.teamOffset, row.teamLength), hash: row.teamHash)
                        .map { UInt32($0) } ?? JoinSpill.noSuchTeam
                try spill.addMembership(lane: lane, line: row.line, id: id, team: team, reason: nil,
                                        flags: row.flags, audience: batch.bytes(row.audienceOffset, row.audienceLength),
                                        raw: raw)
            }
        } catch {
            fail(error)
        }
    }

    /// Joins a batch of membership rows to their contacts.
    private func join(_ batch: RowBatch) {
        let joined = batch.joined
        for i in 0..<min(Self.prefetchAhead, batch.count) { prefetch(batch.contacts[i]) }
        for i in 0..<batch.count {
            if i + Self.prefetchAhead < batch.count { prefetch(batch.contacts[i + Self.prefetchAhead]) }
            let row = batch.rows[i]
            var j = JoinedRow(contact: Key128(low: 0, high: 0), audienceHash: 0, team: 0, outcome: nil,
                              filtered: false, deferred: false)
            if row.outcome == .rejected {
                j.outcome = row.reason
            } else {
                let rowTeam = row.teamLength == ScannedRow.fixedTeam
                    ? nil : teams.lookup(batch.bytes(row.teamOffset, row.teamLength), hash: row.teamHash) ?? -1
                let contact = index.lookup(batch.contacts[i], team: rowTeam)
                switch MembershipOutcome.of(contact, rowTeam: rowTeam, audienceLength: Int(row.audienceLength),
                                            flags: row.flags) {
                case .filtered:
                    j.filtered = true
                case .rejected(let reason):
                    j.outcome = reason
                case .counted:
                    let contact = contact!
                    j.contact = contact.contact
                    j.team = contact.team
                    j.audienceHash = ByteInterner.hash(batch.bytes(row.audienceOffset, row.audienceLength),
                                                       ownerHash: teams.hash(of: Int(contact.team)),
                                                       seed: audienceSeed)
                }
            }
            joined[i] = j
        }
    }
}
