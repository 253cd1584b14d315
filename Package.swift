// swift-tools-version: 6.0
import PackageDescription

/// One settings array for every Swift target (Swift 6 language mode, complete checking).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "EclipsePipeline",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ingest", targets: ["ingest"]),
        .executable(name: "tag", targets: ["tag"]),
        .executable(name: "crop", targets: ["crop"]),
        .executable(name: "embed", targets: ["embed"]),
        .executable(name: "preprocess", targets: ["preprocess"]),
        .executable(name: "tokenize", targets: ["tokenize"]),
        .executable(name: "encode", targets: ["encode"]),
        .executable(name: "pos", targets: ["pos"]),
        .executable(name: "merge", targets: ["merge"]),
        .executable(name: "catalog", targets: ["catalog"]),
        .executable(name: "make-sample", targets: ["make-sample"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // C libraries (module maps over Debian's -dev packages).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"]), .brew(["jpeg-turbo"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16",
                       providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        // OpenSSL's SHA-256 (SHA-NI / AVX2 code paths) for sample ids and file digests.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // libjpeg reports errors with longjmp; Swift cannot call setjmp, so a small C shim does.
        .target(name: "CImageCodecs", dependencies: ["CJPEG", "CPNG"]),

        // Core libraries: no command-line concerns.
        .target(name: "Tensor", dependencies: ["COpenBLAS"], swiftSettings: swiftSettings),
        .target(name: "Imaging", dependencies: ["CImageCodecs"], swiftSettings: swiftSettings),
        .target(name: "Catalog", dependencies: ["CSQLite"], swiftSettings: swiftSettings),
        .target(name: "Models", dependencies: ["Tensor"], swiftSettings: swiftSettings),
        .target(name: "Text", dependencies: ["CZlib"], exclude: ["Resources/NOTICE.md"],
                resources: [.copy("Resources/clip-bpe-merges.txt"), .copy("Resources/html-entities.tsv"),
                            .copy("Resources/pos-tagger.tsv")],
                swiftSettings: swiftSettings),
        .target(name: "Pipeline",
                dependencies: ["Catalog", "Imaging", "Text", "Models", "Tensor", "CCrypto", .product(name: "Yams", package: "Yams")],
                swiftSettings: swiftSettings),
        .target(name: "SampleScenes", dependencies: ["Imaging", "Pipeline"], swiftSettings: swiftSettings),
        // The options and error mapping shared by the stage executables.
        .target(name: "StageCommand",
                dependencies: ["Pipeline", "Catalog", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: swiftSettings),

        // Thin stage executables.
        .executableTarget(name: "ingest",
                          dependencies: ["Pipeline", "StageCommand",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/ingest", swiftSettings: swiftSettings),
        .executableTarget(name: "tag",
                          dependencies: ["Pipeline", "Catalog", "StageCommand",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/tag", swiftSettings: swiftSettings),
        .executableTarget(name: "embed",
                          dependencies: ["Pipeline", "Catalog", "StageCommand",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/embed", swiftSettings: swiftSettings),
        .executableTarget(name: "crop",
                          dependencies: ["Pipeline", "Catalog", "StageCommand",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/crop", swiftSettings: swiftSettings),
        .executableTarget(name: "preprocess",
                          dependencies: ["Imaging", "Pipeline", "Tensor",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/preprocess", swiftSettings: swiftSettings),
        .executableTarget(name: "encode",
                          dependencies: ["Models", "Imaging", "Pipeline", "Tensor", "Text",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/encode", swiftSettings: swiftSettings),
        .executableTarget(name: "tokenize",
                          dependencies: ["Text", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/tokenize", swiftSettings: swiftSettings),
        .executableTarget(name: "pos",
                          dependencies: ["Text", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/pos", swiftSettings: swiftSettings),
        .executableTarget(name: "merge",
                          dependencies: ["Pipeline", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/merge", swiftSettings: swiftSettings),
        .executableTarget(name: "catalog",
                          dependencies: ["Pipeline", "Catalog", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/catalog", swiftSettings: swiftSettings),
        .executableTarget(name: "make-sample",
                          dependencies: ["SampleScenes", "Models", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/Executables/make-sample", swiftSettings: swiftSettings),

        // Shared test code.
        .target(name: "PipelineTestSupport", dependencies: ["Pipeline", "Catalog"], swiftSettings: swiftSettings),

        .testTarget(name: "TensorTests", dependencies: ["Tensor"], swiftSettings: swiftSettings),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Tensor", "PipelineTestSupport"], exclude: ["Fixtures"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Pipeline", "Tensor", "PipelineTestSupport"],
                    exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "PipelineTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "PipelineTests",
                    dependencies: ["Pipeline", "Catalog", "Imaging", "SampleScenes", "Tensor", "Text", "Models", "PipelineTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "TextTests", dependencies: ["Text"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "StageCommandTests", dependencies: ["StageCommand", "Pipeline", "PipelineTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SampleScenesTests",
                    dependencies: ["SampleScenes", "Imaging", "PipelineTestSupport"], swiftSettings: swiftSettings),
    ]
)
