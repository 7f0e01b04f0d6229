// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "headcount",
    products: [
        .executable(name: "headcount", targets: ["headcount"]),
        .library(name: "HeadcountCore", targets: ["HeadcountCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // zlib from Debian's zlib1g-dev, behind a shim for the macros Swift cannot import.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // SQLite from Debian's libsqlite3-dev, for the run history.
        .systemLibrary(
            name: "CSQLite",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // ISA-L's inflater when libisal-dev is installed (loaded at run time); zlib otherwise.
        .systemLibrary(name: "CISAL"),
        // CPU instructions Swift cannot spell (prefetch, SSE2 byte compares), header only.
        .systemLibrary(name: "CIntrinsics"),
        .target(
            name: "HeadcountCore",
            dependencies: [
                "CZlib", "CSQLite", "CISAL", "CIntrinsics",
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            // Release builds of the library drop Swift's run-time checks: M took 1.81 s and
            // 3.44 s of CPU against 2.55 s and 4.69 s with plain -O (medians of ten
            // alternating runs, reports identical). Most of the difference is the dynamic
            // exclusivity checks on the hot loops' class properties; with only those off
            // (-enforce-exclusivity=unchecked) bounds and overflow checks cost 4-5%. Debug
            // builds, which `swift test` runs, keep every check. `precondition` is compiled
            // out too: the library's invariants use `invariant` (a fatalError), which stays.
            // README, Performance.
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "headcount",
            dependencies: [
                "HeadcountCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer targets (Scripts/fuzz.sh builds them with -sanitize=fuzzer); built
        // plainly they replay the files given to them, for regression tests.
        .executableTarget(name: "FuzzCSV", dependencies: ["HeadcountCore"]),
        .executableTarget(name: "FuzzGzip", dependencies: ["HeadcountCore"]),
        .testTarget(
            name: "HeadcountCoreTests",
            dependencies: ["HeadcountCore", .product(name: "Mustache", package: "swift-mustache")]
        ),
        .testTarget(
            name: "HeadcountEndToEndTests",
            dependencies: ["headcount", "HeadcountCore"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
