// Errors from the engine arrive in Swift as the right `TimebankError` case with words a
// person can act on, and leave the store as it was.
import Foundation
import Timebank
import XCTest

final class ErrorTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("timebank-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: root)
    }

    private func localPhone() throws -> PhoneStore {
        PhoneStore(store: try TimebankStore.create(dir: root.appendingPathComponent("phone").path, member: "m-1001", station: "s-caoyang", role: .volunteer))
    }

    func testAnInvalidElderIdIsInvalidInputThatSaysWhatAnIdLooksLikeAndChangesNothing() async throws {
        let phone = try localPhone()
        let unsynced = try phone.store.status().unsyncedChanges
        let error = await assertThrowsTimebankError(
            try phone.store.checkIn(elder: "Wang Fang", service: "companionship", orderId: nil, at: nil)
        ) {
            if case .InvalidInput = $0 { return true }
            return false
        }
        let reason = try XCTUnwrap(error?.reason)
        XCTAssertTrue(reason.contains("\"Wang Fang\" is not a valid"), reason)
        XCTAssertTrue(reason.contains("lowercase letters"), reason)
        XCTAssertEqual(error?.isTemporary, false)
        XCTAssertEqual(try phone.store.visits(), [])
        XCTAssertEqual(try phone.store.status().unsyncedChanges, unsynced)
    }

    func testCheckingOutAVisitThePhoneDoesNotHoldIsNotFound() async throws {
        let phone = try localPhone()
        await assertThrowsTimebankError(try phone.store.checkOut(visitId: "v-nowhere", at: nil, note: nil)) {
            if case .NotFound = $0 { return true }
            return false
        }
    }

    func testOpeningAnEmptyDirectoryIsNoStoreSayingToEnroll() async throws {
        let error = await assertThrowsTimebankError(try await PhoneStore.open(directory: root.appendingPathComponent("empty"))) {
            if case .NoStore = $0 { return true }
            return false
        }
        XCTAssertFalse(error?.reason.isEmpty ?? true)
        XCTAssertFalse(error?.reason.contains("TimebankError") ?? true, "the reason is Swift reflection, not words")
    }

    func testSyncingAStoreNoRelayKnowsIsNotAllowedAndSaysToEnroll() async throws {
        let phone = try localPhone()
        let error = await assertThrowsTimebankError(try await phone.sync()) {
            if case .NotAllowed = $0 { return true }
            return false
        }
        XCTAssertTrue(error?.reason.contains("enroll") ?? false, error?.reason ?? "")
    }
}
