// swift-tools-version: 6.1
import PackageDescription

// Layers (see STYLE.md): CLMDB/CZlib/CLibCrypto/CModest/CBrotli (system C libraries) → LMDB (a Swift face on
// LMDB, knows nothing about documents), TextPacking (pure: delta, deflate and gzip), HTMLExtraction (pure:
// HTML parsing, page decoding, main-text extraction) and WARC (pure: WARC files) → Palimpsest (the ledger:
// events, storage, queries, JSON Lines import/export) → PalimpsestImporters (MediaWiki XML, git) and
// PalimpsestCapture (the web: fetching, recording captures, import warc) → palimpsest (a thin
// command-line front end).
let package = Package(
    name: "Palimpsest",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Palimpsest", targets: ["Palimpsest"]),
        // Capture from the web (fetching, extraction, WARC), for tools that embed it.
        .library(name: "PalimpsestCapture", targets: ["PalimpsestCapture"]),
        .executable(name: "palimpsest", targets: ["palimpsest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The web server of `palimpsest serve`; its optional traits (swift-configuration, full
        // Foundation) are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
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
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .systemLibrary(
            name: "CModest",
            providers: [.apt(["libmodest-dev"])]
        ),
        .systemLibrary(
            name: "CBrotli",
            pkgConfig: "libbrotlidec",
            providers: [.apt(["libbrotli-dev"]), .brew(["brotli"])]
        ),
        // PostgreSQL's own client library (PG* variables, .pgpass, service files and sslmode exactly as
        // psql), loaded with dlopen when a shared ledger is first used: linked, it cost every command
        // ~4 ms of start-up (Debian's libpq5 at run time; no headers needed to build).
        .target(name: "CLibPQ", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        // Pure: HTML5 parsing (MyHTML), page decoding, CSS selectors, main-text extraction.
        .target(name: "HTMLExtraction", dependencies: ["CModest"]),
        // WARC/1.1 files (ISO 28500): records written gzip-per-record, read back streaming.
        .target(name: "WARC", dependencies: ["TextPacking", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "TextPacking", dependencies: ["CZlib"]),
        // Pure text algorithms: tokens and token diffs (no storage; byte comparisons from TextPacking).
        .target(name: "PalimpsestText", dependencies: ["TextPacking"]),
        .target(
            name: "Palimpsest",
            dependencies: [
                "LMDB", "TextPacking", "PalimpsestText", "CLibCrypto", "WARC",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Capture from the web: fetching (AsyncHTTPClient), robots.txt, WARC evidence, watch lists,
        // `import warc`; on top of the ledger and the extraction.
        .target(
            name: "PalimpsestCapture",
            dependencies: [
                "Palimpsest", "HTMLExtraction", "WARC", "TextPacking", "CBrotli",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // What people and programs are shown: the JSON answers of the reading commands, the HTML pages
        // (reports, the server's pages), Atom feeds, signed notes — one renderer for the CLI, the
        // reports and the server alike.
        .target(name: "PalimpsestPresentation", dependencies: ["Palimpsest", "PalimpsestText"]),
        // `palimpsest serve`: the pages, the JSON API, feeds and tlog tiles over HTTP (Hummingbird).
        .target(
            name: "PalimpsestServer",
            dependencies: [
                "Palimpsest", "PalimpsestPresentation", "PalimpsestText",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The OpenAPI document of /api/v1, made from Schemas/ by tools/make-openapi.py.
            resources: [.copy("Resources/openapi.json")]
        ),
        // The shared log in PostgreSQL (DESIGN.md §10): writers on many machines append through it,
        // local LMDB ledgers replicate it.
        .target(name: "PalimpsestPostgres", dependencies: ["Palimpsest", "CLibPQ", "TextPacking"]),
        // Readers of other formats' histories (MediaWiki XML, git), on top of the ledger's bulk import.
        .target(name: "PalimpsestImporters", dependencies: ["Palimpsest"]),
        .executableTarget(
            name: "palimpsest",
            dependencies: [
                "Palimpsest", "PalimpsestImporters", "PalimpsestText", "PalimpsestCapture", "HTMLExtraction", "WARC",
                "PalimpsestPresentation", "PalimpsestServer", "PalimpsestPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // The communiqué texts `palimpsest demo` records (cut from the story; see README, Data).
            resources: [.copy("Resources/communique")],
            // The Swift runtime and Foundation linked in, so that a command starts without binding
            // thousands of symbols of ~20 shared libraries (`--version`: 14.5 → 8.6 ms here). Only
            // this executable: packages that depend on the library products link as usual (checked
            // with a package depending on `Palimpsest`), and no test target links this one (the
            // tests run the built binary; tools/test builds it first).
            linkerSettings: [
                .unsafeFlags(["-static-stdlib"], .when(platforms: [.linux])),
                // Without it every public symbol of every module linked in (41,238: NIO, Hummingbird,
                // the library…) is exported, and at each start the runtime's backtracer setup calls
                // dladdr, which walks them all (12% of `--version`). Nothing looks symbols up in the
                // executable at run time; the backtracer reads the file's own symbol table.
                .unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux])),
                // A position-dependent executable: as a PIE, the loader patched 132,235 absolute
                // pointers (Swift metadata, witness tables) at every start, dirtying their pages
                // (`--version` 5.2 → 4.1 ms, `show` 12.2 → 9.9 ms, hyperfine, same objects). The
                // cost: the executable's own image is not placed at a random address (its shared
                // libraries, heap and stacks still are).
                .unsafeFlags(["-Xlinker", "-no-pie"], .when(platforms: [.linux])),
                // What the static libFoundation.a needs and does not name.
                .linkedLibrary("FoundationInternationalization", .when(platforms: [.linux])),
                .linkedLibrary("FoundationEssentials", .when(platforms: [.linux])),
                .linkedLibrary("CoreFoundation", .when(platforms: [.linux])),
                .linkedLibrary("_FoundationCollections", .when(platforms: [.linux])),
                .linkedLibrary("_FoundationCShims", .when(platforms: [.linux])),
                .linkedLibrary("_FoundationICU", .when(platforms: [.linux])),
                .linkedLibrary("swiftSynchronization", .when(platforms: [.linux])),
                .linkedLibrary("stdc++", .when(platforms: [.linux])),
            ]
        ),
        .executableTarget(name: "PalimpsestBench", dependencies: ["Palimpsest", "LMDB", "PalimpsestText", "HTMLExtraction"]),
        // How a tool embeds the library (README, "Embedding the library"); CLITests runs it.
        .executableTarget(name: "PalimpsestExample", dependencies: ["Palimpsest"], path: "Examples/Embedding"),
        // Fixtures shared by the test targets: temporary ledgers, the corpora, running the CLI.
        .target(name: "PalimpsestTestSupport", dependencies: ["Palimpsest", "PalimpsestText", "LMDB"], path: "Tests/PalimpsestTestSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"]),
        .testTarget(name: "TextPackingTests", dependencies: ["TextPacking", "PalimpsestTestSupport"]),
        .testTarget(name: "PalimpsestTextTests", dependencies: ["PalimpsestText", "PalimpsestTestSupport"]),
        .testTarget(name: "PalimpsestTests", dependencies: ["Palimpsest", "PalimpsestPresentation", "PalimpsestTestSupport", "LMDB", "PalimpsestText", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ImporterTests", dependencies: ["PalimpsestImporters", "PalimpsestTestSupport"]),
        // A writer of a shared ledger for SharedLedgerTests and tools/bench-shared.
        .executableTarget(name: "PalimpsestSharedWriter", dependencies: ["Palimpsest", "PalimpsestPostgres", .product(name: "Crypto", package: "swift-crypto")], path: "Tests/PalimpsestSharedWriter"),
        .executableTarget(name: "PalimpsestStressWriter", dependencies: ["Palimpsest", "LMDB"], path: "Tests/PalimpsestStressWriter"),
        // The CLI tests run the `palimpsest` executable that tools/test builds first (linking it into
        // a test bundle would carry its static standard library into the test link).
        .testTarget(name: "CLITests", dependencies: ["Palimpsest", "PalimpsestTestSupport", "LMDB", "PalimpsestStressWriter", "PalimpsestExample"]),
        // Capture through the CLI against a real HTTP server on 127.0.0.1 (Tests/Fixtures/capture-server.py).
        .testTarget(name: "CaptureTests", dependencies: ["PalimpsestTestSupport"]),
        .testTarget(name: "HTMLExtractionTests", dependencies: ["HTMLExtraction", "WARC", "TextPacking", "PalimpsestCapture", "PalimpsestTestSupport"]),
        // `palimpsest serve` through curl, headless Chromium and Go's sumdb/note and sumdb/tlog.
        .testTarget(name: "ServeTests", dependencies: ["Palimpsest", "PalimpsestTestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        // The shared ledger against a real PostgreSQL cluster the tests start (initdb, loopback port).
        .testTarget(name: "SharedLedgerTests", dependencies: ["Palimpsest", "PalimpsestTestSupport", "PalimpsestSharedWriter"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Palimpsest", "PalimpsestTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
