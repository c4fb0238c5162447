// swift-tools-version: 6.0
import PackageDescription

// Layers (see STYLE.md): CLMDB/CZlib (system C libraries) → LMDB (a Swift face on LMDB, knows nothing
// about documents) and TextPacking (pure: delta + compression of texts) → Palimpsest (the ledger:
// events, storage, queries, JSON Lines import/export) → PalimpsestImporters (MediaWiki XML, git) →
// palimpsest (a thin command-line front end).
let package = Package(
    name: "Palimpsest",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Palimpsest", targets: ["Palimpsest"]),
        .executable(name: "palimpsest", targets: ["palimpsest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"]), .brew(["lmdb"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "TextPacking", dependencies: ["CZlib"]),
        // Pure text algorithms: tokens and token diffs (no storage).
        .target(name: "PalimpsestText"),
        .target(
            name: "Palimpsest",
            dependencies: [
                "LMDB", "TextPacking", "PalimpsestText",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Readers of other formats' histories (MediaWiki XML, git), on top of the ledger's bulk import.
        .target(name: "PalimpsestImporters", dependencies: ["Palimpsest"]),
        .executableTarget(
            name: "palimpsest",
            dependencies: [
                "Palimpsest", "PalimpsestImporters", "PalimpsestText",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // The communiqué texts `palimpsest demo` records (cut from the story; see README, Data).
            resources: [.copy("Resources/communique")]
        ),
        .executableTarget(name: "PalimpsestBench", dependencies: ["Palimpsest", "LMDB", "PalimpsestText"]),
        // How a tool embeds the library (README, "Embedding the library"); CLITests runs it.
        .executableTarget(name: "PalimpsestExample", dependencies: ["Palimpsest"], path: "Examples/Embedding"),
        // Fixtures shared by the test targets: temporary ledgers, the corpora, running the CLI.
        .target(name: "PalimpsestTestSupport", dependencies: ["Palimpsest", "PalimpsestText", "LMDB"], path: "Tests/PalimpsestTestSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"]),
        .testTarget(name: "TextPackingTests", dependencies: ["TextPacking", "PalimpsestTestSupport"]),
        .testTarget(name: "PalimpsestTextTests", dependencies: ["PalimpsestText", "PalimpsestTestSupport"]),
        .testTarget(name: "PalimpsestTests", dependencies: ["Palimpsest", "PalimpsestTestSupport", "LMDB", "PalimpsestText", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ImporterTests", dependencies: ["PalimpsestImporters", "PalimpsestTestSupport"]),
        .executableTarget(name: "PalimpsestStressWriter", dependencies: ["Palimpsest", "LMDB"], path: "Tests/PalimpsestStressWriter"),
        .testTarget(name: "CLITests", dependencies: ["Palimpsest", "PalimpsestTestSupport", "LMDB", "palimpsest", "PalimpsestStressWriter", "PalimpsestExample"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Palimpsest", "PalimpsestTestSupport", "palimpsest"]),
    ],
    swiftLanguageModes: [.v6]
)
