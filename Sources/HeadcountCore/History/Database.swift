import CSQLite
import Foundation

/// A thin SQLite connection: prepared statements, typed binds, transactions.
///
/// Errors name the database file and SQLite's message, never a bound value.
final class Database {
    let path: String
    private(set) var handle: OpaquePointer?

    /// How long a writer waits for another writer's lock before failing (30 s;
    /// `HEADCOUNT_BUSY_TIMEOUT_MS` changes it, for tests of a locked history).
    static let busyTimeoutMilliseconds: Int32 =
        ProcessInfo.processInfo.environment["HEADCOUNT_BUSY_TIMEOUT_MS"].flatMap { Int32($0) } ?? 30_000

    /// Opens (creating when missing) the database at `path`, in WAL mode with a busy timeout.
    init(path: String) throws {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        if rc != SQLITE_OK {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "error \(rc)"
            sqlite3_close(handle)
            handle = nil
            throw HeadcountError(.environment, "cannot open the history database: \(message)", file: path)
        }
        sqlite3_busy_timeout(handle, Self.busyTimeoutMilliseconds)
        try useWriteAheadLog()
        try execute("PRAGMA synchronous = NORMAL")
        try execute("PRAGMA foreign_keys = ON")
    }

    deinit { sqlite3_close_v2(handle) }

    /// Turns on write-ahead logging, waiting up to the busy timeout for the lock it needs.
    ///
    /// SQLite does not call the busy handler while it converts a database's journal, so runs
    /// that open a new history at the same moment got "database is locked" at once (16 processes
    /// opening one new file: 29 opens in 800 failed). The mode is read first: it is kept in the
    /// file, so every open after the first finds it set and takes no lock for it.
    private func useWriteAheadLog() throws {
        let deadline = Date().addingTimeInterval(Double(Self.busyTimeoutMilliseconds) / 1000)
        var pause: UInt32 = 1_000
        while true {
            let (read, mode) = journalMode("PRAGMA journal_mode")
            if read == SQLITE_OK && mode == "wal" { return }
            // On a file system that cannot hold a write-ahead log SQLite keeps the old mode and
            // says so (not an error); the busy timeout then still orders the writers.
            let rc = read == SQLITE_OK ? journalMode("PRAGMA journal_mode = WAL").0 : read
            if rc == SQLITE_OK { return }
            guard rc & 0xFF == SQLITE_BUSY || rc & 0xFF == SQLITE_LOCKED, Date() < deadline else {
                throw error("cannot turn on write-ahead logging")
            }
            usleep(pause)
            pause = min(pause * 2, 50_000)
        }
    }

    /// Runs a journal-mode pragma: SQLite's result code and the mode it reports.
    private func journalMode(_ sql: String) -> (Int32, String?) {
        var stmt: OpaquePointer?
        var rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        defer { sqlite3_finalize(stmt) }
        guard rc == SQLITE_OK else { return (sqlite3_extended_errcode(handle), nil) }
        rc = sqlite3_step(stmt)
        guard rc == SQLITE_ROW else { return (rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(handle), nil) }
        let mode = sqlite3_column_text(stmt, 0).map { String(cString: $0).lowercased() }
        return (SQLITE_OK, mode)
    }

    func error(_ what: String) -> HeadcountError {
        let message = String(cString: sqlite3_errmsg(handle))
        return HeadcountError(.environment, "history database: \(what): \(message)", file: path)
    }

    /// Runs SQL without results (one or more statements).
    func execute(_ sql: String) throws {
        if sqlite3_exec(handle, sql, nil, nil, nil) != SQLITE_OK { throw error("cannot run statement") }
    }

