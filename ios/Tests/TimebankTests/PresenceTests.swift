// Proof of presence through the Swift wrapper against a real relay: the volunteer checks in
// and out with the links the elder's tag gives (a software tag: `timebank-relay admin tag
// tap`), the elder's own phone co-signs a visit as text, and the relay verifies both; a
// replayed link waits for review with the reason.
import Foundation
import Timebank
import XCTest

final class PresenceTests: StationTestCase {
    private let uid = "04A1B2C3D4E5F6"

    /// The link the elder's tag gives at read counter `counter`.
    private func tap(_ counter: Int) throws -> String {
        try fixture.relay.admin(["tag", "tap", "--station", fixture.station, "--uid", uid, "--counter", "\(counter)"], field: "url")
    }

    /// The station registers the elder's tag and lets the relay approve verified visits.
    private func tagged() async throws {
        _ = try fixture.relay.admin(["tag", "register", "--station", fixture.station, "--elder", fixture.elder, "--uid", uid])
        let desk = try await fixture.enrollPhone(of: fixture.coordinator, name: "coordinator")
        try desk.store.setVerifiedVisits(rule: "auto")
        _ = try await desk.sync()
    }

    /// The visit up, then the relay's outcome down.
    private func syncTwice(_ phone: PhoneStore) async throws {
        _ = try await phone.sync()
        _ = try await phone.sync()
    }

    func testAVisitTappedAtBothEndsIsApprovedWithoutACoordinatorAndAReplayedTapWaits() async throws {
        try await tagged()
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        // Ten minutes within the last hour: a live visit entered as it happens (entered an hour
        // or more after the times it claims, it would wait for a coordinator as back-dated).
        let start = Date(timeIntervalSinceNow: -50 * 60)
        let id = try phone.store.checkInTapped(elder: fixture.elder, service: "companionship", orderId: nil, at: start, tapUrl: try tap(1))
        let done = try phone.store.checkOutTapped(visitId: id, at: start.addingTimeInterval(10 * 60), note: nil, tapUrl: try tap(2))
        XCTAssertTrue(done.tappedIn && done.tappedOut)
        try await syncTwice(phone)
        XCTAssertEqual(try phone.store.visit(visitId: id).state, .approved)

        let later = start.addingTimeInterval(15 * 60)
        let copied = try phone.store.checkInTapped(elder: fixture.elder, service: "companionship", orderId: nil, at: later, tapUrl: try tap(1))
        _ = try phone.store.checkOutTapped(visitId: copied, at: later.addingTimeInterval(10 * 60), note: nil, tapUrl: try tap(3))
        try await syncTwice(phone)
        let held = try phone.store.visit(visitId: copied).stateLabel
        XCTAssertTrue(held.contains("repeats an earlier tap"), held)

        let before = try phone.store.visits().count
        await assertThrowsTimebankError(
            try phone.store.checkInTapped(elder: fixture.elder, service: "companionship", orderId: nil, at: nil, tapUrl: "https://example.invalid/")
        ) {
            if case .InvalidInput = $0 { return true }
            return false
        }
        XCTAssertEqual(try phone.store.visits().count, before, "nothing was stored")
    }

    func testTheEldersPhoneCosignsAVisitOfflineAndTheRelayVerifiesIt() async throws {
        try await tagged()
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let elder = try await fixture.enrollPhone(of: fixture.elder, name: "elder")
        let start = Date(timeIntervalSinceNow: -50 * 60)
        let id = try phone.store.checkIn(elder: fixture.elder, service: "companionship", orderId: nil, at: start)
        _ = try phone.store.checkOut(visitId: id, at: start.addingTimeInterval(10 * 60), note: nil)
        let summary = try phone.store.visitSummary(visitId: id)
        let signature = try elder.store.cosignVisit(summary: summary)
        XCTAssertTrue(signature.hasPrefix("TBS1|"), signature)
        XCTAssertEqual(try phone.store.attachCosignature(visitId: id, signature: signature).cosignedBy, fixture.elder)
        try await syncTwice(phone)
        XCTAssertEqual(try phone.store.visit(visitId: id).state, .approved)
    }
}
