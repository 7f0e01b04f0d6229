/// Stops the process with `message` when `condition` is false: a check that must hold in
/// release builds too.
///
/// The library's release build is `-Ounchecked` (Package.swift), which compiles `precondition`
/// out and lets the optimiser assume its condition: a broken invariant would go on to a wrong
/// count or a stray write. `fatalError` stays in every build, so the library checks its
/// invariants with this instead, and `precondition` does not appear in it (a test sees to
/// that). Each call is a compare and a branch; none sits in a per-byte loop, and the one on a
/// per-record path (a contact's third audience or more) costs that and no more.
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
