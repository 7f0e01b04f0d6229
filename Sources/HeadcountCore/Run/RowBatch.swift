import Foundation

/// One contact row as the scanning thread left it for the counting thread.
///
/// 64 bytes, one cache line: every row crosses from the scanning core to the counting core.
/// What only some runs or some rows need is kept beside the rows, in the batch (the contact
/// id's key, the raw text's place, the team's index).
struct ScannedRow {
    enum Outcome: UInt8 { case counted, filtered, rejected }

    /// The contact's key: team + normalised email (counted rows).
    var key: Key128
    /// The team's and the audience's hashes in their id tables (`ByteInterner`), so that the
    /// counting thread neither hashes nor waits for a slot it could have fetched early.
    var teamHash: UInt64
    var audienceHash: UInt64
    var line: Int
    var teamOffset: UInt32
    /// `fixedTeam` when the file has no team column.
    var teamLength: UInt32
    var audienceOffset: UInt32
    /// `none` when the row has no audience.
    var audienceLength: UInt32
    var flags: UInt32
    var outcome: Outcome
    var reason: RejectReason
    /// false for a row whose team could not be read (malformed, or an invalid team id).
    var hasTeam: Bool

    static let fixedTeam = UInt32.max
    static let none = UInt32.max
}

/// A membership row after the join.
struct JoinedRow {
    var contact: Key128
    var audienceHash: UInt64
    var team: UInt32
    /// The reject reason; nil for a row counted or filtered.
    var outcome: RejectReason?
    var filtered: Bool
    /// Written to disk to be joined later (`JoinSpill`): only counted as read for now.
    var deferred: Bool
}

/// A batch of scanned rows and the bytes they point into; reused.
final class RowBatch {
    static let capacity = 2048
    /// On cache lines: a row is one.
    let rows = UnsafeMutableRawPointer.allocate(byteCount: RowBatch.capacity * MemoryLayout<ScannedRow>.stride,
                                                alignment: 64).bindMemory(to: ScannedRow.self, capacity: RowBatch.capacity)
    /// Each row's contact id key, or zero when it has none; written only when the run joins
    /// memberships (the scanner's `Columns.contactID`), and for membership rows.
    let contacts = UnsafeMutablePointer<Key128>.allocate(capacity: RowBatch.capacity)
    /// Where each rejected row's raw text is in the arena (and each membership row's).
    let raws = UnsafeMutablePointer<(offset: UInt32, length: UInt32)>.allocate(capacity: RowBatch.capacity)
    /// Each row's team index, once the counting thread has interned it (for the contact index,
    /// which reads it only for rows with a team; the others keep an earlier batch's value).
    let teamIndices = UnsafeMutablePointer<UInt32>.allocate(capacity: RowBatch.capacity)
    /// Membership rows joined to their contacts (by `IndexStage`); allocated on first use, so
    /// that contact batches do not carry it.
    var joined: UnsafeMutablePointer<JoinedRow> {
        if let joinedRows { return joinedRows }
        let j = UnsafeMutablePointer<JoinedRow>.allocate(capacity: RowBatch.capacity)
        joinedRows = j
        return j
    }
    private var joinedRows: UnsafeMutablePointer<JoinedRow>?
    var count = 0
    private var arena = ByteArena()
    /// Stored bytes of the file consumed when the batch was closed.
    var position = 0
    /// The share of the contacts read when the batch was counted (for the contact index's growth).
    var progress = 0.0

    deinit {
        rows.deallocate()
        contacts.deallocate()
        raws.deallocate()
        teamIndices.deallocate()
        joinedRows?.deallocate()
        arena.deallocate()
    }

    func reset() {
        count = 0
        arena.removeAll()
    }

    /// Copies `bytes` into the arena; returns their offset.
    @inline(__always)
    func keep(_ bytes: UnsafeRawBufferPointer) -> UInt32 { UInt32(arena.append(bytes)) }

    @inline(__always)
    func bytes(_ offset: UInt32, _ length: UInt32) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: arena.base + Int(offset), count: Int(length))
    }

    /// Row `i`'s raw text: a rejected row's, or a membership row's.
    @inline(__always)
    func raw(_ i: Int) -> UnsafeRawBufferPointer { bytes(raws[i].offset, raws[i].length) }
}
