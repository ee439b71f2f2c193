// swift-tools-version:5.9
// The timebank Swift package: the generated uniffi bindings (TimebankMobile, over the C module
// TimebankMobileFFI) and the Swift-friendly wrapper `Timebank` (async/await, AsyncSequence).
//
// Where the C module comes from (docs/adr/0014-swift-package-layout.md):
// - on a Mac, build/TimebankMobileFFI.xcframework made by ./build-xcframework.sh (static
//   library, header and module map for iOS devices and simulators);
// - elsewhere (Linux CI), a system-library module map written by ./prepare-bindings.sh that
//   names the generated header by absolute path and links libtimebank_mobile.
// Either way ./prepare-bindings.sh first copies the generated TimebankMobile.swift into
// Sources/TimebankMobile (git-ignored; generated bindings are built, not committed).
import Foundation
import PackageDescription

let xcframework = "build/TimebankMobileFFI.xcframework"
let xcframeworkBuilt = FileManager.default.fileExists(atPath: Context.packageDirectory + "/" + xcframework)

let ffi: Target = xcframeworkBuilt
    ? .binaryTarget(name: "TimebankMobileFFI", path: xcframework)
    : .systemLibrary(name: "TimebankMobileFFI", path: "Sources/TimebankMobileFFI")

let package = Package(
    name: "Timebank",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Timebank", targets: ["Timebank"]),
    ],
    targets: [
        ffi,
        .target(name: "TimebankMobile", dependencies: ["TimebankMobileFFI"]),
        .target(name: "Timebank", dependencies: ["TimebankMobile"]),
        .testTarget(name: "TimebankTests", dependencies: ["Timebank"]),
    ]
)