    func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        if sqlite3_prepare_v2(handle, sql, -1, &stmt, nil) != SQLITE_OK { throw error("cannot prepare statement") }
        return Statement(stmt!, db: self)
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            throw error
        }
    }

    /// Runs one statement with `values` bound.
    func run(_ sql: String, _ values: [SQLValue]) throws {
        let s = try prepare(sql)
        try s.bind(values)
        while try s.step() {}
    }

    /// All rows of a query.
    func rows(_ sql: String, _ values: [SQLValue] = []) throws -> [[SQLValue]] {
        let s = try prepare(sql)
        try s.bind(values)
        var out: [[SQLValue]] = []
        while try s.step() { out.append(s.row()) }
        return out
    }
}

/// A value bound to or read from SQLite.
enum SQLValue: Equatable {
    case null
    case int(Int)
    case text(String)
    case blob([UInt8])

    var int: Int? { if case .int(let i) = self { return i } else { return nil } }
    var text: String? { if case .text(let s) = self { return s } else { return nil } }
    var blob: [UInt8]? { if case .blob(let b) = self { return b } else { return nil } }
}

final class Statement {
    private let stmt: OpaquePointer
    private unowned let db: Database

    init(_ stmt: OpaquePointer, db: Database) {
        self.stmt = stmt
        self.db = db
    }

    deinit { sqlite3_finalize(stmt) }

    func bind(_ values: [SQLValue]) throws {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch v {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .int(let n): rc = sqlite3_bind_int64(stmt, index, sqlite3_int64(n))
            case .text(let s): rc = headcount_sqlite3_bind_text(stmt, index, s, Int32(s.utf8.count))
            case .blob(let b): rc = b.withUnsafeBytes { headcount_sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count)) }
            }
            if rc != SQLITE_OK { throw db.error("cannot bind parameter \(index)") }
        }
    }

    /// Binds one parameter (1-based `index`), keeping the others: for a statement run once a row,
    /// whose parameters that stay the same are bound once (`bind(_:)` clears them all). Text is
    /// given as its UTF-8 bytes, which SQLite copies; bytes that are not UTF-8 are stored as
    /// `String(decoding:)` repairs them, as `.text` stores them (valid UTF-8 it leaves as it is).
    func bind(text bytes: UnsafeRawBufferPointer, at index: Int32) throws {
        let rc: Int32
        if let base = bytes.baseAddress, ReportJob.isValidUTF8(bytes) {
            rc = headcount_sqlite3_bind_text(stmt, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        } else {
            let text = String(decoding: bytes, as: UTF8.self)
            rc = headcount_sqlite3_bind_text(stmt, index, text, Int32(text.utf8.count))
        }
        if rc != SQLITE_OK { throw db.error("cannot bind parameter \(index)") }
    }

    /// Binds one parameter to NULL, keeping the others (see `bind(text:at:)`).
    func bind(null index: Int32) throws {
        if sqlite3_bind_null(stmt, index) != SQLITE_OK { throw db.error("cannot bind parameter \(index)") }
    }

    /// Binds one whole-number parameter, keeping the others (see `bind(text:at:)`).
    func bind(int n: Int, at index: Int32) throws {
        if sqlite3_bind_int64(stmt, index, sqlite3_int64(n)) != SQLITE_OK { throw db.error("cannot bind parameter \(index)") }
    }

    /// Readies the statement to run again with its bindings kept.
    func reset() { sqlite3_reset(stmt) }

    /// Advances; true when a row is available.
    func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw db.error("statement failed")
    }

    func row() -> [SQLValue] {
        (0..<sqlite3_column_count(stmt)).map { i in
            switch sqlite3_column_type(stmt, i) {
            case SQLITE_NULL: return .null
            case SQLITE_INTEGER: return .int(Int(sqlite3_column_int64(stmt, i)))
            case SQLITE_BLOB:
                let n = Int(sqlite3_column_bytes(stmt, i))
                guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return .blob([]) }
                return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
            default:
                // By its length, not up to its first NUL: an id may hold NUL bytes (a team
                // "t\0" + "1" came back from the history as "t").
                let n = Int(sqlite3_column_bytes(stmt, i))
                guard n > 0, let p = sqlite3_column_text(stmt, i) else { return .text("") }
                return .text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
            }
        }
    }
}
