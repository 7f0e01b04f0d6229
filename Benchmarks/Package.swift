// swift-tools-version:6.1
// Benchmarks of Headcount's hot loops, kept out of the main build:
//   cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "HeadcountBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "headcount", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotLoops",
            dependencies: [
                .product(name: "HeadcountCore", package: "headcount"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HotLoops",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
