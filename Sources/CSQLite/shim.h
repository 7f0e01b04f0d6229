#ifndef HEADCOUNT_CSQLITE_SHIM_H
#define HEADCOUNT_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a cast macro Swift cannot import: bind text that SQLite copies.
static inline int headcount_sqlite3_bind_text(sqlite3_stmt *stmt, int index, const char *text, int length) {
    return sqlite3_bind_text(stmt, index, text, length, SQLITE_TRANSIENT);
}

/// A blob that SQLite copies (SQLITE_TRANSIENT, as above); a zero-length blob for NULL data.
static inline int headcount_sqlite3_bind_blob(sqlite3_stmt *stmt, int index, const void *bytes, int length) {
    return length > 0 ? sqlite3_bind_blob(stmt, index, bytes, length, SQLITE_TRANSIENT)
                      : sqlite3_bind_zeroblob(stmt, index, 0);
}
#endif
