// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "swiftps",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swiftps", targets: ["swiftps"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // One system-library target per C library; nothing else links them directly.
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        // protoc-c output, committed; regenerate with Scripts/generate-protos.sh.
        .target(name: "SwiftPSProto", dependencies: ["CProtobufC"], path: "Sources/SwiftPSProto"),

        // Numeric kernels in C where Swift cannot vectorise (see the header).
        .target(name: "CKernels"),

        .target(name: "SwiftPSCore", dependencies: ["CKernels"], swiftSettings: strict),
        .target(name: "SwiftPSWire", dependencies: ["SwiftPSCore", "SwiftPSProto", "CProtobufC"], swiftSettings: strict),
        .target(name: "SwiftPSTransport", dependencies: ["SwiftPSCore", "SwiftPSWire", "CZeroMQ"], swiftSettings: strict),
        .target(name: "SwiftPSModel", dependencies: ["SwiftPSCore", "COpenBLAS"], swiftSettings: strict),
        .target(name: "SwiftPSServer", dependencies: ["SwiftPSCore", "SwiftPSWire", "SwiftPSTransport", "SwiftPSCoordinator"], swiftSettings: strict),
        .target(name: "SwiftPSCoordinator", dependencies: ["SwiftPSCore", "SwiftPSWire", "SwiftPSTransport"], swiftSettings: strict),
        .target(name: "SwiftPSWorker",
                dependencies: ["SwiftPSCore", "SwiftPSWire", "SwiftPSTransport", "SwiftPSCoordinator", "SwiftPSServer", "SwiftPSModel"], swiftSettings: strict),
        .target(name: "SwiftPSBench",
                dependencies: ["SwiftPSCore", "SwiftPSWire", "SwiftPSTransport", "SwiftPSServer", "SwiftPSModel", "SwiftPSWorker",
                               "CSodium"],
                swiftSettings: strict),
        .target(name: "SwiftPSPlot", swiftSettings: strict),
        .executableTarget(
            name: "swiftps",
            dependencies: [
                "SwiftPSCore", "SwiftPSTransport", "SwiftPSServer", "SwiftPSCoordinator", "SwiftPSWorker", "SwiftPSBench",
                "SwiftPSPlot", "SwiftPSModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        .testTarget(name: "SwiftPSCoreTests", dependencies: ["SwiftPSCore", "CKernels"], swiftSettings: strict),
        .testTarget(name: "SwiftPSWireTests", dependencies: ["SwiftPSCore", "SwiftPSWire"], swiftSettings: strict),
        .testTarget(name: "SwiftPSPlotTests", dependencies: ["SwiftPSPlot"], swiftSettings: strict),
        .testTarget(name: "SwiftPSModelTests", dependencies: ["SwiftPSCore", "SwiftPSModel"], swiftSettings: strict),
        .testTarget(name: "SwiftPSServerTests",
                    dependencies: ["SwiftPSCore", "SwiftPSWire", "SwiftPSTransport", "SwiftPSServer", "SwiftPSCoordinator"],
                    swiftSettings: strict),
        .testTarget(name: "IntegrationTests",
                    dependencies: ["swiftps", "SwiftPSCore", "SwiftPSWire", "SwiftPSTransport", "SwiftPSServer", "SwiftPSModel"],
                    swiftSettings: strict),
    ]
)
