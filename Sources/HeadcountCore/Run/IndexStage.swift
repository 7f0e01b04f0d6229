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
final class IndexStage {
    enum Work {
        case add(RowBatch, ContactScanner)
        case join(ScanItem, to: ScanQueue)
        case stop
    }

    private let index: ContactIndex
    private let teams: ByteInterner
    private let audienceSeed: UInt64
    private let work = BlockingQueue<Work>()
    private let lock = NSLock()
    private var heldBytes = 0

    /// - Throws: `.environment` when the system will not start the index's thread.
    init(index: ContactIndex, teams: ByteInterner, audienceSeed: UInt64) throws {
        self.index = index
        self.teams = teams
        self.audienceSeed = audienceSeed
        heldBytes = index.bytes
        try Workers.start("the contact index") { [self] in self.run() }
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
                return
            case .add(let batch, let scanner):
                add(batch)
                lock.lock()
                heldBytes = index.bytes
                lock.unlock()
                scanner.recycle(batch)
            case .join(let item, let output):
                if case .batch(_, let batch) = item { join(batch) }
                output.post(item)
            }
        }
    }

    static let prefetchAhead = 16

    @inline(__always)
    private func prefetch(_ row: ScannedRow) {
        if row.contact.low != 0 || row.contact.high != 0 { index.prefetch(row.contact) }
    }

    /// Adds the ids of a batch of contact rows: counted rows name their contact, rows filtered
    /// by `--as-of` mark their memberships as filtered too.
    private func add(_ batch: RowBatch) {
        index.noteProgress(batch.progress)
        for i in 0..<min(Self.prefetchAhead, batch.count) { prefetch(batch.rows[i]) }
        for i in 0..<batch.count {
            if i + Self.prefetchAhead < batch.count { prefetch(batch.rows[i + Self.prefetchAhead]) }
            let row = batch.rows[i]
            guard row.contact.low != 0 || row.contact.high != 0 else { continue }
            switch row.outcome {
            case .counted:
                index.add(id: row.contact, contact: row.key, team: row.teamIndex)
            case .filtered:
                index.add(id: row.contact, contact: Key128(low: 0, high: row.teamHash), team: row.teamIndex,
                          filtered: true)
            case .rejected:
                break
            }
        }
    }

    /// Joins a batch of membership rows to their contacts.
    private func join(_ batch: RowBatch) {
        let joined = batch.joined
        for i in 0..<min(Self.prefetchAhead, batch.count) { prefetch(batch.rows[i]) }
        for i in 0..<batch.count {
            if i + Self.prefetchAhead < batch.count { prefetch(batch.rows[i + Self.prefetchAhead]) }
            let row = batch.rows[i]
            var j = JoinedRow(contact: Key128(low: 0, high: 0), audienceHash: 0, team: 0, outcome: nil,
                              filtered: false)
            if row.outcome == .rejected {
                j.outcome = row.reason
            } else if let contact = index.lookup(row.contact),
                      row.teamLength == ScannedRow.fixedTeam
                        || teams.lookup(batch.bytes(row.teamOffset, row.teamLength), hash: row.teamHash)
                            == Int(contact.team) {
                if contact.filtered {
                    j.filtered = true
                } else if row.audienceLength == 0 {
                    j.outcome = .invalidValue
                } else if row.flags == ContactScanner.invalidAudience {
                    j.outcome = .invalidUTF8
                } else {
                    j.contact = contact.contact
                    j.team = contact.team
                    j.audienceHash = ByteInterner.hash(batch.bytes(row.audienceOffset, row.audienceLength),
                                                       ownerHash: teams.hash(of: Int(contact.team)),
                                                       seed: audienceSeed)
                }
            } else {
                j.outcome = .unknownContact
            }
            joined[i] = j
        }
    }
}
