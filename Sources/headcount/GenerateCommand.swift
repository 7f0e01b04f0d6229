import ArgumentParser
import HeadcountCore

extension Headcount {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write synthetic dumps (not yet available).")
        func run() throws { throw HeadcountError(.usage, "generate is not available yet") }
    }
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a report on a built-in sample (not yet available).")
        func run() throws { throw HeadcountError(.usage, "demo is not available yet") }
    }
}
