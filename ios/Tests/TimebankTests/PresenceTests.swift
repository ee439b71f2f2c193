// Proof of presence through the Swift wrapper against a real relay: the volunteer checks in
// and out with the links the elder's tag gives (a software tag: `timebank-relay admin tag
// tap`), the elder's own phone co-signs a visit as text, and the relay verifies both; a
// replayed link, another elder's tag, an altered link and a revoked tag each wait for review
// with the reason.
import Foundation
import Timebank
import XCTest

final class PresenceTests: StationTestCase {
    private let uid = "04A1B2C3D4E5F6"

    private let neighboursUid = "04A1B2C3D4E5F7"

    /// The link the tag `tagUid` (the elder's unless said) gives at read counter `counter`.
    private func tap(_ counter: Int, of tagUid: String? = nil) throws -> String {
        try fixture.relay.admin(["tag", "tap", "--station", fixture.station, "--uid", tagUid ?? uid, "--counter", "\(counter)"], field: "url")
    }

    /// `link` with its last hex digit changed by hand.
    private func altered(_ link: String) -> String {
        String(link.dropLast()) + ("Ff".contains(link.last ?? " ") ? "E" : "F")
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

    func testAnotherEldersTagAnAlteredLinkAndARevokedTagWaitWithTheReason() async throws {
        try await tagged()
        let neighbour = try fixture.relay.admin(["member", "create", "--station", fixture.station, "--role", "elder", "--name", "Zhao Lan", "--birth-year", "1938"], field: "id")
        _ = try fixture.relay.admin(["tag", "register", "--station", fixture.station, "--elder", neighbour, "--uid", neighboursUid])
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let start = Date(timeIntervalSinceNow: -50 * 60)
        func tappedVisit(minutesIn: Double, _ linkIn: String, _ linkOut: String) throws -> String {
            let began = start.addingTimeInterval(minutesIn * 60)
            let id = try phone.store.checkInTapped(elder: fixture.elder, service: "companionship", orderId: nil, at: began, tapUrl: linkIn)
            _ = try phone.store.checkOutTapped(visitId: id, at: began.addingTimeInterval(5 * 60), note: nil, tapUrl: linkOut)
            return id
        }

        // The neighbour's card, genuine, tapped for Wang Fang's visit.
        let foreign = try tappedVisit(minutesIn: 0, try tap(1, of: neighboursUid), try tap(2, of: neighboursUid))
        // Wang Fang's card, its first link changed by hand.
        let tampered = try tappedVisit(minutesIn: 10, altered(try tap(1)), try tap(2))
        // Wang Fang's card, reported lost and revoked before the visit reached the relay.
        let lost = try tappedVisit(minutesIn: 20, try tap(3), try tap(4))
        _ = try fixture.relay.admin(["tag", "revoke", "--station", fixture.station, "--uid", uid, "--why", "lost"])
        try await syncTwice(phone)

        let reasons = [
            foreign: "the tag tapped is another elder's",
            tampered: "the tag's link was altered",
            lost: "the tag tapped was revoked",
        ]
        for (id, reason) in reasons {
            let label = try phone.store.visit(visitId: id).stateLabel
            XCTAssertTrue(label.hasPrefix("under review") && label.contains(reason), label)
        }
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
