/// Stops the process with `message` when `condition` is false: a check that must hold in
/// release builds too.
///
/// The library's release build is `-Ounchecked` (Package.swift), which compiles `precondition`
/// out and lets the optimiser assume its condition: a broken invariant would go on to a wrong
/// count or a stray write. `fatalError` stays in every build, so the library checks its
/// invariants with this instead, and `precondition` does not appear in it (a test sees to
/// that). Each call is a compare and a branch. On the counting path they come once per chunk
/// lent, table growth or staging buffer released, and once per audience beyond a contact's
/// second; the others are in making reports and reading the history back (a report row, each
/// byte of an id read through `IDBytes`).
@inline(__always)
func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
               file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { invariantFailure(message, file: file, line: line) }
}

/// The failing side of `invariant`, out of line, so that the caller keeps only the compare.
@inline(never)
private func invariantFailure(_ message: () -> String, file: StaticString, line: UInt) -> Never {
    fatalError(message(), file: file, line: line)
}
